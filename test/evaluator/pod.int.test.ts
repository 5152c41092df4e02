// The pod runtime end to end: pods and Services created through the test API
// server, the simulated kubelet running our wrapper server per pod, the
// function really evaluated over gRPC.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isRunnerError } from "../../src/errors.ts";
import { BASE_POD_TEMPLATE_NAME, TEMPLATE_VERSION_ANNOTATION } from "../../src/kube/pod-template.ts";
import type { WireEndpoints, WirePod, WireService } from "../support/kube/index.ts";
import { decode, encode, fixture, RESOURCE_LIST } from "./helpers.ts";
import { functionPods, NS, type PodWorld, startPodWorld } from "./pod-helpers.ts";

let world: PodWorld;
let setNs: { image: string; digest: string };
let failing: { image: string; digest: string };

beforeAll(async () => {
  world = await startPodWorld();
  setNs = await world.push("set-namespace", "v1", [fixture("set-namespace.sh")]);
  failing = await world.push("validate", "v1", [fixture("fail-results.sh")]);
});
afterAll(async () => {
  await world?.stop();
});

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("expected a rejection");
}

const req = (image: string, deadlineMs = 30_000) => ({ image, resourceList: encode(RESOURCE_LIST), deadline: Date.now() + deadlineMs });

describe("a new image", () => {
  test("20 parallel evaluations create one Service and one pod; all are answered by the function", async () => {
    const { pod } = await world.runner();
    world.server.clearRequests();
    const results = await Promise.all(Array.from({ length: 20 }, () => pod.evaluate(req(setNs.image))));
    for (const r of results) {
      expect(decode(r.resourceList)).toContain("- message: namespace set on 2 resources");
      expect(decode(r.log)).toBe("set-namespace: 2 resources now in namespace prod\n");
    }
    const creates = world.server.requests().filter((r) => r.verb === "create");
    expect(creates.filter((r) => r.resource === "pods")).toHaveLength(1);
    expect(creates.filter((r) => r.resource === "services")).toHaveLength(1);
    const pods = functionPods(world.server).filter((p) => p.spec?.containers?.[0]?.image?.endsWith(setNs.digest));
    expect(pods).toHaveLength(1);
    const p = pods[0] as WirePod;
    const id = p.metadata?.labels?.["fn.kpt.dev/image"] ?? "";
    expect(p.metadata?.name).toBe(id);
    // The Service selects the pod; its Endpoints list the pod IP.
    const svc = world.server.getObject<WireService>("services", NS, id);
    expect(svc?.spec?.selector).toEqual({ "fn.kpt.dev/image": id });
    const ep = world.server.getObject<WireEndpoints>("endpoints", NS, id);
    expect(ep?.subsets?.[0]?.addresses?.map((a) => a.ip)).toEqual([p.status?.podIP ?? ""]);
    // The pod runs the pinned digest behind the wrapper server.
    expect(p.spec?.containers?.[0]?.image).toBe(`${world.reg.host}/fns/set-namespace@${setNs.digest}`);
    expect(p.metadata?.annotations?.["fn.kpt.dev/reclaim-after"]).toMatch(/^\d+$/);
  });

  test("a later evaluation reuses the pod: no create, one check of pod and Service", async () => {
    const { pod } = await world.runner([], { validateAfterMs: 0 });
    await pod.evaluate(req(setNs.image));
    world.server.clearRequests();
    const r = await pod.evaluate(req(setNs.image));
    expect(decode(r.log)).toContain("namespace prod");
    const log = world.server.requests().filter((e) => e.resource === "pods" || e.resource === "services");
    expect(log.filter((e) => e.verb === "create")).toEqual([]);
    expect(log.map((e) => `${e.verb} ${e.resource} ${e.status}`).sort()).toEqual(["get pods 200", "get services 200"]);
  });

  test("a failing function is INTERNAL with its structured results and stderr, as Porch passes it through", async () => {
    const { pod } = await world.runner();
    const err = await rejection(pod.evaluate(req(failing.image)));
    expect(isRunnerError(err) && err.code).toBe("INTERNAL");
    expect(err.message).toContain(`failed to evaluate function "${failing.image}" with structured results: `);
    expect(err.message).toContain("replicas must be at most 3");
    expect(err.message).toContain("and stderr: validate: 1 error, 1 warning");
  });

  test("an image missing from the registry is its registry error, never NOT_FOUND", async () => {
    const { pod } = await world.runner();
    const err = await rejection(pod.evaluate(req(`${world.reg.host}/fns/absent:v1`)));
    expect(isRunnerError(err) && err.code).not.toBe("NOT_FOUND");
    expect(isRunnerError(err) && ["MANIFEST_UNKNOWN", "NAME_UNKNOWN"].includes(err.code)).toBe(true);
  });
});

