import { basename } from "node:path";
import process from "node:process";
import { config as zodConfig } from "zod";
import { parseCommandLine } from "./src/config/config.ts";
import { FlagError } from "./src/config/flags.ts";
import { COMMANDS, type Command } from "./src/config/schema.ts";
import { closest } from "./src/config/suggest.ts";
import { styleFor, useColour } from "./src/cli/colour.ts";
import { commandHelp, EXIT_CODES } from "./src/cli/help.ts";
import { isRunnerError, type ErrorCode } from "./src/errors.ts";
import { jsonLogger, type LogLevel } from "./src/log.ts";
import { batchedSink } from "./src/server/log-sink.ts";
import { VERSION } from "./src/version.ts";

/** Words that are commands; anything else first is serve's (Porch's Deployment passes only flags). */
const WORDS = [...COMMANDS, "version", "help", "completion"] as const;
/** Invalid input, not a failure of the run: exit 2 like a usage error. */
const INPUT_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["INVALID_REFERENCE", "INVALID_ARGUMENT"]);

/**
 * Function pods run the wrapper as `/wrapper-server-tools/wrapper-server --port … -- CMD` (Porch's
 * pod template): this binary copied or linked under that name is the wrapper server.
 */
const invokedAs = (...names: string[]): boolean => names.includes(basename(process.execPath)) || names.includes(basename(process.argv0));
const invokedAsWrapper = (): boolean => invokedAs("wrapper-server");
/** Porch's image runs `/home/nonroot/grpc-health-probe -addr localhost:9445` as the readiness probe: a link to this binary. */
const PROBE_NAMES = ["grpc-health-probe", "grpc_health_probe"];

/** Start-up milestones (ms since the process started), logged at debug: where start-up time goes. */
const marks: Array<[string, number]> = [["main", Math.round(performance.now() * 10) / 10]];
const mark = (phase: string): void => {
  marks.push([phase, Math.round(performance.now() * 10) / 10]);
};

const errStyle = () => styleFor(useColour(process.stderr, process.env));
const outStyle = () => styleFor(useColour(process.stdout, process.env));

