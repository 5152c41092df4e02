// The service with both runtimes: Porch's gRPC EvaluateFunction and HTTP
// /v1/functions/evaluate reach a function pod when the exec runtime does not
// know the image (multi-evaluator fall-through), and stay local when it does.
// Also: no cluster → the pod slot's NOT_FOUND names why; --disable-runtimes pod.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { rmSync } from "node:fs";
import { parseCommandLine } from "../../src/config/config.ts";
import { isRunnerError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log.ts";
import { createRunner } from "../../src/runner.ts";
import { postJson, startInProcess, type InProcess } from "../server/helpers.ts";
import { encode, failure, fixture, PorchClient, RESOURCE_LIST, tempDir, writeFunctionsConfig } from "./helpers.ts";
import { functionPods, NS, type PodWorld, startPodWorld } from "./pod-helpers.ts";

let world: PodWorld;
let svc: InProcess;
let porch: PorchClient;
let remote: { image: string; digest: string };
let failing: { image: string; digest: string };
const dir = tempDir("fr-pod-serve-");

beforeAll(async () => {
  world = await startPodWorld();
  remote = await world.push("set-namespace", "v2", [fixture("set-namespace.sh")]);
  failing = await world.push("validate", "v2", [fixture("fail-results.sh")]);
  writeFunctionsConfig(dir, [{ image: "set-namespace:v0.4.1", binary: fixture("set-namespace.sh") }]);
  svc = await startInProcess(["--functions", dir, "--kubeconfig", world.kubeconfig, "--pod-namespace", NS, "--pod-address-mode", "pod-ip"]);
  porch = new PorchClient(svc.grpcAddress);
});
afterAll(async () => {
  porch?.close();
  await svc?.stop();
  await world?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("gRPC EvaluateFunction, as Porch calls it", () => {
  test("an image the exec runtime does not know runs in a function pod", async () => {
    world.server.clearRequests();
    const res = await porch.evaluate(remote.image, RESOURCE_LIST, 30_000);
    expect(res.resourceList).toContain("- message: namespace set on 2 resources");
    expect(res.log).toBe("set-namespace: 2 resources now in namespace prod\n");
    expect(world.server.requests().filter((e) => e.verb === "create" && e.resource === "pods")).toHaveLength(1);
    expect(functionPods(world.server).some((p) => p.spec?.containers?.[0]?.image === `${world.reg.host}/fns/set-namespace@${remote.digest}`)).toBe(true);
  });

  test("an image the exec runtime knows stays local: no pod", async () => {
    world.server.clearRequests();
    const res = await porch.evaluate("ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1", RESOURCE_LIST);
    expect(res.log).toBe("set-namespace: 2 resources now in namespace prod\n");
    expect(world.server.requests()).toEqual([]);
  });

  test("a function failing in its pod: INTERNAL with the wrapper's message, unchanged", async () => {
    const err = await failure(porch.evaluate(failing.image, RESOURCE_LIST, 30_000));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toContain(`failed to evaluate function "${failing.image}" with structured results: `);
    expect(err.details).toContain("[error] apps/v1/Deployment/old/app spec.replicas: replicas must be at most 3");
    expect(err.metadata.get("x-function-runner-error-code")).toEqual(["INTERNAL"]);
  });

  test("an image in no registry: NOT_FOUND from the registry's answer, not from a runtime miss", async () => {
    const err = await failure(porch.evaluate(`${world.reg.host}/fns/nowhere:v1`, RESOURCE_LIST, 30_000));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(["MANIFEST_UNKNOWN", "NAME_UNKNOWN"]).toContain(String(err.metadata.get("x-function-runner-error-code")[0]));
  });
});

describe("HTTP POST /v1/functions/evaluate", () => {
  test("reaches the same pod (no second create)", async () => {
    world.server.clearRequests();
    const res = await postJson(`${svc.base}/v1/functions/evaluate`, { image: remote.image, resourceList: RESOURCE_LIST });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { resourceList: string; log: string };
    expect(body.log).toBe("set-namespace: 2 resources now in namespace prod\n");
    expect(world.server.requests().filter((e) => e.verb === "create")).toEqual([]);
  });
});

describe("without a pod runtime", () => {
  test("no Kubernetes: the pod slot is NOT_FOUND naming why, after the exec runtime's reason", async () => {
    const { config } = parseCommandLine(["--functions", dir]);
    const runner = createRunner(config, memoryLogger(), { kube: { env: {}, homeDir: "/nonexistent" } });
    try {
      expect(await runner.pod?.instance()).toBeUndefined();
      let err: unknown;
      await runner.evaluator?.evaluate({ image: "example.com/fns/x:v1", resourceList: encode(RESOURCE_LIST) }).catch((e: unknown) => (err = e));
      expect(isRunnerError(err) && err.code).toBe("NOT_FOUND");
      const message = (err as Error).message;
      expect(message).toContain("exec runtime: no executable configured");
      expect(message).toContain("pod runtime: not available (no Kubernetes: no Kubernetes configuration");
    } finally {
      await runner.close();
    }
  });

  test("--disable-runtimes pod: no pod runtime is built", async () => {
    const { config } = parseCommandLine(["--functions", dir, "--disable-runtimes", "pod", "--kubeconfig", world.kubeconfig]);
    const runner = createRunner(config, memoryLogger(), { kube: { env: {}, homeDir: "/nonexistent" } });
    try {
      expect(runner.pod).toBeUndefined();
      world.server.clearRequests();
      let err: unknown;
      await runner.evaluator?.evaluate({ image: remote.image, resourceList: encode(RESOURCE_LIST) }).catch((e: unknown) => (err = e));
      expect(isRunnerError(err) && err.code).toBe("NOT_FOUND");
      expect(world.server.requests()).toEqual([]);
    } finally {
      await runner.close();
    }
  });
});
