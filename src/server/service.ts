/**
 * The running service: HTTP (Hono) on --http-port and gRPC on --port, with
 * readiness and graceful shutdown. `serveCommand` adds the signal handling;
 * tests start this directly.
 */
import { noEvaluator } from "../evaluator/types.ts";
import type { Runner } from "../runner.ts";
import { startGrpc } from "./grpc.ts";
import { httpHandler } from "./http.ts";
import { listen } from "./listen.ts";

export interface Service {
  httpPort: number;
  grpcPort: number;
  /** Marks not ready, stops accepting, gives in-flight calls until the deadline. Idempotent. */
  stop(graceMs: number): Promise<void>;
}

export async function startService(runner: Runner): Promise<Service> {
  const { config, logger } = runner;
  const evaluator = runner.evaluator ?? noEvaluator;
  let ready = false;
  const handler = httpHandler({ runner, evaluator, isReady: () => ready });
  const hostname = config["listen-address"];
  const grpc = await startGrpc(
    { evaluator, logger, metrics: runner.metrics, maxMessageSize: config["max-request-body-size"] },
    { port: config.port, hostname },
  );
  let http: ReturnType<typeof listen>;
  try {
    http = listen(handler, { port: config["http-port"], hostname, what: "HTTP API, --http-port" });
  } catch (e) {
    await grpc.stop(0);
    throw e;
  }
  ready = true;
  logger.info("function-runner listening", { httpPort: http.port, grpcPort: grpc.port, address: hostname, runtime: http.runtime });

  let stopping: Promise<void> | undefined;
  const stop = (graceMs: number): Promise<void> => {
    stopping ??= (async () => {
      ready = false;
      const started = Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), graceMs);
      });
      // Both servers drain in parallel under one deadline; gRPC cancels its own stragglers at the deadline.
      const drained = Promise.all([http.stop(), grpc.stop(graceMs)]).then(() => "drained" as const);
      const outcome = await Promise.race([drained, deadline]);
      clearTimeout(timer);
      if (outcome === "timeout") logger.warn("HTTP requests still running at the shutdown deadline", { graceMs });
      logger.info("function-runner stopped", { ms: Date.now() - started, outcome });
    })();
    return stopping;
  };
  return { httpPort: http.port, grpcPort: grpc.port, stop };
}
