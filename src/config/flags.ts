/**
 * Go-style flag scanning (Porch's flags are Go flags): `--name value`,
 * `--name=value`, `-name value`, `-name=value`, booleans bare or
 * `=true|false`. Typing and validation happen in the zod schema; this only
 * splits argv.
 */
export interface ScannedArgs {
  flags: Record<string, string>;
  positionals: string[];
  /** Everything after a bare `--` (the wrapper server's command). */
  rest: string[];
}

export class FlagError extends Error {
  constructor(readonly flag: string, message: string) {
    super(message);
    this.name = "FlagError";
  }
}

export interface ScanOptions {
  /** Short names to long ones (`o` → `output`). */
  aliases?: Readonly<Record<string, string>>;
  /** The message for an unknown flag (e.g. with a suggestion). */
  unknown?: (name: string) => string;
}

export function scanArgs(argv: readonly string[], known: ReadonlySet<string>, booleans: ReadonlySet<string>, opts: ScanOptions = {}): ScannedArgs {
  const flags: Record<string, string> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") return { flags, positionals, rest: argv.slice(i + 1) };
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const written = eq === -1 ? body : body.slice(0, eq);
    const name = opts.aliases?.[written] ?? written;
    if (!known.has(name)) throw new FlagError(written, opts.unknown?.(written) ?? `unknown flag --${written}`);
    if (eq !== -1) {
      flags[name] = body.slice(eq + 1);
    } else if (booleans.has(name)) {
      flags[name] = "true";
    } else {
      const value = argv[i + 1];
      if (value === undefined) throw new FlagError(name, `flag --${name} needs a value`);
      flags[name] = value;
      i++;
    }
  }
  return { flags, positionals, rest: [] };
}
