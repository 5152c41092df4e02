// Pod reuse over time and garbage collection, with an injectable clock:
// reclaim-after extended on use (at most once per patch interval), expired
// and failed pods deleted with their Services, busy pods and anything
// without our label left alone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { RECLAIM_AFTER_ANNOTATION } from "../../src/kube/pod-template.ts";
import type { WirePod } from "../support/kube/index.ts";
import { decode, encode, fixture, RESOURCE_LIST, tempDir } from "./helpers.ts";
import { functionPods, manualClock, NS, type PodWorld, startPodWorld } from "./pod-helpers.ts";

let world: PodWorld;

beforeAll(async () => {
  world = await startPodWorld();
});
afterAll(async () => {
  await world?.stop();
});

const MIN = 60_000;
const TTL = 30 * MIN;
const req = (image: string, deadlineMs = 30_000) => ({ image, resourceList: encode(RESOURCE_LIST), deadline: Date.now() + deadlineMs });
const podsOf = (digest: string): WirePod[] =>
  functionPods(world.server).filter((p) => p.spec?.containers?.[0]?.image?.endsWith(digest) && p.metadata?.deletionTimestamp === undefined);
const reclaimAfter = (p: WirePod | undefined): number => Number(p?.metadata?.annotations?.[RECLAIM_AFTER_ANNOTATION] ?? "NaN");
const sec = (ms: number): number => Math.floor(ms / 1000);

describe("reclaim-after follows use", () => {
  test("set to now + --pod-ttl at creation; patched on use only once it lags by the patch interval (60 s)", async () => {
    const img = await world.push("set-namespace", "ttl-1", [fixture("set-namespace.sh")]);
    const clock = manualClock(Date.UTC(2030, 0, 1));
    const t0 = clock.now();
    const { pod } = await world.runner([], { clock });
    await pod.evaluate(req(img.image));
    expect(reclaimAfter(podsOf(img.digest)[0])).toBe(sec(t0 + TTL));

    world.server.clearRequests();
    clock.advance(30_000);
    await pod.evaluate(req(img.image));
    clock.advance(29_000);
    await pod.evaluate(req(img.image));
    await Bun.sleep(50);
    expect(world.server.requests().filter((e) => e.verb === "patch")).toEqual([]);

    clock.advance(2_000); // 61 s after creation
    await pod.evaluate(req(img.image));
    const patch = await world.server.waitForRequest((e) => e.verb === "patch" && e.resource === "pods", 5_000);
    expect(patch.contentType).toContain("application/json-patch+json");
    expect(patch.body).toEqual([{ op: "add", path: "/metadata/annotations/fn.kpt.dev~1reclaim-after", value: String(sec(t0 + 61_000 + TTL)) }]);
    expect(reclaimAfter(podsOf(img.digest)[0])).toBe(sec(t0 + 61_000 + TTL));
    // Within the next interval: no further patch.
    clock.advance(10_000);
    await pod.evaluate(req(img.image));
    await Bun.sleep(50);
    expect(world.server.requests().filter((e) => e.verb === "patch")).toHaveLength(1);
  });
});