describe("replacement", () => {
  test("a failed pod is replaced on the next evaluation (same Service, a new pod)", async () => {
    const img = await world.push("set-namespace", "v-fail", [fixture("set-namespace.sh")]);
    const { pod } = await world.runner([], { validateAfterMs: 0 });
    await pod.evaluate(req(img.image));
    const first = functionPods(world.server).find((p) => p.spec?.containers?.[0]?.image?.endsWith(img.digest));
    const name = first?.metadata?.name ?? "";
    world.server.kubelet.failPod(name, { namespace: NS, reason: "OOMKilled", message: "out of memory" });
    world.server.clearRequests();
    const r = await pod.evaluate(req(img.image));
    expect(decode(r.log)).toContain("namespace prod");
    expect(world.server.requests().filter((e) => e.verb === "create" && e.resource === "pods")).toHaveLength(1);
    expect(world.server.requests().filter((e) => e.verb === "delete" && e.resource === "pods" && e.name === name)).toHaveLength(1);
    const now = functionPods(world.server).filter((p) => p.spec?.containers?.[0]?.image?.endsWith(img.digest));
    expect(now).toHaveLength(1);
    expect(now[0]?.metadata?.uid).not.toBe(first?.metadata?.uid);
    expect(now[0]?.status?.phase).toBe("Running");
  });

  test("a pod whose process died is noticed at the call (unreachable), checked, replaced, and the call succeeds", async () => {
    const img = await world.push("set-namespace", "v-died", [fixture("set-namespace.sh")]);
    // Validation only on failure: the dead pod is found by the call itself.
    const { pod, logger } = await world.runner([], { validateAfterMs: 3_600_000 });
    await pod.evaluate(req(img.image));
    const first = functionPods(world.server).find((p) => p.spec?.containers?.[0]?.image?.endsWith(img.digest));
    world.server.kubelet.failPod(first?.metadata?.name ?? "", { namespace: NS });
    await world.server.settle();
    const r = await pod.evaluate(req(img.image));
    expect(decode(r.log)).toContain("namespace prod");
    const now = functionPods(world.server).filter((p) => p.spec?.containers?.[0]?.image?.endsWith(img.digest));
    expect(now.map((p) => p.status?.phase)).toEqual(["Running"]);
    expect(logger.lines.some((l) => l.includes("function pod unreachable; checking it and trying again"))).toBe(true);
  });

  test("a new base-pod-template version replaces the pod: at the reuse check, and when another runner meets it on create", async () => {
    const img = await world.push("set-namespace", "v-tmpl", [fixture("set-namespace.sh")]);
    const mine = (p: WirePod) => p.spec?.containers?.[0]?.image?.endsWith(img.digest) === true && p.metadata?.deletionTimestamp === undefined;
    const editTemplate = (): string => {
      world.server.registry.mutate("podtemplates", NS, BASE_POD_TEMPLATE_NAME, (t) => {
        t.metadata.labels = { ...t.metadata.labels, edited: String(Date.now()) };
      });
      return world.server.getObject<{ metadata: { resourceVersion: string } }>("podtemplates", NS, BASE_POD_TEMPLATE_NAME)?.metadata.resourceVersion ?? "";
    };
    const a = await world.runner([], { validateAfterMs: 0 });
    await a.pod.evaluate(req(img.image));
    const first = functionPods(world.server).find(mine);
    const v2 = editTemplate();
    expect(v2).not.toBe(first?.metadata?.annotations?.[TEMPLATE_VERSION_ANNOTATION]);
    await a.pod.evaluate(req(img.image));
    const second = functionPods(world.server).filter(mine);
    expect(second).toHaveLength(1);
    expect(second[0]?.metadata?.annotations?.[TEMPLATE_VERSION_ANNOTATION]).toBe(v2);
    expect(second[0]?.metadata?.uid).not.toBe(first?.metadata?.uid);
    expect(a.logger.lines.some((l) => l.includes('"msg":"function pod replaced"') && l.includes("the pod template changed"))).toBe(true);

    // Another runner, after one more edit: its create meets the old pod's name, deletes it, creates `<id>-<random>`.
    const v3 = editTemplate();
    const b = await world.runner([], { validateAfterMs: 0 });
    await b.pod.evaluate(req(img.image));
    const third = functionPods(world.server).filter(mine);
    expect(third).toHaveLength(1);
    const id = third[0]?.metadata?.labels?.["fn.kpt.dev/image"] ?? "";
    expect(third[0]?.metadata?.annotations?.[TEMPLATE_VERSION_ANNOTATION]).toBe(v3);
    expect(third[0]?.metadata?.name).toMatch(new RegExp(`^${id}-[a-z0-9]{5}$`));
    // The Service (selecting on the label) serves the replacement.
    const ep = world.server.getObject<WireEndpoints>("endpoints", NS, id);
    expect(ep?.subsets?.[0]?.addresses?.map((x) => x.targetRef?.name)).toEqual([third[0]?.metadata?.name ?? ""]);
  });
});

