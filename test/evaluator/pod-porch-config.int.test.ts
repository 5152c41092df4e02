// Porch HEAD's configuration objects read from the cluster while the runner
// serves: Porch's own 22-/23- manifests (test/fixtures/porch/) loaded into the
// test API server, FunctionConfigs added, changed and deleted, and what runs
// an image follows within seconds, with status and finalizer as Porch writes
// them. Also: templateOverrides and a customised base-service-template in
// what is created.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { FUNCTION_RUNNER_FINALIZER } from "../../src/kube/function-config.ts";
import type { Runner } from "../../src/runner.ts";
import type { KubeObject, WirePod, WireService } from "../support/kube/index.ts";
import { decode, encode, fixture, RESOURCE_LIST, ROOT, tempDir } from "./helpers.ts";
import { functionPods, NS, type PodWorld, startPodWorld } from "./pod-helpers.ts";

const PORCH = join(ROOT, "test", "fixtures", "porch");
const manifests = (file: string): KubeObject[] =>
  parseAllDocuments(readFileSync(join(PORCH, file), "utf8"))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);

const GROUP = "config.porch.kpt.dev/v1alpha1";
const MARKER = "exec-marker: ran as a local binary";

let world: PodWorld;
let fnsDir: string;
let v1: { image: string; digest: string };

beforeAll(async () => {
  world = await startPodWorld();
  v1 = await world.push("set-namespace", "v1", [fixture("set-namespace.sh")]);
  fnsDir = tempDir("fr-fns-");
  copyFileSync(fixture("exec-marker.sh"), join(fnsDir, "exec-marker.sh"));
  for (const obj of [...manifests("head-22-function-templates.yaml"), ...manifests("head-23-function-configurations.yaml")]) {
    const resource = obj.kind === "PodTemplate" ? "podtemplates" : obj.kind === "ServiceTemplate" ? "servicetemplates" : "functionconfigs";
    world.server.seed(resource, obj, NS);
  }
});
afterAll(async () => {
  await world?.stop();
});

const req = (image: string) => ({ image, resourceList: encode(RESOURCE_LIST), deadline: Date.now() + 30_000 });
const evaluate = async (runner: Runner, image: string): Promise<string> => decode((await (runner.evaluator?.evaluate(req(image)) ?? Promise.reject(new Error("no evaluator")))).log);

type FunctionConfigObject = KubeObject & { spec: Record<string, unknown>; status?: { functionRunnerObservedGeneration?: number; error?: string } };
const fc = (name: string): FunctionConfigObject | undefined => world.server.getObject<FunctionConfigObject>("functionconfigs", NS, name);
const observed = (name: string, generation: number) =>
  world.server.waitForObject<FunctionConfigObject>(
    "functionconfigs",
    NS,
    name,
    (o) => o.status?.functionRunnerObservedGeneration === generation && (o.metadata.finalizers ?? []).includes(FUNCTION_RUNNER_FINALIZER),
    10_000,
  );

describe("Porch's 22-/23- manifests in the cluster", () => {
  test("every FunctionConfig gets the function runner's finalizer and status; goExecutor is said once to fall through", async () => {
    const { runner, logger } = await world.runner(["--functions", fnsDir], {}, { start: true });
    const names = manifests("head-23-function-configurations.yaml").map((o) => o.metadata.name ?? "");
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) await observed(name, 1);
    // Merge patch of the status: what other components write stays.
    const other = fc("apply-setters");
    expect(other?.status).toEqual({ functionRunnerObservedGeneration: 1 });
    const go = logger.lines.filter((l) => l.includes("goExecutor is not run here") && l.includes('"name":"apply-replacements"'));
    expect(go).toHaveLength(1);
    // Porch's own binaryExecutor entries resolve to --functions (default prefix and explicit prefix).
    expect(runner.kube.functionConfigs.binaryFor("ghcr.io/kptdev/krm-functions-catalog/apply-setters:v0.2.0")?.binary).toBe(join(fnsDir, "apply-setters"));
    expect(runner.kube.functionConfigs.binaryFor("ghcr.io/kptdev/krm-functions-catalog/apply-setters:v0.2.2")).toBeUndefined();
    await runner.close();
  });
});

