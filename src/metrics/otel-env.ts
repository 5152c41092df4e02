/**
 * The OpenTelemetry environment variables Porch's Deployment sets for its
 * function runner, read the way its exporter reads them:
 * - OTEL_METRICS_EXPORTER: a comma-separated list; `prometheus` serves the
 *   metrics in Prometheus text on OTEL_EXPORTER_PROMETHEUS_HOST (default
 *   0.0.0.0) : OTEL_EXPORTER_PROMETHEUS_PORT (default 9464). `none` or unset
 *   serves nothing extra; other exporters (otlp, console) are not built in
 *   and are named in one warning.
 * - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource, exported as
 *   `target_info` labels (service_name, ...).
 * Every value is caller-controlled configuration: bounded before it is kept.
 * Pure.
 */
import { VERSION } from "../version.ts";

export interface OtelMetricsConfig {
  /** Set when OTEL_METRICS_EXPORTER names prometheus. */
  prometheus?: { host: string; port: number };
  /** Resource attributes, e.g. { "service.name": "porch-function-runner", "service.version": "0.1.0" }. */
  resource: Record<string, string>;
  /** Sentences for one warning each at start-up. */
  warnings: string[];
  /** A value that cannot be used (e.g. a port that is not a number): start-up stops, naming the variable. */
  error?: string;
}

export const DEFAULT_SERVICE_NAME = "function-runner";
const MAX_ATTRIBUTES = 32;
const MAX_VALUE = 256;

type Env = Readonly<Record<string, string | undefined>>;

const clip = (v: string): string => (v.length > MAX_VALUE ? v.slice(0, MAX_VALUE) : v);

/** `k1=v1,k2=v2` with percent-encoded values (the OpenTelemetry resource syntax). */
function resourceAttributes(text: string | undefined, warnings: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined || text.trim() === "") return out;
  for (const pair of text.split(",").slice(0, MAX_ATTRIBUTES)) {
    const eq = pair.indexOf("=");
    const key = (eq === -1 ? "" : pair.slice(0, eq)).trim();
    if (key === "" || !/^[A-Za-z_][A-Za-z0-9_.\-]*$/.test(key) || key.length > MAX_VALUE) {
      warnings.push(`OTEL_RESOURCE_ATTRIBUTES: ignored ${JSON.stringify(clip(pair))} (want key=value)`);
      continue;
    }
    let value = pair.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // Not percent-encoded after all: keep it as written.
    }
    out[key] = clip(value);
  }
  return out;
}

export function otelMetricsFromEnv(env: Env): OtelMetricsConfig {
  const warnings: string[] = [];
  const attributes = resourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES, warnings);
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || attributes["service.name"] || DEFAULT_SERVICE_NAME;
  const resource: Record<string, string> = { ...attributes, "service.name": clip(serviceName), "service.version": attributes["service.version"] ?? VERSION };

  const exporters = (env.OTEL_METRICS_EXPORTER ?? "")
    .split(",")
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== "");
  const unsupported = exporters.filter((e) => e !== "prometheus" && e !== "none");
  if (unsupported.length > 0) {
    warnings.push(`OTEL_METRICS_EXPORTER: ${unsupported.map((e) => JSON.stringify(clip(e))).join(", ")} not supported; only "prometheus" (and /metrics on the HTTP port) export metrics`);
  }
  if (!exporters.includes("prometheus")) return { resource, warnings };

  const host = env.OTEL_EXPORTER_PROMETHEUS_HOST?.trim() || "0.0.0.0";
  const portText = env.OTEL_EXPORTER_PROMETHEUS_PORT?.trim() || "9464";
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    return { resource, warnings, error: `OTEL_EXPORTER_PROMETHEUS_PORT=${JSON.stringify(clip(portText))} is not a port number (0-65535)` };
  }
  if (host.length > 253) return { resource, warnings, error: "OTEL_EXPORTER_PROMETHEUS_HOST is longer than a host name can be" };
  return { prometheus: { host, port }, resource, warnings };
}
