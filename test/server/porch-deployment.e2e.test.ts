// Porch's own function-runner Deployment (HEAD and v4.1.2, copied into
// test/fixtures/porch/) starts the compiled binary: its container command,
// flags and environment as written, the image's paths laid out in a temp
// root (the only rewrite: `/x` becomes `ROOT/x`), in a network namespace of
// its own so its fixed ports are free. The readiness probe, run as written
// through this binary under the name grpc-health-probe, passes; Porch's
// client then evaluates a function through the exec runtime; the metrics
// port answers when the Deployment asks for it; SIGTERM ends it with 0.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BUN, fixture, RESOURCE_LIST, tempDir, writeFunctionsConfig } from "../evaluator/helpers.ts";
import { ensureBinary, ROOT } from "./helpers.ts";
import { deploymentContainer, PORCH_FIXTURES, type PorchContainer } from "./porch-manifests.ts";

const DRIVER = join(import.meta.dir, "porch-deployment-driver.ts");
const work = tempDir("fr-porch-deploy-");
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A network namespace with its own loopback: needs unshare (util-linux) and ip (iproute2), and user namespaces. */
const netns = spawnSync("unshare", ["-rn", "sh", "-c", "ip link set lo up"], { encoding: "utf8" });
const canIsolate = netns.status === 0;
const skipReason = canIsolate ? "" : `no private network namespace (unshare -rn: ${(netns.error?.message ?? netns.stderr).trim()})`;
if (!canIsolate) process.stderr.write(`skipping Porch Deployment tests: ${skipReason}\n`);

/** `/x` and `--flag=/x` point into the temp root that stands for the image. */
const rooted = (root: string, arg: string): string => {
  if (arg.startsWith("/")) return join(root, arg);
  const m = /^(-{1,2}[^=]+=)(\/.*)$/.exec(arg);
  return m ? `${m[1]}${join(root, m[2] ?? "")}` : arg;
};

function link(root: string, path: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  symlinkSync(ensureBinary(), join(root, path));
}

interface Report {
  probeCodes?: Array<number | null>;
  probeStderr?: string;
  evaluate?: { log?: string; resourceList?: string; code?: number; details?: string };
  metrics?: { status?: number; text?: string; error?: string };
  exitCode?: number | null;
  error?: string;
  serverLog?: string;
}

async function runDeployment(root: string, c: PorchContainer, image: string, metricsPort?: number): Promise<Report> {
  const env: Record<string, string> = { PATH: "/usr/bin:/bin", HOME: root };
  for (const e of c.env ?? []) env[e.name] = e.value ?? "";
  const spec = {
    command: [...(c.command ?? []), ...(c.args ?? [])].map((a) => rooted(root, a)),
    env,
    probe: (c.readinessProbe?.exec?.command ?? []).map((a, i) => (i === 0 ? rooted(root, a) : a)),
    image,
    resourceList: RESOURCE_LIST,
    ...(metricsPort === undefined ? {} : { metricsPort }),
  };
  const specFile = join(root, "..", `${Date.now()}-spec.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  const p = spawn("unshare", ["-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', BUN, DRIVER, specFile], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
  p.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
  await new Promise<void>((resolve) => p.once("close", () => resolve()));
  try {
    return JSON.parse(out) as Report;
  } catch {
    throw new Error(`driver said nothing usable:\n${out}\n${err}`);
  }
}

function expectServed(r: Report): void {
  const context = JSON.stringify({ probeCodes: r.probeCodes, error: r.error, serverLog: r.serverLog });
  expect({ last: r.probeCodes?.at(-1), context }).toEqual({ last: 0, context });
  expect(r.probeStderr).toBe("status: SERVING\n");
  expect(r.evaluate?.log).toBe("set-namespace: 2 resources now in namespace prod\n");
  expect(r.evaluate?.resourceList).toContain("namespace: prod");
  expect(r.exitCode).toBe(0);
}

describe.skipIf(!canIsolate)(canIsolate ? "Porch's Deployment runs our binary" : `Porch's Deployment runs our binary (skipped: ${skipReason})`, () => {
  test("HEAD: /home/nonroot/server with its flags and OTel environment; the probe as written; EvaluateFunction; metrics on 9464", async () => {
    const c = deploymentContainer("head-2-function-runner.yaml");
    // What the test leans on, so a change upstream shows here first.
    expect(c.command?.[0]).toBe("/home/nonroot/server");
    expect(c.command).toContain("--warm-up-pod-cache=true");
    expect(c.readinessProbe?.exec?.command).toEqual(["/home/nonroot/grpc-health-probe", "-addr", "localhost:9445"]);
    const root = join(work, "head", "root");
    link(root, "/home/nonroot/server");
    link(root, "/home/nonroot/grpc-health-probe");
    // The exec runtime's table in the functions directory the Deployment names.
    const functions = join(root, "home", "nonroot", "functions");
    mkdirSync(functions, { recursive: true });
    copyFileSync(fixture("set-namespace.sh"), join(functions, "set-namespace"));
    writeFunctionsConfig(functions, [{ image: "set-namespace:v0.4.1", binary: "set-namespace" }]);

    const r = await runDeployment(root, c, "ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1", 9464);
    expectServed(r);
    expect(r.metrics?.status).toBe(200);
    expect(r.metrics?.text).toMatch(/^target_info\{.*service_name="porch-function-runner".*\} 1$/m);
    expect(r.metrics?.text).toContain("function_runner_build_info{");
  }, 60_000);

  test("v4.1.2: /server --config=/config.yaml --functions=/functions with Porch's own config.yaml; /grpc-health-probe as written; EvaluateFunction", async () => {
    const c = deploymentContainer("v4.1.2-2-function-runner.yaml");
    expect(c.command?.slice(0, 3)).toEqual(["/server", "--config=/config.yaml", "--functions=/functions"]);
    expect(c.readinessProbe?.exec?.command).toEqual(["/grpc-health-probe", "-addr", "localhost:9445"]);
    const root = join(work, "v4", "root");
    link(root, "/server");
    link(root, "/grpc-health-probe");
    copyFileSync(join(PORCH_FIXTURES, "v4.1.2-func-config.yaml"), join(root, "config.yaml"));
    mkdirSync(join(root, "functions"), { recursive: true });
    copyFileSync(fixture("set-namespace.sh"), join(root, "functions", "set-namespace"));

    const r = await runDeployment(root, c, "gcr.io/kpt-fn/set-namespace:v0.2.0");
    expectServed(r);
  }, 60_000);
});
