// The main service with the exec runtime: gRPC EvaluateFunction called as
// Porch's function-runner client does, and HTTP /v1/functions/evaluate, both
// reaching the same evaluator the runner built from --functions.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { postJson, startInProcess, type InProcess } from "../server/helpers.ts";
import { alive, BUN, failure, fixture, PorchClient, RESOURCE_LIST, ROOT, SERVING, tempDir, waitFor, writeFunctionsConfig } from "./helpers.ts";

const dir = tempDir("fr-serve-");
const pidFile = join(dir, "pids");
let svc: InProcess;
let porch: PorchClient;

beforeAll(async () => {
  writeFunctionsConfig(dir, [
    { image: "set-namespace:v0.4.1", binary: fixture("set-namespace.sh") },
    { image: "example.com/fns/validate:v1", binary: fixture("fail-results.sh") },
    { image: "example.com/fns/hang:v1", binary: fixture("hang.sh"), args: [pidFile] },
  ]);
  svc = await startInProcess(["--functions", dir]);
  porch = new PorchClient(svc.grpcAddress);
});

afterAll(async () => {
  porch?.close();
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("gRPC EvaluateFunction on --port with the exec runtime", () => {
  test("Porch's full catalog reference runs the short-named config entry", async () => {
    expect(await porch.check()).toBe(SERVING);
    const res = await porch.evaluate("ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1", RESOURCE_LIST);
    expect(res.resourceList.slice(0, res.resourceList.indexOf("functionConfig:")).match(/^    namespace: prod$/gm)).toHaveLength(2);
    expect(res.log).toBe("set-namespace: 2 resources now in namespace prod\n");
  });

  test("a failing function: INTERNAL worded as Porch's executable evaluator (exit status and stderr)", async () => {
    const err = await failure(porch.evaluate("example.com/fns/validate:v1", RESOURCE_LIST));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe('Failed to execute function "example.com/fns/validate:v1": exit status 1 (validate: 1 error, 1 warning\n)');
  });

  test("an image no runtime knows is NOT_FOUND", async () => {
    const err = await failure(porch.evaluate("example.com/fns/unknown:v1", RESOURCE_LIST));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toContain('"example.com/fns/unknown:v1"');
    expect(err.metadata.get("x-function-runner-error-code")).toEqual(["NOT_FOUND"]);
  });

  test("the call's deadline reaches the function: DEADLINE_EXCEEDED and its process group is gone", async () => {
    rmSync(pidFile, { force: true });
    const err = await failure(porch.evaluate("example.com/fns/hang:v1", RESOURCE_LIST, 700));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const [shell, child] = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    expect(await waitFor(() => !alive(shell ?? 0) && !alive(child ?? 0), 3_000)).toBe(true);
  });
});

describe("cancellation", () => {
  test("a call the client cancels stops the function's process group", async () => {
    rmSync(pidFile, { force: true });
    const { done, cancel } = porch.evaluateCancellable("example.com/fns/hang:v1", RESOURCE_LIST);
    expect(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim().includes(" "), 5_000)).toBe(true);
    const [shell, child] = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    expect(alive(shell ?? 0)).toBe(true);
    cancel();
    expect(((await done) as grpc.ServiceError).code).toBe(grpc.status.CANCELLED);
    expect(await waitFor(() => !alive(shell ?? 0) && !alive(child ?? 0), 5_000)).toBe(true);
  });
});

describe("HTTP POST /v1/functions/evaluate uses the same evaluator", () => {
  test("a short name runs the function", async () => {
    const res = await postJson(`${svc.base}/v1/functions/evaluate`, { image: "set-namespace:v0.4.1", resourceList: RESOURCE_LIST });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { resourceList: string; log: string };
    expect(body.resourceList).toContain("- message: namespace set on 2 resources");
    expect(body.log).toBe("set-namespace: 2 resources now in namespace prod\n");
  });

  test("a failing function: the error body carries results and the log", async () => {
    const res = await postJson(`${svc.base}/v1/functions/evaluate`, { image: "example.com/fns/validate:v1", resourceList: RESOURCE_LIST });
    expect(res.status).toBe(500);
    const { error } = (await res.json()) as { error: Record<string, unknown> };
    expect(error).toMatchObject({
      code: "INTERNAL",
      retryable: false,
      exitCode: 1,
      log: "validate: 1 error, 1 warning\n",
      results: [{ message: "replicas must be at most 3", severity: "error" }, { message: "image tag is not pinned", severity: "warning" }],
    });
  });

  test("unknown image: 404 NOT_FOUND", async () => {
    const res = await postJson(`${svc.base}/v1/functions/evaluate`, { image: "example.com/fns/unknown:v1", resourceList: RESOURCE_LIST });
    expect(res.status).toBe(404);
  });
});

describe("serve start-up", () => {
  test("a broken config.yaml stops `serve` with exit 1, naming the file and the field", () => {
    const broken = tempDir("fr-broken-");
    writeFileSync(join(broken, "config.yaml"), "functions:\n- image: set-namespace:v0.4.1\n");
    const r = spawnSync(BUN, [join(ROOT, "main.ts"), "serve", "--functions", broken, "--port", "0", "--http-port", "0", "--listen-address", "127.0.0.1"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 15_000,
    });
    rmSync(broken, { recursive: true, force: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: INVALID_ARGUMENT: exec runtime: ${join(broken, "config.yaml")}: functions[0].binary: is required`);
  });
});
