// The wrapper server as a real process (`main.ts wrapper-server`, and the
// compiled binary installed as `wrapper-server` the way function pods run it),
// called over gRPC the way Porch's pod evaluator does.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary } from "../server/helpers.ts";
import {
  alive,
  BUN,
  failure,
  fixture,
  PorchClient,
  RESOURCE_LIST,
  ROOT,
  SERVING,
  spawnWrapper,
  type SpawnedWrapper,
  tempDir,
  waitFor,
} from "../evaluator/helpers.ts";

const MAIN = join(ROOT, "main.ts");
const wrapperArgs = (extra: string[], command: string[]): string[] => [
  MAIN,
  "wrapper-server",
  "--port",
  "0",
  "--listen-address",
  "127.0.0.1",
  ...extra,
  "--",
  ...command,
];

const work = tempDir("fr-wrapper-");
const pidFile = join(work, "pids");
let setNs: SpawnedWrapper;
let failing: SpawnedWrapper;
let hanging: SpawnedWrapper;
const clients: PorchClient[] = [];
const client = (w: SpawnedWrapper): PorchClient => {
  const c = new PorchClient(w.address);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  [setNs, failing, hanging] = await Promise.all([
    spawnWrapper(BUN, wrapperArgs(["--max-request-body-size", "65536"], [fixture("set-namespace.sh")])),
    spawnWrapper(BUN, wrapperArgs([], [fixture("fail-results.sh")])),
    spawnWrapper(BUN, wrapperArgs([], [fixture("hang.sh"), pidFile])),
  ]);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([setNs?.stop(), failing?.stop(), hanging?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

describe("wrapper-server over gRPC", () => {
  test("health Check answers SERVING, for the whole server and any service name (as Porch's)", async () => {
    const c = client(setNs);
    expect(await c.check("")).toBe(SERVING);
    expect(await c.check("evaluator.FunctionEvaluator")).toBe(SERVING);
    expect(await c.check("anything")).toBe(SERVING);
  });

  test("EvaluateFunction runs the fixed command: stdout is resource_list, stderr is log; the image is not used", async () => {
    const c = client(setNs);
    for (const image of ["ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1", "whatever:v1", ""]) {
      const res = await c.evaluate(image, RESOURCE_LIST);
      expect(res.resourceList).toContain("kind: ResourceList");
      expect(res.resourceList.slice(0, res.resourceList.indexOf("functionConfig:")).match(/^    namespace: prod$/gm)).toHaveLength(2);
      expect(res.log).toBe("set-namespace: 2 resources now in namespace prod\n");
    }
  });

  test("a failing function is INTERNAL with its structured results and stderr in the message, and no ResourceList", async () => {
    const err = await failure(client(failing).evaluate("example.com/validate:v1", RESOURCE_LIST));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe(
      'failed to evaluate function "example.com/validate:v1" with structured results: ' +
        "[error] apps/v1/Deployment/old/app spec.replicas: replicas must be at most 3\n\n[warning]: image tag is not pinned" +
        " and stderr: validate: 1 error, 1 warning\n",
    );
  });

  test("the caller's deadline kills the function's process group: DEADLINE_EXCEEDED", async () => {
    rmSync(pidFile, { force: true });
    const started = Date.now();
    const err = await failure(client(hanging).evaluate("example.com/hang:v1", RESOURCE_LIST, 800));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(3_000);
    const [shell, child] = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    expect(await waitFor(() => !alive(shell ?? 0) && !alive(child ?? 0), 3_000)).toBe(true);
    // Logged once the killed group is reaped, which may be just after the caller saw the status.
    expect(await waitFor(() => hanging.output().includes('"outcome":"deadline"'), 3_000)).toBe(true);
  });

  test("a request over --max-request-body-size is RESOURCE_EXHAUSTED", async () => {
    const err = await failure(client(setNs).evaluate("x", `${RESOURCE_LIST}# ${"x".repeat(70_000)}\n`));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  test("SIGTERM: exits 0 after draining", async () => {
    const w = await spawnWrapper(BUN, wrapperArgs([], [fixture("set-namespace.sh")]));
    const c = client(w);
    expect(await c.check()).toBe(SERVING);
    w.proc.kill("SIGTERM");
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(w.output()).toContain('"msg":"shutting down"');
  });
});

describe("wrapper-server command line", () => {
  test("without a command after -- it exits 2 with usage", () => {
    const r = spawnSync(BUN, [MAIN, "wrapper-server", "--port", "0"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("the function's command must follow --");
  });

  test("a runner-only flag is refused (exit 2, naming it)", () => {
    const r = spawnSync(BUN, [MAIN, "wrapper-server", "--pod-ttl", "1m", "--", "true"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown flag --pod-ttl");
  });

  test("Porch's --verbosity is accepted", async () => {
    const w = await spawnWrapper(BUN, wrapperArgs(["--verbosity", "5"], [fixture("set-namespace.sh")]));
    try {
      expect(await client(w).check()).toBe(SERVING);
    } finally {
      await w.stop();
    }
  });
});

describe("compiled binary installed as /wrapper-server-tools/wrapper-server", () => {
  test("started by that name with Porch's pod arguments, it is the wrapper server", async () => {
    const bin = join(work, "wrapper-server");
    copyFileSync(ensureBinary(), bin);
    // Exactly the function container's arguments (src/kube/pod-spec.ts wrapperServerArgs), on a free port.
    const w = await spawnWrapper(bin, ["--port", "0", "--max-request-body-size", "6291456", "--listen-address", "127.0.0.1", "--", fixture("set-namespace.sh")]);
    try {
      const c = client(w);
      expect(await c.check()).toBe(SERVING);
      const res = await c.evaluate("ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1", RESOURCE_LIST);
      expect(res.log).toBe("set-namespace: 2 resources now in namespace prod\n");
      w.proc.kill("SIGTERM");
      expect((await w.exited).code).toBe(0);
    } finally {
      await w.stop();
    }
  });
});