/** One line on stderr, then exit code 2. */
function usageError(command: string, message: string): number {
  const s = errStyle();
  const topic = command === "serve" ? "--help" : `${command} --help`;
  process.stderr.write(`${s.red("function-runner")} ${command}: ${message} (see function-runner ${topic})\n`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  if (PROBE_NAMES.includes(argv[0] ?? "") || invokedAs(...PROBE_NAMES)) {
    const { healthProbeCommand } = await import("./src/probe/probe.ts");
    return healthProbeCommand(PROBE_NAMES.includes(argv[0] ?? "") ? argv.slice(1) : argv, VERSION);
  }
  if (argv[0] === "wrapper-server" || invokedAsWrapper()) {
    // Its own flags (Porch's wrapper-server set) and no runner: nothing else is needed in a function pod.
    const { wrapperServerCommand } = await import("./src/cli/wrapper-server.ts");
    return wrapperServerCommand(argv[0] === "wrapper-server" ? argv.slice(1) : argv);
  }
  const first = argv[0];
  if (first === "version") {
    process.stdout.write(`function-runner ${VERSION}\n`);
    return 0;
  }
  if (first === "help") {
    const topic = argv[1] ?? "serve";
    if (!(COMMANDS as readonly string[]).includes(topic)) return usageError("help", `no command ${topic}; commands: ${COMMANDS.join(", ")}`);
    process.stdout.write(`${commandHelp(topic as Command, outStyle())}\n\n${EXIT_CODES}\n`);
    return 0;
  }
  if (first === "completion") {
    const { completionScript, SHELLS } = await import("./src/cli/completion.ts");
    const shell = argv[1];
    if (shell === "-h" || shell === "--help") {
      process.stdout.write("usage: function-runner completion bash|zsh\n\n  bash: source <(function-runner completion bash)\n  zsh:  function-runner completion zsh > \"${fpath[1]}/_function-runner\"\n");
      return 0;
    }
    if (shell === undefined || !(SHELLS as readonly string[]).includes(shell) || argv.length > 2) return usageError("completion", `takes one shell: ${SHELLS.join(" or ")}`);
    process.stdout.write(completionScript(shell as (typeof SHELLS)[number]));
    return 0;
  }
  const isCommand = first !== undefined && (COMMANDS as readonly string[]).includes(first);
  if (first !== undefined && !isCommand && !first.startsWith("-")) {
    const guess = closest(first, WORDS);
    return usageError("serve", `unknown command ${first}${guess === undefined ? "" : `; did you mean ${guess}?`}`);
  }
  const command: Command = isCommand ? (first as Command) : "serve";
  const args = isCommand ? argv.slice(1) : argv;
  // Zod compiles object parsers with `new Function` on first use: worth it for
  // a server parsing the same shapes all day, a waste (~40 ms) for one-shot commands.
  if (command !== "serve") zodConfig({ jitless: true });
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(args, { command });
  } catch (e) {
    if (e instanceof FlagError) return usageError(command, e.message);
    throw e;
  }
  const { config, positionals, given } = parsed;
  if (config.help) {
    process.stdout.write(`${commandHelp(command, outStyle())}\n\n${EXIT_CODES}\n`);
    return 0;
  }
  if (config.version) {
    process.stdout.write(`function-runner ${VERSION}\n`);
    return 0;
  }
  if (command === "serve" && positionals.length > 0) return usageError(command, `unexpected argument ${positionals[0]}`);
  if (command !== "serve" && positionals.length !== 1) return usageError(command, "takes exactly one IMAGE");
  // One-shot commands print warnings and errors only, unless --verbose or an explicit --log-level.
  const level: LogLevel = command === "serve" || given.has("log-level") ? config["log-level"] : config.verbose ? "info" : "warn";
  // The service logs every request: batch its lines into one write per event-loop turn.
  const logger = jsonLogger(level, command === "serve" ? batchedSink().write : undefined);
  for (const w of parsed.warnings) logger.warn(w);
  const image = positionals[0] ?? "";
  if (command === "resolve") {
    // Only the image half of the runner: no metrics, no function runtimes to load.
    const [{ createImageRuntime, imageOptionsFrom }, { resolveCommand }, { openChallengeCache }] = await Promise.all([
      import("./src/runner-core.ts"),
      import("./src/cli/resolve.ts"),
      import("./src/cli/challenge-cache.ts"),
    ]);
    mark("runner module");
    const images = createImageRuntime(imageOptionsFrom(config), logger);
    return closing(command, images.close, async () => {
      // Challenges learned by earlier processes (docs/registry.md): a known registry gets no 401 first.
      const challenges = await openChallengeCache(images.client.auth, logger, { enabled: config["challenge-cache"] });
      const text = await resolveCommand(images, image, config.output, given.has("platform") ? config.platform : undefined).finally(challenges.save);
      mark("done");
      logger.debug("start-up", Object.fromEntries(marks));
      process.stdout.write(`${text}\n`);
      return 0;
    });
  }
  // Loaded per command: a one-shot command should not pay for the server's modules at start-up.
  const { createRunner } = await import("./src/runner.ts");
  mark("runner module");
  const runner = createRunner(config, logger);
  mark("runner created");
  return closing(command, runner.close, async () => {
    if (command === "explain" || command === "podspec") {
      const run = command === "explain" ? (await import("./src/cli/explain.ts")).explainCommand : (await import("./src/cli/podspec.ts")).podspecCommand;
      process.stdout.write(`${await run(runner, image, config.output)}\n`);
      return 0;
    }
    // Start-up checks (the exec runtime's config.yaml): a broken one stops here, naming the file.
    await runner.start?.();
    mark("runner started");
    const { serveCommand } = await import("./src/cli/serve.ts");
    mark("serve module");
    await serveCommand(runner, () => {
      mark("serving");
      logger.debug("start-up", Object.fromEntries(marks));
    });
    return 0;
  });
}

/**
 * Runs a command, reports its error on stderr in one line with the code, then closes what it used.
 * Exit 1, or 2 when a one-shot command's IMAGE is invalid input; serve's start-up failures
 * (e.g. a broken config file) are runtime ones.
 */
async function closing(command: Command, close: () => Promise<void>, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    const code: ErrorCode = isRunnerError(e) ? e.code : "INTERNAL";
    const message = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");
    process.stderr.write(`${errStyle().red("error:")} ${code}: ${message}\n`);
    return command !== "serve" && INPUT_ERRORS.has(code) ? 2 : 1;
  } finally {
    // Bounded: after a shutdown deadline, registry requests still open must not hold the exit.
    await Promise.race([close(), new Promise((r) => setTimeout(r, 1_000).unref())]);
  }
}

// No top-level await: it keeps `bun build --bytecode` available. The build splits dynamic imports into
// chunks (--format=esm --splitting), so a command loads only the modules it imports.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`error: INTERNAL: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
