/**
 * Prometheus metrics, one registry per runner (never prom-client's global
 * default, so tests and several runners in one process do not share counts).
 * Counts the core already keeps (cache stats, registry request stats) are
 * read at scrape time instead of being double-booked on the hot path.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CacheStats } from "../resolve/metadata-cache.ts";
import type { TransportStats } from "../registry/transport.ts";
import { runtimeName, VERSION } from "../version.ts";
import { FastHistogram } from "./fast-histogram.ts";

/** Counts the core keeps, read at scrape time. */
export interface MetricSources {
  cache: { stats(): CacheStats };
  /** `{ "manifest:200": 3, "token:401": 1 }`: RegistryClient.stats. */
  registryRequests: { snapshot(): Record<string, number> };
  /** The registry transport: the private-registry TLS chain keeps per-step counters and CA reloads. */
  transport?: { stats?(): TransportStats };
}

/**
 * The metrics are built first (the parts count into them as they are built);
 * the sources can be given here or once the parts exist (`observe`).
 */
export type MetricsInit = Partial<MetricSources> & {
  /** OpenTelemetry resource attributes (`service.name` from OTEL_SERVICE_NAME ...), exported as target_info. */
  resource?: Readonly<Record<string, string>>;
};

export interface ServiceMetrics {
  registry: Registry;
  /**
   * Labels method, route, status (in that order). `route` is a registered route pattern or
   * "unmatched", and `method` a standard method or "other", to keep cardinality bounded.
   */
  httpDuration: FastHistogram;
  grpcDuration: Histogram<"method" | "code">;
  /** `transport` grpc|http; `outcome` ok or the RunnerError code. */
  evaluationDuration: Histogram<"transport" | "outcome">;
  /** For the TLS transport: each step given up on, e.g. from=mounted-ca to=system-ca. */
  tlsFallbacks: Counter<"from" | "to">;
  /** For the pull-secret sync: outcome created|updated|unchanged|conflict|failed. */
  secretSyncs: Counter<"outcome">;
  /** The counts to read at scrape time (until then the mirrored metrics are 0). */
  observe(sources: MetricSources): void;
  text(): Promise<string>;
  contentType: string;
}

const PREFIX = "function_runner_";
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const EVAL_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** What the cache metrics read before a cache is observed. */
const NO_CACHE_STATS: CacheStats = { hits: 0, misses: 0, joined: 0, errors: 0, evictions: 0, expired: 0, size: 0, bytes: 0 };

