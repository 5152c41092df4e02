// Run by test/server/porch-deployment.e2e.test.ts inside a fresh network
// namespace (`unshare -rn`), whose loopback is this driver's alone: Porch's
// Deployment can then use its own fixed ports (9445, 9464) and its readiness
// probe exactly as written. Starts the server command, runs the probe until
// it passes, calls EvaluateFunction as Porch's engine does, scrapes the
// metrics port, stops the server with SIGTERM, and prints one JSON report.
import * as grpc from "@grpc/grpc-js";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { EvaluatorClient, type Msg } from "../support/porch-grpc.ts";

interface Spec {
  command: string[];
  env: Record<string, string>;
  probe: string[];
  image: string;
  resourceList: string;
  metricsPort?: number;
}

const spec = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as Spec;
const report: Record<string, unknown> = {};
const [cmd, ...args] = spec.command;
const server = spawn(cmd ?? "", args, { env: spec.env, stdio: ["ignore", "ignore", "pipe"] });
let serverLog = "";
server.stderr.on("data", (d: Buffer) => (serverLog += d.toString("utf8")));
const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));

const done = (): never => {
  report.serverLog = serverLog.split("\n").slice(-40).join("\n");
  process.stdout.write(JSON.stringify(report));
  process.exit(0);
};
setTimeout(() => {
  report.error = "driver timed out";
  server.kill("SIGKILL");
  done();
}, 50_000).unref();

// The readiness probe, as the kubelet runs it: until it passes (the server is still starting).
const probeCodes: Array<number | null> = [];
let probeStderr = "";
for (let i = 0; i < 100; i++) {
  const r = spawnSync(spec.probe[0] ?? "", spec.probe.slice(1), { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
  probeCodes.push(r.status);
  probeStderr = r.stderr;
  if (r.status === 0 || server.exitCode !== null) break;
  await new Promise((r) => setTimeout(r, 200));
}
report.probeCodes = probeCodes;
report.probeStderr = probeStderr;

if (probeCodes.at(-1) === 0) {
  // Porch's engine: one connection, 6 MiB both ways, no deadline.
  const client = new EvaluatorClient("localhost:9445", grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 6 * 1024 * 1024,
    "grpc.max_send_message_length": 6 * 1024 * 1024,
  });
  report.evaluate = await new Promise((resolve) => {
    const fn = (client as unknown as Record<string, (r: Msg, cb: (e: grpc.ServiceError | null, v?: Msg) => void) => void>).EvaluateFunction;
    fn?.call(client, { image: spec.image, resource_list: Buffer.from(spec.resourceList) }, (err, v) =>
      resolve(
        err
          ? { code: err.code, details: err.details }
          : { log: Buffer.from((v?.log as Uint8Array) ?? []).toString(), resourceList: Buffer.from((v?.resource_list as Uint8Array) ?? []).toString() },
      ),
    );
  });
  client.close();
  if (spec.metricsPort !== undefined) {
    try {
      const res = await fetch(`http://127.0.0.1:${spec.metricsPort}/metrics`);
      report.metrics = { status: res.status, text: await res.text() };
    } catch (e) {
      report.metrics = { error: String(e) };
    }
  }
}
server.kill("SIGTERM");
report.exitCode = await exited;
done();
