import type { Runner } from "../runner.ts";
import { httpApp } from "../server/http.ts";
import { listen } from "../server/listen.ts";

/** Serves until SIGTERM/SIGINT, then stops accepting and lets in-flight requests finish. */
export async function serveCommand(runner: Runner): Promise<void> {
  const app = httpApp(runner);
  const http = listen(app.fetch, { port: runner.config["http-port"], maxRequestBodySize: runner.config["max-request-body-size"] });
  runner.logger.info("function-runner listening", { httpPort: http.port });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      runner.logger.info("shutting down", { signal });
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  await Promise.race([http.stop(), new Promise((r) => setTimeout(r, 10_000))]);
  await runner.close();
}
