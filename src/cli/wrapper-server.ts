import process from "node:process";
import { FlagError } from "../config/flags.ts";
import { isRunnerError } from "../errors.ts";
import { jsonLogger } from "../log.ts";
import { parseWrapperArgs, WRAPPER_USAGE } from "../wrapper/flags.ts";
import { startWrapperServer } from "../wrapper/server.ts";

/**
 * `function-runner wrapper-server [flags] -- CMD ARGS...`: serves until
 * SIGTERM/SIGINT, then drains within --shutdown-timeout. Returns the exit code.
 */
export async function wrapperServerCommand(argv: readonly string[]): Promise<number> {
  let flags: ReturnType<typeof parseWrapperArgs>;
  try {
    flags = parseWrapperArgs(argv);
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`wrapper-server: ${e.message}\n\n${WRAPPER_USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (flags.help) {
    process.stdout.write(`${WRAPPER_USAGE}\n`);
    return 0;
  }
  if (flags.command.length === 0) {
    process.stderr.write(`wrapper-server: the function's command must follow --\n\n${WRAPPER_USAGE}\n`);
    return 2;
  }
  const logger = jsonLogger(flags["log-level"]);
  let server: Awaited<ReturnType<typeof startWrapperServer>>;
  try {
    server = await startWrapperServer({
      command: flags.command,
      port: flags.port,
      hostname: flags["listen-address"],
      maxMessageSize: flags["max-request-body-size"],
      logger,
    });
  } catch (e) {
    process.stderr.write(`error: ${isRunnerError(e) ? e.code : "INTERNAL"}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  logger.info("wrapper-server listening", { port: server.port, address: flags["listen-address"], command: flags.command });
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info("shutting down", { signal, graceMs: flags["shutdown-timeout"] });
  await server.stop(flags["shutdown-timeout"]);
  return 0;
}
