// Every metric docs/metrics.md names is exported: the TLS chain's per-step
// skips and successes and CA reloads (from a real runner against a real
// registry), build_info and process_* defaults; and with Porch's OpenTelemetry
// environment the compiled binary serves them on the exporter's own port,
// labelled with OTEL_SERVICE_NAME, while the HTTP API keeps /metrics. A port
// clash is reported as ADDRESS_IN_USE and every log line stays JSON.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { parseCommandLine } from "../../src/config/config.ts";
import { memoryLogger } from "../../src/log.ts";
import { createRunner } from "../../src/runner.ts";
import { otelMetricsFromEnv } from "../../src/metrics/otel-env.ts";
import { dockerConfigFile } from "../registry/helpers.ts";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { kubeSecretDir, strayCA } from "../registry/tls-helpers.ts";
import { tempDir } from "../evaluator/helpers.ts";
import { ensureBinary, spawnServing } from "./helpers.ts";

let plain: TestRegistry;
const work = tempDir("fr-metrics-");
const noKube = { KUBERNETES_SERVICE_HOST: "", KUBECONFIG: join(work, "none"), HOME: work };

beforeAll(async () => {
  plain = await startRegistry({ mode: "http" });
  for (const tag of ["v1", "v2", "v3"]) await pushImage(plain, "team/fn", tag, { format: "oci", entrypoint: ["/fn"] });
});
afterAll(async () => {
  await plain?.stop();
});

