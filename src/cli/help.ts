/**
 * Help text, derived from the flag schema (src/config/schema.ts): each
 * command lists only the flags it accepts, with the defaults the schema
 * holds. Pure: `style` adds colour when the caller decided to.
 */
import { flagsOf, type Command, type FlagInfo } from "../config/schema.ts";

export interface Style {
  bold(s: string): string;
}
export const plain: Style = { bold: (s) => s };

const SYNOPSIS: Record<Command, { usage: string; about: string }> = {
  serve: {
    usage: "function-runner [serve] [flags]",
    about: "Serves Porch's FunctionEvaluator (gRPC), the HTTP API, health and metrics.",
  },
  resolve: {
    usage: "function-runner resolve IMAGE [flags]",
    about: "Resolves an image's digest and entrypoint from its registry (what Porch's runner needs to run it).",
  },
  explain: {
    usage: "function-runner explain IMAGE [flags]",
    about: "Says which credentials, pull secret and TLS transport an image would use, and why. Contacts no registry.",
  },
  podspec: {
    usage: "function-runner podspec IMAGE [flags]",
    about: "Prints the Pod and Service that would run an image, and what would happen to its pull secret. Writes nothing.",
  },
};

/** `--name type` as Go's flag package prints it, then the help and default. */
export function flagLine(f: FlagInfo): string {
  const short = f.short === undefined ? "    " : `-${f.short}, `;
  const left = `  ${short}--${f.name}${f.boolean ? "" : ` ${f.value}`}`;
  const def = f.default === undefined || f.default === "" || (f.boolean && f.default === "false") ? "" : ` (default ${f.default})`;
  return `${left.padEnd(44)} ${f.help}${def}`;
}

export function commandHelp(command: Command, style: Style = plain): string {
  const s = SYNOPSIS[command];
  const lines = [`${style.bold("usage:")} ${s.usage}`, "", s.about, "", style.bold("flags:"), ...flagsOf(command).map(flagLine)];
  if (command === "serve") lines.unshift(...overview(style), "");
  return lines.join("\n");
}

function overview(style: Style): string[] {
  return [
    `${style.bold("commands:")}`,
    "  serve        serve Porch's FunctionEvaluator, the HTTP API and metrics (the default)",
    "  resolve      an image's digest and entrypoint",
    "  explain      which credentials and transport an image would use, and why",
    "  podspec      the Pod and Service that would run an image (no writes)",
    "  completion   a shell completion script: completion bash|zsh",
    "  version      print the version",
    "  help         help of a command: help COMMAND, or COMMAND --help",
    "  wrapper-server  the function pods' wrapper server (wrapper-server --help)",
    "  grpc-health-probe -addr HOST:PORT  the readiness probe of Porch's Deployment (grpc-health-probe -help)",
  ];
}

export const EXIT_CODES = "exit codes: 0 ok, 1 runtime failure, 2 usage or invalid input";
