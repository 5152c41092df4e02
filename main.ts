import process from "node:process";
import { FLAG_HELP, parseCommandLine } from "./src/config/config.ts";
import { FlagError } from "./src/config/flags.ts";
import { isRunnerError } from "./src/errors.ts";
import { jsonLogger } from "./src/log.ts";

const VERSION = "0.1.0";
const COMMANDS = ["serve", "resolve", "explain", "version"] as const;

const USAGE = `usage: function-runner [serve] [flags]
       function-runner resolve IMAGE [--json] [--platform os/arch[/variant]] [--insecure-registries h,..] [--docker-config PATH]
       function-runner explain IMAGE [--json] [same flags as serve]
       function-runner version

flags:
${FLAG_HELP.map(([f, d]) => `  ${f.padEnd(34)}${d}`).join("\n")}`;

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  const command = first && (COMMANDS as readonly string[]).includes(first) ? first : "serve";
  const args = command === first ? argv.slice(1) : argv;
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(args);
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`function-runner: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  const { config, positionals } = parsed;
  if (config.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === "version") {
    process.stdout.write(`function-runner ${VERSION}\n`);
    return 0;
  }
  const logger = jsonLogger(config["log-level"]);
  // Loaded per command: a one-shot `resolve` should not pay for the server's modules at start-up.
  const { createRunner } = await import("./src/runner.ts");
  const runner = createRunner(config, logger);
  try {
    if (command === "resolve" || command === "explain") {
      const image = positionals[0];
      if (!image || positionals.length > 1) {
        process.stderr.write(`function-runner: ${command} takes exactly one IMAGE\n\n${USAGE}\n`);
        return 2;
      }
      const run = command === "resolve" ? (await import("./src/cli/resolve.ts")).resolveCommand : (await import("./src/cli/explain.ts")).explainCommand;
      process.stdout.write(`${await run(runner, image, config.json)}\n`);
      return 0;
    }
    if (positionals.length > 0) {
      process.stderr.write(`function-runner: unexpected argument ${positionals[0]}\n`);
      return 2;
    }
    const { serveCommand } = await import("./src/cli/serve.ts");
    await serveCommand(runner);
    return 0;
  } catch (e) {
    if (isRunnerError(e)) {
      process.stderr.write(`error: ${e.code}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`error: INTERNAL: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    await runner.close();
  }
}

// No top-level await: it keeps `bun build --bytecode` available.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`error: INTERNAL: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