/** A monotonic counter mirrored from a snapshot the core keeps. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export function createMetrics(init: MetricsInit = {}): ServiceMetrics {
  const registry = new Registry();
  let sources: Partial<MetricSources> = init;
  const stats = (): CacheStats => sources.cache?.stats() ?? NO_CACHE_STATS;
  mirroredCounter(registry, `${PREFIX}image_cache_hits_total`, "Image metadata lookups answered from the cache (no network).", () => stats().hits);
  mirroredCounter(registry, `${PREFIX}image_cache_misses_total`, "Image metadata lookups that started a registry fetch.", () => stats().misses);
  mirroredCounter(
    registry,
    `${PREFIX}image_cache_joined_total`,
    "Lookups that arrived while a fetch for the same image was in flight and shared it (single-flight).",
    () => stats().joined,
  );
  mirroredCounter(
    registry,
    `${PREFIX}image_cache_evictions_total`,
    "Image metadata records evicted to stay within --image-cache-max-entries / --image-cache-max-bytes.",
    () => stats().evictions,
  );
  mirroredCounter(registry, `${PREFIX}image_cache_fetch_errors_total`, "Registry fetches for the cache that failed (errors are never cached).", () => stats().errors);
  new Gauge({
    name: `${PREFIX}image_cache_entries`,
    help: "Image metadata records held in memory.",
    registers: [registry],
    collect() {
      this.set(stats().size);
    },
  });
  new Counter({
    name: `${PREFIX}registry_requests_total`,
    help: "Registry HTTP requests by kind (manifest, blob, token) and outcome (HTTP status or transport error code).",
    labelNames: ["kind", "outcome"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of Object.entries(sources.registryRequests?.snapshot() ?? {})) {
        const i = key.indexOf(":");
        this.inc({ kind: key.slice(0, i), outcome: key.slice(i + 1) }, n);
      }
    },
  });
  const transportStats = (): TransportStats | undefined => sources.transport?.stats?.();
  for (const [kind, help] of [
    ["skipped", "Registry transport steps skipped because a later step is remembered as working for the registry."],
    ["successes", "Registry transport steps that reached the registry, by step."],
  ] as const) {
    new Counter({
      name: `${PREFIX}registry_transport_${kind}_total`,
      help,
      labelNames: ["step"] as const,
      registers: [registry],
      collect() {
        this.reset();
        const stats = transportStats();
        if (stats === undefined) return;
        for (const [step, n] of Object.entries(kind === "skipped" ? stats.skipped : stats.succeeded)) this.inc({ step }, n);
      },
    });
  }
  mirroredCounter(
    registry,
    `${PREFIX}registry_ca_reloads_total`,
    "Times the mounted registry CA (--tls-secret-path) was re-read because the file changed.",
    () => transportStats()?.caReloads ?? 0,
  );
  new Gauge({
    name: `${PREFIX}build_info`,
    help: "Always 1; the labels say which build and JavaScript runtime are running.",
    labelNames: ["version", "runtime"] as const,
    registers: [registry],
  }).set({ version: VERSION, runtime: runtimeName() }, 1);
  if (init.resource !== undefined) {
    // OpenTelemetry's Prometheus exporters describe the resource this way; labels use Prometheus-safe names.
    const attributes = Object.entries(init.resource).map(([k, v]) => [k.replace(/[^a-zA-Z0-9_]/g, "_"), v] as const);
    new Gauge({
      name: "target_info",
      help: "Target metadata (OpenTelemetry resource attributes).",
      labelNames: attributes.map(([k]) => k),
      registers: [registry],
    }).set(Object.fromEntries(attributes), 1);
  }
  // process_* (CPU, memory, file descriptors, start time) and the runtime's heap and event loop.
  try {
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  } catch {
    // A runtime without the APIs behind them: the service's own metrics still work.
  }
  const tlsFallbacks = new Counter({
    name: `${PREFIX}registry_transport_fallbacks_total`,
    help: "Registry transport steps given up on, by the step left and the step tried next.",
    labelNames: ["from", "to"] as const,
    registers: [registry],
  });
  const secretSyncs = new Counter({
    name: `${PREFIX}pull_secret_syncs_total`,
    help: "Pull-secret ensure operations by outcome.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  // Observed on every HTTP request: the cheap histogram, rendered after the registry's metrics.
  const httpDuration = new FastHistogram(
    `${PREFIX}http_request_duration_seconds`,
    "HTTP API request latency by method, route pattern and status.",
    ["method", "route", "status"],
    HTTP_BUCKETS,
  );
  const grpcDuration = new Histogram({
    name: `${PREFIX}grpc_request_duration_seconds`,
    help: "gRPC call latency by method and status code name.",
    labelNames: ["method", "code"] as const,
    buckets: EVAL_BUCKETS,
    registers: [registry],
  });
  const evaluationDuration = new Histogram({
    name: `${PREFIX}evaluation_duration_seconds`,
    help: "Function evaluation latency by front end (grpc, http) and outcome (ok or error code).",
    labelNames: ["transport", "outcome"] as const,
    buckets: EVAL_BUCKETS,
    registers: [registry],
  });
  return {
    registry,
    httpDuration,
    grpcDuration,
    evaluationDuration,
    tlsFallbacks,
    secretSyncs,
    observe: (given) => {
      sources = given;
    },
    text: async () => `${await registry.metrics()}\n${httpDuration.render()}\n`,
    contentType: registry.contentType,
  };
}