describe("garbage collection", () => {
  test("an expired idle pod is deleted with its Service; the next evaluation starts a new pod", async () => {
    const img = await world.push("set-namespace", "gc-expired", [fixture("set-namespace.sh")]);
    const clock = manualClock(Date.UTC(2030, 1, 1));
    const { pod } = await world.runner([], { clock });
    await pod.evaluate(req(img.image));
    const first = podsOf(img.digest)[0];
    const id = first?.metadata?.labels?.["fn.kpt.dev/image"] ?? "";

    clock.advance(TTL - 1_000);
    let report = await pod.gc.scan();
    expect(report.deleted.map((d) => d.pod)).not.toContain(first?.metadata?.name);
    expect(podsOf(img.digest)).toHaveLength(1);

    clock.advance(2_000);
    report = await pod.gc.scan();
    expect(report.deleted).toContainEqual({ pod: first?.metadata?.name ?? "", reason: "expired" });
    expect(report.services).toContain(id);
    await world.server.settle();
    expect(podsOf(img.digest)).toEqual([]);
    expect(world.server.getObject("services", NS, id)).toBeUndefined();
    expect(pod.cache.slotById(id)).toBeUndefined();

    world.server.clearRequests();
    const r = await pod.evaluate(req(img.image));
    expect(decode(r.log)).toContain("namespace prod");
    expect(world.server.requests().filter((e) => e.verb === "create").map((e) => e.resource).sort()).toEqual(["pods", "services"]);
  });

  test("a pod used here since its annotation was written is extended, not deleted", async () => {
    const img = await world.push("set-namespace", "gc-extend", [fixture("set-namespace.sh")]);
    const clock = manualClock(Date.UTC(2030, 2, 1));
    const t0 = clock.now();
    // No patches on use: only the collector writes.
    const { pod } = await world.runner([], { clock, patchIntervalMs: 24 * 60 * MIN });
    await pod.evaluate(req(img.image));
    clock.advance(29 * MIN);
    await pod.evaluate(req(img.image));
    clock.advance(2 * MIN); // the annotation (t0 + 30m) has passed; the last use was 2 min ago
    const name = podsOf(img.digest)[0]?.metadata?.name ?? "";
    const report = await pod.gc.scan();
    expect(report.deleted.map((d) => d.pod)).not.toContain(name);
    expect(report.extended).toEqual([name]);
    expect(reclaimAfter(podsOf(img.digest)[0])).toBe(sec(t0 + 29 * MIN + TTL));
  });

  test("a failed pod is deleted with its Service, whatever its TTL", async () => {
    const img = await world.push("set-namespace", "gc-failed", [fixture("set-namespace.sh")]);
    const { pod } = await world.runner([], { clock: manualClock() });
    await pod.evaluate(req(img.image));
    const p = podsOf(img.digest)[0];
    const id = p?.metadata?.labels?.["fn.kpt.dev/image"] ?? "";
    world.server.kubelet.failPod(p?.metadata?.name ?? "", { namespace: NS });
    const report = await pod.gc.scan();
    expect(report.deleted).toContainEqual({ pod: p?.metadata?.name ?? "", reason: "failed" });
    expect(report.services).toContain(id);
    expect(world.server.getObject("services", NS, id)).toBeUndefined();
  });

  test("a pod with an evaluation in flight is kept past its reclaim-after", async () => {
    const dir = tempDir("fr-pod-hang-");
    const img = await world.push("hang", "gc-busy", [fixture("hang.sh"), join(dir, "pids")]);
    const clock = manualClock(Date.UTC(2030, 3, 1));
    const { pod } = await world.runner([], { clock });
    const call = pod.evaluate(req(img.image, 6_000)).catch((e: Error & { code?: string }) => e);
    // Wait until the call runs on the pod.
    for (let i = 0; i < 250 && (podsOf(img.digest)[0]?.status?.phase !== "Running" || pod.cache.allPools().every((p) => [...p.slots.values()].every((s) => s.inFlight === 0))); i++) {
      await Bun.sleep(20);
    }
    clock.advance(TTL + MIN);
    const report = await pod.gc.scan();
    expect(report.deleted.map((d) => d.pod)).not.toContain(podsOf(img.digest)[0]?.metadata?.name);
    expect(podsOf(img.digest)).toHaveLength(1);
    const err = (await call) as Error & { code?: string };
    expect(err.code).toBe("TIMEOUT");
    // The call ended just now (by the clock): its end counts as use. Once idle for a TTL, the next scan takes it.
    clock.advance(TTL + MIN);
    const again = await pod.gc.scan();
    expect(again.deleted.map((d) => d.reason)).toContain("expired");
    rmSync(dir, { recursive: true, force: true });
  }, 30_000); // The call runs up to its 6 s deadline: more than bun test's default 5 s when this file runs alone.

  test("pods without the function label, and Services that do not select on it, are never touched", async () => {
    world.server.seed("pods", { metadata: { name: "bystander", labels: { app: "other" } }, spec: { containers: [{ name: "c", image: "example.com/x:1" }] } }, NS);
    world.server.seed("services", { metadata: { name: "bystander" }, spec: { selector: { app: "other" }, ports: [{ port: 80 }] } }, NS);
    const clock = manualClock(Date.now() + 365 * 24 * 60 * MIN);
    const { pod } = await world.runner([], { clock, orphanServiceGraceMs: 0 });
    await pod.gc.scan();
    expect(world.server.getObject("pods", NS, "bystander")).toBeDefined();
    expect(world.server.getObject("services", NS, "bystander")).toBeDefined();
  });

  test("a function Service whose pods are all gone is deleted after the grace period", async () => {
    world.server.seed(
      "services",
      { metadata: { name: "orphan-fn-1-0123abcd" }, spec: { selector: { "fn.kpt.dev/image": "orphan-fn-1-0123abcd" }, ports: [{ port: 9446 }] } },
      NS,
    );
    const clock = manualClock();
    const { pod } = await world.runner([], { clock, orphanServiceGraceMs: 5 * MIN });
    expect((await pod.gc.scan()).services).not.toContain("orphan-fn-1-0123abcd");
    clock.advance(6 * MIN);
    expect((await pod.gc.scan()).services).toContain("orphan-fn-1-0123abcd");
    expect(world.server.getObject("services", NS, "orphan-fn-1-0123abcd")).toBeUndefined();
  });

  test("every --scan-interval the collector runs by itself", async () => {
    const img = await world.push("set-namespace", "gc-timer", [fixture("set-namespace.sh")]);
    const clock = manualClock(Date.UTC(2031, 0, 1));
    const { pod, logger } = await world.runner(["--scan-interval", "100ms"], { clock });
    await pod.evaluate(req(img.image));
    const name = podsOf(img.digest)[0]?.metadata?.name ?? "";
    clock.advance(TTL + MIN);
    try {
      const deleted = await world.server.waitForRequest((e) => e.verb === "delete" && e.resource === "pods" && e.name === name, 3_000);
      expect(deleted.status).toBe(200);
    } catch (e) {
      console.log(logger.lines.join("\n"));
      throw e;
    }
  });
});
