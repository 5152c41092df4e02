/**
 * The running service: HTTP (Hono) on --http-port and gRPC on --port, with
 * readiness and graceful shutdown. `serveCommand` adds the signal handling;
 * tests start this directly.
 */
import process from "node:process";
import { RunnerError } from "../errors.ts";
import { noEvaluator } from "../evaluator/types.ts";
import type { Runner } from "../runner.ts";
import { startGrpc } from "./grpc.ts";
import { httpHandler } from "./http.ts";
import { type Listening, listen } from "./listen.ts";
import type { ServiceMetrics } from "../metrics/metrics.ts";
import { otelMetricsFromEnv } from "../metrics/otel-env.ts";

export interface Service {
  httpPort: number;
  grpcPort: number;
  /** The Prometheus exporter's port when OTEL_METRICS_EXPORTER=prometheus. */
  metricsPort?: number;
  /** Marks not ready, stops accepting, gives in-flight calls until the deadline. Idempotent. */
  stop(graceMs: number): Promise<void>;
}

/**
 * The OpenTelemetry Prometheus exporter's endpoint: the same registry as the
 * HTTP API's /metrics, on its own address, as Porch's Deployment scrapes it.
 * Any path answers (exporters differ on the path; scrapers ask /metrics).
 */
function startPrometheusExporter(metrics: ServiceMetrics, host: string, port: number): Listening {
  return listen(
    async (req) => {
      if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405 });
      return new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } });
    },
    { port, hostname: host, what: "Prometheus metrics, OTEL_EXPORTER_PROMETHEUS_HOST:OTEL_EXPORTER_PROMETHEUS_PORT" },
  );
}

export async function startService(runner: Runner, opts: { env?: Readonly<Record<string, string | undefined>> } = {}): Promise<Service> {
  const { logger } = runner;
  const { server } = runner.options;
  const otel = otelMetricsFromEnv(opts.env ?? process.env);
  for (const warning of otel.warnings) logger.warn("OpenTelemetry environment", { warning });
  if (otel.error !== undefined) throw new RunnerError("INVALID_ARGUMENT", otel.error);
  const evaluator = runner.evaluator ?? noEvaluator;
  let ready = false;
  const handler = httpHandler({ runner, evaluator, isReady: () => ready });
  const hostname = server.listenAddress;
  const grpc = await startGrpc(
    { evaluator, logger, metrics: runner.metrics, maxMessageSize: server.maxRequestBodySize },
    { port: server.port, hostname },
  );
  let http: Listening;
  let exporter: Listening | undefined;
  try {
    http = listen(handler, { port: server.httpPort, hostname, what: "HTTP API, --http-port" });
    try {
      if (otel.prometheus !== undefined) exporter = startPrometheusExporter(runner.metrics, otel.prometheus.host, otel.prometheus.port);
    } catch (e) {
      await http.stop();
      throw e;
    }
  } catch (e) {
    await grpc.stop(0);
    throw e;
  }
  ready = true;
  logger.info("function-runner listening", {
    httpPort: http.port,
    grpcPort: grpc.port,
    address: hostname,
    runtime: http.runtime,
    ...(exporter === undefined ? {} : { metricsPort: exporter.port, metricsAddress: exporter.hostname, serviceName: otel.resource["service.name"] }),
  });

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
      const drained = Promise.all([http.stop(), grpc.stop(graceMs), exporter?.stop()]).then(() => "drained" as const);
      const outcome = await Promise.race([drained, deadline]);
      clearTimeout(timer);
      if (outcome === "timeout") logger.warn("HTTP requests still running at the shutdown deadline", { graceMs });
      logger.info("function-runner stopped", { ms: Date.now() - started, outcome });
    })();
    return stopping;
  };
  return { httpPort: http.port, grpcPort: grpc.port, ...(exporter === undefined ? {} : { metricsPort: exporter.port }), stop };
}