describe("start-up", () => {
  test("a slow FunctionConfig list does not hold up serving; the configs arrive when it answers", async () => {
    const fault = world.server.faults.add({ match: { resource: "functionconfigs", verb: "list" }, times: 1, action: { latencyMs: 1_500 } });
    const t0 = Date.now();
    const { runner, logger } = await world.runner(["--functions", fnsDir], {}, { start: true, kube: { functionConfigWatch: { retryMs: 50, firstSyncTimeoutMs: 200 } } });
    try {
      expect(Date.now() - t0).toBeLessThan(1_400);
      expect(logger.lines.some((l) => l.includes("FunctionConfigs not listed yet"))).toBe(true);
      const deadline = Date.now() + 10_000;
      while (runner.kube.functionConfigs.size === 0 && Date.now() < deadline) await Bun.sleep(20);
      expect(runner.kube.functionConfigs.size).toBeGreaterThan(10);
    } finally {
      fault.remove();
      await runner.close();
    }
  });
});

describe("a FunctionConfig changed while the runner serves", () => {
  test("added: exec; tags changed: pod; changed back: exec; deleted: pod (finalizer removed), no restart", async () => {
    const { runner } = await world.runner(["--functions", fnsDir], {}, { start: true });
    const name = "set-namespace-local";
    const repo = v1.image.slice(0, v1.image.lastIndexOf("/"));
    try {
      // Nothing configured: the pod runtime runs it.
      expect(await evaluate(runner, v1.image)).not.toContain(MARKER);
      const podsBefore = world.podCreates();
      expect(podsBefore).toBeGreaterThan(0);

      world.server.seed(
        "functionconfigs",
        {
          apiVersion: GROUP,
          kind: "FunctionConfig",
          metadata: { name },
          spec: { image: "set-namespace", prefixes: [repo], binaryExecutor: { tags: ["v1"], path: "exec-marker.sh" }, podExecutor: { tags: ["v1"] } },
        },
        NS,
      );
      await observed(name, 1);
      expect(await evaluate(runner, v1.image)).toContain(MARKER);

      world.server.registry.patch("functionconfigs", NS, name, "merge", JSON.stringify({ spec: { binaryExecutor: { tags: ["v9"], path: "exec-marker.sh" } } }));
      await observed(name, 2);
      expect(await evaluate(runner, v1.image)).not.toContain(MARKER);

      world.server.registry.patch("functionconfigs", NS, name, "merge", JSON.stringify({ spec: { binaryExecutor: { tags: ["v1"], path: "exec-marker.sh" } } }));
      await observed(name, 3);
      expect(await evaluate(runner, v1.image)).toContain(MARKER);

      // Deleted: held by our finalizer until the runner lets it go.
      world.server.registry.delete("functionconfigs", NS, name, {});
      const deadline = Date.now() + 10_000;
      while (fc(name) !== undefined && Date.now() < deadline) await Bun.sleep(20);
      expect(fc(name)).toBeUndefined();
      expect(await evaluate(runner, v1.image)).not.toContain(MARKER);
    } finally {
      await runner.close();
    }
  });

  test("a binaryExecutor path missing from this image (Porch's image ships them, ours need not): the pod runtime runs it, said once", async () => {
    const img = await world.push("no-binary", "v1", [fixture("set-namespace.sh")]);
    const repo = img.image.slice(0, img.image.lastIndexOf("/"));
    world.server.seed(
      "functionconfigs",
      { apiVersion: GROUP, kind: "FunctionConfig", metadata: { name: "no-binary" }, spec: { image: "no-binary", prefixes: [repo], binaryExecutor: { tags: ["v1"], path: "no-binary" } } },
      NS,
    );
    const { runner, logger } = await world.runner(["--functions", fnsDir], {}, { start: true });
    try {
      await observed("no-binary", 1);
      for (let i = 0; i < 2; i++) expect(await evaluate(runner, img.image)).toContain("namespace prod");
      expect(logger.lines.filter((l) => l.includes("binaryExecutor path does not exist"))).toHaveLength(1);
    } finally {
      await runner.close();
    }
  });

  test("a spec the runner cannot apply: status.error says why; fixed: cleared", async () => {
    const { runner } = await world.runner(["--functions", fnsDir], {}, { start: true });
    const name = "bad-ttl";
    try {
      world.server.seed(
        "functionconfigs",
        { apiVersion: GROUP, kind: "FunctionConfig", metadata: { name }, spec: { image: "bad", podExecutor: { timeToLive: "soon" } } },
        NS,
      );
      const bad = await world.server.waitForObject<FunctionConfigObject>("functionconfigs", NS, name, (o) => (o.status?.error ?? "") !== "", 10_000);
      expect(bad.status?.error).toContain("timeToLive");
      world.server.registry.patch("functionconfigs", NS, name, "merge", JSON.stringify({ spec: { podExecutor: { timeToLive: "5m" } } }));
      const good = await observed(name, 2);
      expect(good.status?.error).toBeUndefined();
    } finally {
      await runner.close();
    }
  });
});

