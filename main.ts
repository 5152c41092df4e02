import { basename } from "node:path";
import process from "node:process";
import { config as zodConfig } from "zod";
import { FLAG_HELP, parseCommandLine } from "./src/config/config.ts";
import { FlagError } from "./src/config/flags.ts";
import { isRunnerError } from "./src/errors.ts";
import { jsonLogger } from "./src/log.ts";
import { batchedSink } from "./src/server/log-sink.ts";
import { VERSION } from "./src/version.ts";

const COMMANDS = ["serve", "resolve", "explain", "podspec", "version"] as const;

const USAGE = `usage: function-runner [serve] [flags]
       function-runner resolve IMAGE [--json] [--platform os/arch[/variant]] [--insecure-registries h,..] [--docker-config PATH]
       function-runner explain IMAGE [--json] [same flags as serve]
       function-runner podspec IMAGE [--json] [same flags as serve]   (no writes)
       function-runner version
       function-runner wrapper-server [--port 9446] [--max-request-body-size N] -- CMD [ARGS...]
       function-runner grpc-health-probe -addr HOST:PORT [-service NAME] [-connect-timeout 1s] [-rpc-timeout 1s]

flags:
${FLAG_HELP.map(([f, d]) => `  ${f.padEnd(Math.max(34, f.length + 2))}${d}`).join("\n")}`;

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
  const command = first && (COMMANDS as readonly string[]).includes(first) ? first : "serve";
  const args = command === first ? argv.slice(1) : argv;
  // Zod compiles object parsers with `new Function` on first use: worth it for
  // a server parsing the same shapes all day, a waste (~40 ms) for one-shot commands.
  if (command !== "serve") zodConfig({ jitless: true });
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
  // The service logs every request: batch its lines into one write per event-loop turn.
  const logger = jsonLogger(config["log-level"], command === "serve" ? batchedSink().write : undefined);
  const oneImage = (): string | undefined => {
    const image = positionals[0];
    if (image && positionals.length === 1) return image;
    process.stderr.write(`function-runner: ${command} takes exactly one IMAGE\n\n${USAGE}\n`);
    return undefined;
  };
  if (command === "resolve") {
    // Only the image half of the runner: no metrics, no function runtimes to load.
    const image = oneImage();
    if (image === undefined) return 2;
    const [{ createImageRuntime }, { resolveCommand }] = await Promise.all([import("./src/runner-core.ts"), import("./src/cli/resolve.ts")]);
    mark("runner module");
    const images = createImageRuntime(config, logger);
    return closing(images.close, async () => {
      const text = await resolveCommand(images, image, config.json, parsed.given.has("platform") ? config.platform : undefined);
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
  return closing(runner.close, async () => {
    if (command === "explain" || command === "podspec") {
      const image = oneImage();
      if (image === undefined) return 2;
      const run = command === "explain" ? (await import("./src/cli/explain.ts")).explainCommand : (await import("./src/cli/podspec.ts")).podspecCommand;
      process.stdout.write(`${await run(runner, image, config.json)}\n`);
      return 0;
    }
    if (positionals.length > 0) {
      process.stderr.write(`function-runner: unexpected argument ${positionals[0]}\n`);
      return 2;
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

/** Runs a command, reports its error on stderr (exit 1), then closes what it used. */
async function closing(close: () => Promise<void>, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (isRunnerError(e)) {
      process.stderr.write(`error: ${e.code}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`error: INTERNAL: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
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
