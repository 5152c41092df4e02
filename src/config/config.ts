import { existsSync } from "node:fs";
import type { z } from "zod";
import { FlagError, scanArgs } from "./flags.ts";
import { AUTH_SECRET_CODE_PATH, AUTH_SECRET_DOCS_PATH, ConfigSchema, FLAGS, flagsOf, RUNTIMES, type Command, type Runtime } from "./schema.ts";
import { closest } from "./suggest.ts";

export { ConfigSchema } from "./schema.ts";

/** Validated flags. `disable-runtimes` holds only runtimes we have (others are warnings). */
export type Config = Omit<z.output<typeof ConfigSchema>, "disable-runtimes"> & { "disable-runtimes": Runtime[] };

export interface ParsedCommandLine {
  config: Config;
  positionals: string[];
  rest: string[];
  /** Flags given on the command line (the rest have their defaults). */
  given: ReadonlySet<string>;
  /** Accepted but worth saying, e.g. an unknown runtime in --disable-runtimes (Porch ignores those). */
  warnings: string[];
}

export interface ParseOptions {
  /** Which command's flags are accepted (default: serve's). */
  command?: Command;
  /** Existence check for the default auth-secret mount (tests pass their own). */
  exists?: (path: string) => boolean;
}

const isRuntime = (v: string): v is Runtime => (RUNTIMES as readonly string[]).includes(v);

/**
 * Porch's code mounts the auth secret at /var/tmp/config-secret/, its docs at
 * /var/tmp/auth-secret/: when the flag is not given, the one that exists wins
 * (the code's when both or neither do).
 */
export function defaultAuthSecretPath(exists: (path: string) => boolean): string {
  return !exists(AUTH_SECRET_CODE_PATH) && exists(AUTH_SECRET_DOCS_PATH) ? AUTH_SECRET_DOCS_PATH : AUTH_SECRET_CODE_PATH;
}

/** One line: what is wrong, and the nearest flag of this command. */
export function unknownFlagMessage(name: string, command: Command): string {
  const elsewhere = FLAGS.find((f) => f.name === name);
  if (elsewhere !== undefined) return `flag --${name} is not accepted by ${command} (it is a flag of ${elsewhere.commands.join(", ")})`;
  const guess = closest(name, flagsOf(command).map((f) => f.name));
  return `unknown flag --${name}${guess === undefined ? "" : `; did you mean --${guess}?`}`;
}

/** argv (without the runtime, script and command) → validated config; FlagError names the offending flag. */
export function parseCommandLine(argv: readonly string[], opts: ParseOptions = {}): ParsedCommandLine {
  const command = opts.command ?? "serve";
  const own = flagsOf(command);
  const aliases: Record<string, string> = {};
  for (const f of own) if (f.short !== undefined) aliases[f.short] = f.name;
  const scanned = scanArgs(
    argv,
    new Set(own.map((f) => f.name)),
    new Set(own.filter((f) => f.boolean).map((f) => f.name)),
    { aliases, unknown: (name) => unknownFlagMessage(name, command) },
  );
  const parsed = ConfigSchema.safeParse(scanned.flags);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = String(issue?.path[0] ?? "?");
    throw new FlagError(flag, `invalid value for --${flag}: ${issue?.message ?? "invalid"}`);
  }
  const given = new Set(Object.keys(scanned.flags));
  const warnings: string[] = [];
  const requested = parsed.data["disable-runtimes"];
  const unknown = requested.filter((r) => !isRuntime(r));
  if (unknown.length > 0) warnings.push(`--disable-runtimes: ignoring unknown runtime ${unknown.map((u) => `"${u}"`).join(", ")} (known: ${RUNTIMES.join(", ")})`);
  const config: Config = { ...parsed.data, "disable-runtimes": requested.filter(isRuntime) };
  if (config.json) config.output = "json";
  if (!given.has("registry-auth-secret-path")) config["registry-auth-secret-path"] = defaultAuthSecretPath(opts.exists ?? existsSync);
  return { config, positionals: scanned.positionals, rest: scanned.rest, given, warnings };
}