describe("what the runner creates follows the cluster's templates", () => {
  test("podExecutor templateOverrides and TTL reach the pod; a customised base-service-template shapes the Service", async () => {
    const img = await world.push("set-annotations", "v2", [fixture("set-namespace.sh")]);
    const repo = img.image.slice(0, img.image.lastIndexOf("/"));
    world.server.registry.patch(
      "servicetemplates",
      NS,
      "base-service-template",
      "merge",
      JSON.stringify({
        template: {
          metadata: { labels: { "mesh.example/enabled": "true" }, annotations: { "mesh.example/protocol": "grpc" } },
          spec: { ports: [{ name: "grpc-wrapper", appProtocol: "grpc", port: 9446, protocol: "TCP", targetPort: 9446 }] },
        },
      }),
    );
    world.server.seed(
      "functionconfigs",
      {
        apiVersion: GROUP,
        kind: "FunctionConfig",
        metadata: { name: "set-annotations-local" },
        spec: {
          image: "set-annotations",
          prefixes: [repo],
          podExecutor: {
            tags: ["v2"],
            timeToLive: "7m",
            templateOverrides: {
              container: { env: [{ name: "FN_MODE", value: "strict" }], resources: { limits: { memory: "256Mi" } } },
              initContainer: { resources: { requests: { cpu: "10m" } } },
            },
          },
        },
      },
      NS,
    );
    const { runner } = await world.runner(["--functions", fnsDir], {}, { start: true });
    try {
      await observed("set-annotations-local", 1);
      const before = Date.now();
      expect(await evaluate(runner, img.image)).toContain("namespace prod");
      const pod = functionPods(world.server).find((p) => p.spec?.containers?.[0]?.image?.endsWith(img.digest)) as WirePod;
      const fnContainer = pod.spec?.containers?.find((c) => c.name === "function");
      expect(fnContainer?.env).toEqual([{ name: "FN_MODE", value: "strict" }]);
      expect(fnContainer?.resources?.limits).toEqual({ memory: "256Mi" });
      expect(pod.spec?.initContainers?.[0]?.resources?.requests).toEqual({ cpu: "10m" });
      // The 22- template's annotations as written, no more.
      expect(pod.metadata?.annotations?.["cluster-autoscaler.kubernetes.io/safe-to-evict"]).toBe("true");
      const reclaim = Number(pod.metadata?.annotations?.["fn.kpt.dev/reclaim-after"]) * 1000;
      expect(reclaim).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 7 * 60_000);
      expect(reclaim).toBeLessThan(before + 8 * 60_000);
      const id = pod.metadata?.labels?.["fn.kpt.dev/image"] ?? "";
      const svc = world.server.getObject<WireService>("services", NS, id);
      expect(svc?.metadata?.labels).toEqual({ "mesh.example/enabled": "true", "app.kubernetes.io/name": id });
      expect(svc?.metadata?.annotations).toEqual({ "mesh.example/protocol": "grpc" });
      expect(svc?.spec?.ports?.map((p) => [p.name, p.appProtocol, p.port])).toEqual([["grpc-wrapper", "grpc", 9446]]);
      expect(svc?.spec?.selector).toEqual({ "fn.kpt.dev/image": id });
    } finally {
      await runner.close();
    }
  });
});