/** The value of one sample line, NaN when absent. */
function sample(text: string, series: string): number {
  const m = new RegExp(`^${series.replace(/[{}"()[\].+*?^$|\\]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

describe("registry transport metrics (a real runner, the private-registry TLS chain)", () => {
  test("skipped steps, successes per step and CA reloads are exported", async () => {
    const stray = strayCA("Metrics CA");
    const secret = kubeSecretDir({ "ca.crt": stray.certPem });
    const { config } = parseCommandLine([
      "--enable-private-registries",
      "--enable-private-registries-tls",
      `--tls-secret-path=${secret.dir}`,
      `--registry-auth-secret-path=${dockerConfigFile({})}`,
    ]);
    const runner = createRunner(config, memoryLogger(), { kube: { env: {}, homeDir: "/nonexistent" } });
    try {
      // v1 walks the chain to plain HTTP; v2 starts there, skipping the two https steps.
      expect((await runner.resolver.resolve(`${plain.host}/team/fn:v1`)).transport).toBe("plain-http");
      expect((await runner.resolver.resolve(`${plain.host}/team/fn:v2`)).transport).toBe("plain-http");
      secret.swap({ "ca.crt": strayCA("Metrics CA 2").certPem });
      await runner.resolver.resolve(`${plain.host}/team/fn:v3`);
      const text = await runner.metrics.text();
      expect(sample(text, 'function_runner_registry_transport_skipped_total{step="mounted-ca"}')).toBe(1);
      expect(sample(text, 'function_runner_registry_transport_skipped_total{step="system-ca"}')).toBe(1);
      expect(sample(text, 'function_runner_registry_transport_successes_total{step="plain-http"}')).toBe(3);
      expect(sample(text, "function_runner_registry_ca_reloads_total")).toBe(1);
      expect(sample(text, 'function_runner_registry_transport_fallbacks_total{from="mounted-ca",to="system-ca"}')).toBe(2);
    } finally {
      await runner.close();
    }
  });
});

describe("OpenTelemetry environment (pure)", () => {
  test("Porch's Deployment values, the defaults, and what cannot be used", () => {
    const porch = otelMetricsFromEnv({
      OTEL_METRICS_EXPORTER: "prometheus",
      OTEL_EXPORTER_PROMETHEUS_HOST: "0.0.0.0",
      OTEL_EXPORTER_PROMETHEUS_PORT: "9464",
      OTEL_TRACES_EXPORTER: "none",
      OTEL_SERVICE_NAME: "porch-function-runner",
    });
    expect(porch).toMatchObject({ prometheus: { host: "0.0.0.0", port: 9464 }, resource: { "service.name": "porch-function-runner" }, warnings: [] });
    expect(otelMetricsFromEnv({ OTEL_METRICS_EXPORTER: "prometheus" }).prometheus).toEqual({ host: "0.0.0.0", port: 9464 });
    expect(otelMetricsFromEnv({}).prometheus).toBeUndefined();
    expect(otelMetricsFromEnv({}).resource["service.name"]).toBe("function-runner");
    expect(otelMetricsFromEnv({ OTEL_METRICS_EXPORTER: "otlp,prometheus" }).warnings[0]).toContain('"otlp" not supported');
    expect(otelMetricsFromEnv({ OTEL_METRICS_EXPORTER: "prometheus", OTEL_EXPORTER_PROMETHEUS_PORT: "99999" }).error).toContain("OTEL_EXPORTER_PROMETHEUS_PORT");
    const attrs = otelMetricsFromEnv({ OTEL_RESOURCE_ATTRIBUTES: "service.name=from-attrs,deployment.environment=prod%20eu,broken" });
    expect(attrs.resource).toMatchObject({ "service.name": "from-attrs", "deployment.environment": "prod eu" });
    expect(attrs.warnings).toHaveLength(1);
  });
});

/** A loopback port held by another listener for the test's duration. */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as { port: number }).port, server };
}

async function runToExit(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const p = spawn(ensureBinary(), args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  p.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  const code = await new Promise<number | null>((resolve) => p.once("close", (c) => resolve(c)));
  return { code, stderr };
}

describe("the compiled binary with Porch's OpenTelemetry environment", () => {
  test("Prometheus text on the exporter's address with target_info, build_info and process_*; /metrics stays on the HTTP port", async () => {
    const s = await spawnServing(ensureBinary(), ["--port", "0", "--http-port", "0", "--listen-address", "127.0.0.1"], {
      env: {
        ...noKube,
        OTEL_METRICS_EXPORTER: "prometheus",
        OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
        OTEL_EXPORTER_PROMETHEUS_PORT: "0",
        OTEL_TRACES_EXPORTER: "none",
        OTEL_SERVICE_NAME: "porch-function-runner",
      },
    });
    try {
      const port = Number(/"metricsPort":(\d+)/.exec(s.stderr())?.[1]);
      expect(port).toBeGreaterThan(0);
      expect(port).not.toBe(s.httpPort);
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();
      expect(text).toMatch(/^target_info\{.*service_name="porch-function-runner".*\} 1$/m);
      expect(text).toMatch(/^function_runner_build_info\{version="\d+\.\d+\.\d+",runtime="bun\/[\d.]+"\} 1$/m);
      for (const name of ["process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total", "process_start_time_seconds"]) {
        expect(sample(text, name)).toBeGreaterThan(0);
      }
      expect(text).toContain("# TYPE function_runner_registry_ca_reloads_total counter");
      expect(text).toContain("# TYPE function_runner_registry_transport_skipped_total counter");
      expect(text).toContain("# TYPE function_runner_registry_transport_successes_total counter");
      // The HTTP API's own /metrics: the same registry.
      const api = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
      expect(api).toContain('service_name="porch-function-runner"');
      expect(api).toContain("function_runner_build_info");
    } finally {
      s.proc.kill("SIGTERM");
      await s.exited;
    }
  });

  test("a taken exporter port stops start-up with ADDRESS_IN_USE naming it", async () => {
    const held = await occupiedPort();
    try {
      const r = await runToExit(["--port", "0", "--http-port", "0", "--listen-address", "127.0.0.1"], {
        ...noKube,
        OTEL_METRICS_EXPORTER: "prometheus",
        OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
        OTEL_EXPORTER_PROMETHEUS_PORT: String(held.port),
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: ADDRESS_IN_USE: cannot listen on 127.0.0.1:${held.port} (Prometheus metrics`);
    } finally {
      held.server.close();
    }
  });

  test("a taken gRPC port: ADDRESS_IN_USE, and grpc-js's own complaint is a JSON log line", async () => {
    const held = await occupiedPort();
    try {
      const r = await runToExit(["--port", String(held.port), "--http-port", "0", "--listen-address", "127.0.0.1"], noKube);
      expect(r.code).toBe(1);
      const fatal = `error: ADDRESS_IN_USE: cannot listen on 127.0.0.1:${held.port} (gRPC, --port): the address is already in use`;
      const all = r.stderr.split("\n").filter((l) => l !== "");
      expect(all).toContain(fatal);
      const lines = all.filter((l) => l !== fatal);
      // Every other line, grpc-js's included, is one JSON object.
      for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
      expect(lines.some((l) => l.includes('"source":"grpc-js"') && l.includes("No address added"))).toBe(true);
    } finally {
      held.server.close();
    }
  });
});
