import process from "node:process";
import type { Runner } from "../runner.ts";
import { startService } from "../server/service.ts";
import { routeThirdPartyLogs } from "../server/third-party-log.ts";

/**
 * Serves until SIGTERM/SIGINT, then stops accepting and lets in-flight calls
 * finish within --shutdown-timeout. Returns normally so the process exits 0;
 * the caller closes the runner.
 */
export async function serveCommand(runner: Runner, onServing?: () => void): Promise<void> {
  // Before anything listens: a library's complaint about a port is a JSON line too.
  routeThirdPartyLogs(runner.logger);
  const service = await startService(runner);
  onServing?.();
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const graceMs = runner.options.server.shutdownTimeoutMs;
  runner.logger.info("shutting down", { signal, graceMs });
  await service.stop(graceMs);
}