describe("adoption", () => {
  test("a runner started later adopts running pods: no create, it answers through them", async () => {
    const img = await world.push("set-namespace", "v-adopt", [fixture("set-namespace.sh")]);
    const a = await world.runner();
    await a.pod.evaluate(req(img.image));
    world.server.clearRequests();
    const b = await world.runner();
    await b.pod.start();
    expect(b.pod.cache.adoptedCount()).toBeGreaterThan(0);
    const r = await b.pod.evaluate(req(img.image));
    expect(decode(r.log)).toContain("namespace prod");
    expect(world.server.requests().filter((e) => e.verb === "create" && e.resource === "pods")).toEqual([]);
    expect(b.logger.lines.some((l) => l.includes("existing function pods adopted"))).toBe(true);
  });

  test("two runners racing for one image meet on the pod's fixed name: one create succeeds, the other adopts", async () => {
    const img = await world.push("set-namespace", "v-race", [fixture("set-namespace.sh")]);
    const a = await world.runner();
    const b = await world.runner();
    await Promise.all([a.pod.start(), b.pod.start()]);
    world.server.clearRequests();
    await Promise.all([a.pod.evaluate(req(img.image)), b.pod.evaluate(req(img.image))]);
    const creates = world.server.requests().filter((e) => e.verb === "create" && e.resource === "pods");
    expect(creates.map((e) => e.status).sort()).toEqual([201, 409]);
    expect(functionPods(world.server).filter((p) => p.spec?.containers?.[0]?.image?.endsWith(img.digest))).toHaveLength(1);
  });
});

describe("scale-out and the waitlist", () => {
  test("--max-parallel-pods-per-function 2 --max-waitlist-length 1: concurrent calls spread over two pods", async () => {
    const img = await world.push("set-namespace", "v-par", [fixture("set-namespace.sh")]);
    const { pod } = await world.runner(["--max-parallel-pods-per-function", "2", "--max-waitlist-length", "1"]);
    world.server.clearRequests();
    const results = await Promise.all(Array.from({ length: 6 }, () => pod.evaluate(req(img.image))));
    expect(results).toHaveLength(6);
    const pods = functionPods(world.server).filter((p) => p.spec?.containers?.[0]?.image?.endsWith(img.digest));
    expect(pods).toHaveLength(2);
    const ids = pods.map((p) => p.metadata?.labels?.["fn.kpt.dev/image"] ?? "").sort();
    // Each instance has its own pod id (ordinal 1 and 2) and Service.
    expect(ids[0]).toMatch(/-1-[0-9a-f]{8}$/);
    expect(ids[1]).toMatch(/-2-[0-9a-f]{8}$/);
    for (const id of ids) expect(world.server.getObject("services", NS, id)).toBeDefined();
  });

  test("more waiting calls than --max-pending-evaluations: the rest are TOO_MANY_REQUESTS", async () => {
    const img = await world.push("set-namespace", "v-full", [fixture("set-namespace.sh")]);
    world.server.kubelet.configure({ startDelayMs: 400 });
    try {
      const { pod } = await world.runner(["--max-pending-evaluations", "3"]);
      const settled = await Promise.allSettled(Array.from({ length: 5 }, () => pod.evaluate(req(img.image))));
      const refused = settled.filter((s) => s.status === "rejected");
      expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(3);
      expect(refused).toHaveLength(2);
      for (const r of refused) {
        const e = (r as PromiseRejectedResult).reason as Error & { code?: string };
        expect(e.code).toBe("TOO_MANY_REQUESTS");
        expect(e.message).toContain("--max-pending-evaluations 3");
      }
    } finally {
      world.server.kubelet.configure({ startDelayMs: 0 });
    }
  });

  test("a caller whose deadline passes while the pod starts gets TIMEOUT; the pod still comes up for the next", async () => {
    const img = await world.push("set-namespace", "v-slow", [fixture("set-namespace.sh")]);
    world.server.kubelet.configure({ startDelayMs: 800 });
    try {
      const { pod } = await world.runner();
      const err = await rejection(pod.evaluate(req(img.image, 200)));
      expect(err.code).toBe("TIMEOUT");
      expect(err.message).toContain("was starting");
      world.server.clearRequests();
      const r = await pod.evaluate(req(img.image));
      expect(decode(r.log)).toContain("namespace prod");
      expect(world.server.requests().filter((e) => e.verb === "create" && e.resource === "pods")).toEqual([]);
    } finally {
      world.server.kubelet.configure({ startDelayMs: 0 });
    }
  });

  test("a pod that never becomes ready: TIMEOUT after --pod-ready-timeout naming its state; it is removed", async () => {
    const img = await world.push("set-namespace", "v-stuck", [fixture("set-namespace.sh")]);
    world.server.kubelet.configure({ readyOnStart: false });
    try {
      const { pod } = await world.runner(["--pod-ready-timeout", "3s"]);
      const err = await rejection(pod.evaluate(req(img.image)));
      expect(err.code).toBe("TIMEOUT");
      expect(err.message).toContain("was not ready within 3 s");
      expect(err.message).toContain("running, not ready");
      await world.server.waitForRequest((e) => e.verb === "delete" && e.resource === "pods", 5_000);
    } finally {
      world.server.kubelet.configure({ readyOnStart: true });
    }
  });
});
