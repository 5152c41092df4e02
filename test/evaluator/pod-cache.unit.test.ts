// The pod runtime's pure parts: pod choice and the waitlist bound, TTL and
// reclaim-after bookkeeping with a fake clock, the collector's verdicts, pod
// health, gRPC error mapping, addresses, flags.
import { describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import type { V1Pod } from "@kubernetes/client-node";
import { parseCommandLine } from "../../src/config/config.ts";
import { FlagError } from "../../src/config/flags.ts";
import { PodCache, type PodCacheOptions } from "../../src/evaluator/pod-cache.ts";
import { endpointsList, formatReclaimAfter, parseReclaimAfter, podHealth } from "../../src/evaluator/pod-facts.ts";
import { errorFromGrpc, PodUnreachableError, podAddress } from "../../src/evaluator/pod-grpc.ts";
import type { PodTarget } from "../../src/evaluator/pod-slot.ts";
import { judgePod } from "../../src/evaluator/pod-verdict.ts";
import { Waitlist } from "../../src/evaluator/waitlist.ts";
import { manualClock } from "./pod-helpers.ts";

const MIN = 60_000;

function cache(opts: Partial<PodCacheOptions> = {}) {
  const clock = manualClock(1_000_000_000_000);
  return { clock, cache: new PodCache({ clock, ttlMs: 30 * MIN, maxParallel: 1, maxWaitlist: 2, maxPending: 100, ...opts }) };
}
const ids = (postfix: string): string => `fn-v1-${postfix}-abcdef01`;
const target = (name: string): PodTarget => ({
  podName: name,
  podUid: `uid-${name}`,
  podIP: "10.0.0.1",
  serviceName: name,
  namespace: "ns",
  templateVersion: "7",
  address: "10.0.0.1:9446",
  hasAnnotations: true,
});

describe("choosing a pod", () => {
  test("no pod: start instance 1; while it starts, later requests queue on it (one pod for concurrent first requests)", () => {
    const { cache: c } = cache();
    const pool = c.pool("k", "img", ids);
    expect(c.choose(pool)).toEqual({ kind: "create", postfix: "1" });
    const slot = c.addStarting(pool, "1");
    c.queue(slot);
    for (let i = 0; i < 19; i++) {
      const choice = c.choose(pool);
      expect(choice.kind).toBe("use");
      c.queue(slot);
    }
    expect(slot.id).toBe("fn-v1-1-abcdef01");
  });

  test("scale-out: once the best pod carries --max-waitlist-length, instance 2 starts (up to --max-parallel-pods-per-function)", () => {
    const { cache: c } = cache({ maxParallel: 2, maxWaitlist: 1 });
    const pool = c.pool("k", "img", ids);
    const one = c.addStarting(pool, "1");
    c.markReady(one, target("a"), 0);
    expect(c.choose(pool)).toEqual({ kind: "use", slot: one });
    c.begin(one);
    expect(c.choose(pool)).toEqual({ kind: "create", postfix: "2" });
    const two = c.addStarting(pool, "2");
    c.queue(two);
    // Both carry 1: round-robin, never a third pod.
    const picks = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const choice = c.choose(pool);
      expect(choice.kind).toBe("use");
      if (choice.kind === "use") picks.add(choice.slot.postfix);
    }
    expect([...picks].sort()).toEqual(["1", "2"]);
  });

  test("--max-waitlist-length 0: every pod counts as full, so pods are added up to the maximum", () => {
    const { cache: c } = cache({ maxParallel: 3, maxWaitlist: 0 });
    const pool = c.pool("k", "img", ids);
    c.markReady(c.addStarting(pool, "1"), target("a"), 0);
    expect(c.choose(pool)).toEqual({ kind: "create", postfix: "2" });
  });

  test("--max-pending-evaluations: requests waiting for starting pods beyond it are refused", () => {
    const { cache: c } = cache({ maxPending: 3 });
    const pool = c.pool("k", "img", ids);
    const slot = c.addStarting(pool, "1");
    for (let i = 0; i < 3; i++) c.queue(slot);
    expect(c.choose(pool)).toEqual({ kind: "full", waiting: 3 });
    // A ready pod takes any number of concurrent calls.
    c.markReady(slot, target("a"), 0);
    for (let i = 0; i < 3; i++) c.dequeue(slot);
    for (let i = 0; i < 50; i++) c.begin(slot);
    expect(c.choose(pool).kind).toBe("use");
  });

  test("an emptied pool is forgotten; a pod found at start-up joins the pool of its image as a ready slot, checked before first use", () => {
    const { cache: c } = cache({ maxParallel: 2 });
    expect(c.adopt({ slotId: ids("2"), target: target("b"), reclaimAfterMs: 5 })).toBe(true);
    const pool = c.pool("k", "img", ids);
    const adopted = pool.slots.get("2");
    expect(adopted?.state).toBe("ready");
    expect(adopted?.reclaimWrittenMs).toBe(5);
    expect(c.needsValidation(adopted as NonNullable<typeof adopted>)).toBe(true);
    expect(c.slotById(ids("2"))).toBe(adopted);
    c.remove(adopted as NonNullable<typeof adopted>);
    expect(c.slotById(ids("2"))).toBeUndefined();
    expect(c.allPools()).toEqual([]);
    // A slot in use cannot be adopted over.
    const s = c.addStarting(c.pool("k", "img", ids), "1");
    expect(c.adopt({ slotId: s.id, target: target("c"), reclaimAfterMs: 0 })).toBe(false);
  });

  test("a ready slot is re-checked once validateAfterMs has passed, or at once after invalidate()", () => {
    const { cache: c, clock } = cache({ validateAfterMs: 1_000 });
    const slot = c.addStarting(c.pool("k", "img", ids), "1");
    c.markReady(slot, target("a"), 0);
    expect(c.needsValidation(slot)).toBe(false);
    clock.advance(999);
    expect(c.needsValidation(slot)).toBe(false);
    clock.advance(1);
    expect(c.needsValidation(slot)).toBe(true);
    c.validated(slot);
    c.invalidate(slot);
    expect(c.needsValidation(slot)).toBe(true);
  });
});

describe("the cache owns its slots", () => {
  test("waiting requests are counted through queue and dequeue, and make a slot busy", () => {
    const { cache: c } = cache();
    const slot = c.addStarting(c.pool("k", "img", ids), "1");
    c.markReady(slot, target("a"), 0);
    expect(c.busy(slot.id)).toBe(false);
    c.queue(slot);
    c.queue(slot);
    expect(slot.waiting).toBe(2);
    expect(c.busy(slot.id)).toBe(true);
    c.dequeue(slot);
    c.dequeue(slot);
    expect(slot.waiting).toBe(0);
    expect(c.busy(slot.id)).toBe(false);
  });

  test("a slot or pool another cache made is refused", () => {
    const { cache: a } = cache();
    const { cache: b } = cache();
    const pool = a.pool("k", "img", ids);
    const slot = a.addStarting(pool, "1");
    expect(() => b.queue(slot)).toThrow("was not made by this cache");
    expect(() => b.markReady(slot, target("a"), 0)).toThrow("was not made by this cache");
    expect(() => b.choose(pool)).toThrow("was not made by this cache");
    expect(slot.state).toBe("starting");
  });
});

describe("reclaim-after", () => {
  test("a new pod: now + TTL; on use it is rewritten only once it lags by the patch interval", () => {
    const { cache: c, clock } = cache();
    const t0 = clock.now();
    expect(c.newReclaimAfter()).toBe(t0 + 30 * MIN);
    const slot = c.addStarting(c.pool("k", "img", ids), "1");
    c.markReady(slot, target("a"), c.newReclaimAfter());
    clock.advance(59_000);
    c.begin(slot);
    expect(c.end(slot)).toBeUndefined();
    clock.advance(1_000);
    c.begin(slot);
    const patch = c.end(slot);
    expect(patch).toBe(t0 + 60_000 + 30 * MIN);
    c.reclaimWritten(slot, patch ?? 0);
    clock.advance(30_000);
    c.begin(slot);
    expect(c.end(slot)).toBeUndefined();
  });

  test("a failed write puts the slot back, so the next end asks for the patch again", () => {
    const { cache: c, clock } = cache();
    const slot = c.addStarting(c.pool("k", "img", ids), "1");
    c.markReady(slot, target("a"), c.newReclaimAfter());
    const before = slot.reclaimWrittenMs;
    clock.advance(2 * MIN);
    c.begin(slot);
    const patch = c.end(slot) ?? 0;
    c.reclaimWritten(slot, patch);
    expect(slot.reclaimWrittenMs).toBe(patch);
    c.reclaimWriteFailed(slot, before);
    expect(slot.reclaimWrittenMs).toBe(before);
    c.begin(slot);
    expect(c.end(slot)).toBe(patch);
  });

  test("the annotation is unix seconds", () => {
    expect(formatReclaimAfter(1_700_000_000_999)).toBe("1700000000");
    expect(parseReclaimAfter("1700000000")).toBe(1_700_000_000_000);
    expect(parseReclaimAfter(" 1700000000 ")).toBe(1_700_000_000_000);
    for (const bad of [undefined, "", "soon", "-5", "1.5", "2024-01-01T00:00:00Z"]) expect(parseReclaimAfter(bad)).toBeUndefined();
  });
});

describe("garbage-collection verdicts", () => {
  const now = 1_000_000;
  const ttl = 1_000;
  const idle = { busy: false };
  test.each([
    ["terminating: left to Kubernetes", { deleting: true, phase: "Failed" }, idle, { action: "skip", reason: "deleting" }],
    ["failed: deleted even when busy", { deleting: false, phase: "Failed", reclaimAfterMs: now + 5 }, { busy: true }, { action: "delete", reason: "failed" }],
    ["succeeded: deleted", { deleting: false, phase: "Succeeded" }, idle, { action: "delete", reason: "failed" }],
    ["busy: kept past its reclaim-after", { deleting: false, phase: "Running", reclaimAfterMs: now - 5 }, { busy: true }, { action: "keep" }],
    ["not yet expired", { deleting: false, phase: "Running", reclaimAfterMs: now + 1 }, idle, { action: "keep" }],
    ["expired", { deleting: false, phase: "Running", reclaimAfterMs: now }, idle, { action: "delete", reason: "expired" }],
    [
      "expired by the annotation, used here since: extended",
      { deleting: false, phase: "Running", reclaimAfterMs: now - 10 },
      { busy: false, desiredReclaimAfterMs: now + 500 },
      { action: "extend", reclaimAfterMs: now + 500 },
    ],
    // Porch HEAD writes no reclaim-after: first seen + TTL, whatever the pod's age (Porch may be using it).
    ["no annotation: first seen + TTL", { deleting: false, phase: "Running" }, idle, { action: "extend", reclaimAfterMs: now + ttl }],
    [
      "no annotation, used here: the later of last use + TTL and first seen + TTL",
      { deleting: false, phase: "Running" },
      { busy: false, desiredReclaimAfterMs: now + 5 * ttl },
      { action: "extend", reclaimAfterMs: now + 5 * ttl },
    ],
    ["no annotation, older template: first seen + TTL too", { deleting: false, phase: "Running", templateVersion: "6" }, idle, { action: "extend", reclaimAfterMs: now + ttl }],
    ["older template, idle, not expired: kept (another runner may use it)", { deleting: false, phase: "Running", reclaimAfterMs: now + 99, templateVersion: "6" }, idle, { action: "keep" }],
    ["older template, expired", { deleting: false, phase: "Running", reclaimAfterMs: now, templateVersion: "6" }, idle, { action: "delete", reason: "stale-template" }],
    ["older template, busy", { deleting: false, phase: "Running", reclaimAfterMs: now + 99, templateVersion: "6" }, { busy: true }, { action: "keep" }],
  ] as const)("%s", (_name, pod, local, verdict) => {
    expect(judgePod(pod, local, now, ttl, "7")).toEqual(verdict);
  });

  test("unknown current template: no pod is judged by its version", () => {
    expect(judgePod({ deleting: false, phase: "Running", reclaimAfterMs: now + 9, templateVersion: "1" }, idle, now, ttl, undefined)).toEqual({ action: "keep" });
  });
});

describe("the waitlist of a starting pod", () => {
  test("every waiter gets the pod; one whose deadline passes leaves alone; joining after the start answers at once", async () => {
    const w = new Waitlist<string>();
    const timeout = () => new Error("deadline");
    const a = w.join({ onDeadline: timeout });
    const b = w.join({ deadline: Date.now() + 20, onDeadline: timeout });
    const c = w.join({ deadline: Date.now() + 10_000, onDeadline: timeout });
    expect(w.size).toBe(3);
    await expect(b).rejects.toThrow("deadline");
    expect(w.size).toBe(2);
    w.resolve("pod-a");
    expect(await a).toBe("pod-a");
    expect(await c).toBe("pod-a");
    expect(await w.join({ onDeadline: timeout })).toBe("pod-a");
    expect(w.size).toBe(0);
  });

  test("a failed start reaches every waiter; a cancelled waiter leaves", async () => {
    const w = new Waitlist<string>();
    const ac = new AbortController();
    const a = w.join({ onDeadline: () => new Error("deadline") });
    const b = w.join({ signal: ac.signal, onDeadline: () => new Error("deadline"), onAbort: () => new Error("cancelled") });
    ac.abort();
    await expect(b).rejects.toThrow("cancelled");
    w.reject(new Error("pod failed"));
    await expect(a).rejects.toThrow("pod failed");
    await expect(w.join({ onDeadline: () => new Error("x") })).rejects.toThrow("pod failed");
  });
});

describe("pod health", () => {
  const pod = (status: V1Pod["status"], metadata: V1Pod["metadata"] = {}): V1Pod => ({ metadata, status });
  const ready = [{ type: "Ready", status: "True" }];
  test("Running + Ready + IP", () => {
    expect(podHealth(pod({ phase: "Running", podIP: "10.1.2.3", conditions: ready }))).toEqual({ state: "ready", podIP: "10.1.2.3" });
  });
  test("pending, with the container's waiting reason", () => {
    const h = podHealth(pod({ phase: "Pending", containerStatuses: [{ name: "function", image: "x", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ImagePullBackOff", message: "back-off pulling" } } }] }));
    expect(h).toEqual({ state: "pending", why: "phase Pending: container function waiting: ImagePullBackOff: back-off pulling" });
  });
  test("running but not ready", () => {
    expect(podHealth(pod({ phase: "Running", podIP: "10.1.2.3", conditions: [{ type: "Ready", status: "False" }] }))).toEqual({ state: "pending", why: "running, not ready" });
  });
  test("failed, with reason and message; a hopeless image name fails at once", () => {
    expect(podHealth(pod({ phase: "Failed", reason: "Evicted", message: "low memory" }))).toEqual({ state: "failed", why: "phase Failed: Evicted: low memory" });
    const h = podHealth(pod({ phase: "Pending", containerStatuses: [{ name: "function", image: "x", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "InvalidImageName" } } }] }));
    expect(h.state).toBe("failed");
  });
  test("terminating", () => {
    expect(podHealth(pod({ phase: "Running", podIP: "10.1.2.3", conditions: ready }, { deletionTimestamp: new Date() }))).toEqual({ state: "deleting" });
  });
  test("endpoints list the pod by IP (and uid when they name one)", () => {
    const ep = { subsets: [{ addresses: [{ ip: "10.1.2.3", targetRef: { kind: "Pod", uid: "u1" } }], notReadyAddresses: [{ ip: "10.1.2.4" }] }] };
    expect(endpointsList(ep, "10.1.2.3", "u1")).toBe(true);
    expect(endpointsList(ep, "10.1.2.3", "u2")).toBe(false);
    expect(endpointsList(ep, "10.1.2.4")).toBe(false);
    expect(endpointsList(undefined, "10.1.2.3")).toBe(false);
  });
});

describe("gRPC answers of a pod", () => {
  const serviceError = (code: grpc.status, details: string, sentCode?: string): grpc.ServiceError => {
    const metadata = new grpc.Metadata();
    if (sentCode !== undefined) metadata.set("x-function-runner-error-code", sentCode);
    return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
  };
  test("INTERNAL (a failing function) passes through unchanged", () => {
    const e = errorFromGrpc(serviceError(grpc.status.INTERNAL, "failed to evaluate function \"x\" with structured results: [error] …"), "x", "ns/p");
    expect(e.code).toBe("INTERNAL");
    expect(e.message).toBe("failed to evaluate function \"x\" with structured results: [error] …");
  });
  test("UNAVAILABLE: the pod is unreachable (retried after a check)", () => {
    const e = errorFromGrpc(serviceError(grpc.status.UNAVAILABLE, "No connection established"), "x", "ns/p");
    expect(e).toBeInstanceOf(PodUnreachableError);
    expect(e.message).toContain("function pod ns/p");
  });
  test("deadline, size, our wrapper's code; never NOT_FOUND", () => {
    expect(errorFromGrpc(serviceError(grpc.status.DEADLINE_EXCEEDED, "Deadline exceeded"), "x", "ns/p").code).toBe("TIMEOUT");
    expect(errorFromGrpc(serviceError(grpc.status.RESOURCE_EXHAUSTED, "too big"), "x", "ns/p").code).toBe("TOO_LARGE");
    expect(errorFromGrpc(serviceError(grpc.status.INTERNAL, "stdout too large", "TOO_LARGE"), "x", "ns/p").code).toBe("TOO_LARGE");
    expect(errorFromGrpc(serviceError(grpc.status.NOT_FOUND, "no such method"), "x", "ns/p").code).toBe("INTERNAL");
    expect(errorFromGrpc(serviceError(grpc.status.NOT_FOUND, "x", "NOT_FOUND"), "x", "ns/p").code).toBe("INTERNAL");
    expect(errorFromGrpc(serviceError(grpc.status.UNIMPLEMENTED, "no"), "x", "ns/p").message).toContain("answered UNIMPLEMENTED");
  });
});

describe("addresses and flags", () => {
  test("service DNS name (Porch's) or pod IP", () => {
    const t = { serviceName: "fn-v1-1-abcdef01", namespace: "porch-fn-system", podIP: "10.244.0.7" };
    expect(podAddress("service", t, "svc.cluster.local")).toBe("fn-v1-1-abcdef01.porch-fn-system.svc.cluster.local:9446");
    expect(podAddress("service", t, ".svc.example.org.")).toBe("fn-v1-1-abcdef01.porch-fn-system.svc.example.org:9446");
    expect(podAddress("service", t, "")).toBe("fn-v1-1-abcdef01.porch-fn-system:9446");
    expect(podAddress("pod-ip", t, "svc.cluster.local")).toBe("10.244.0.7:9446");
    expect(podAddress("pod-ip", { ...t, podIP: "fd00::7" }, "")).toBe("[fd00::7]:9446");
  });

  test("defaults (Porch's for the two it has) and validation", () => {
    const { config } = parseCommandLine([]);
    expect(config).toMatchObject({
      "max-parallel-pods-per-function": 1,
      "max-waitlist-length": 2,
      "max-pending-evaluations": 1000,
      "pod-address-mode": "service",
      "pod-dns-suffix": "svc.cluster.local",
      "pod-ready-timeout": 60_000,
    });
    for (const [args, flag] of [
      [["--max-parallel-pods-per-function", "0"], "max-parallel-pods-per-function"],
      [["--max-waitlist-length", "-1"], "max-waitlist-length"],
      [["--pod-address-mode", "ip"], "pod-address-mode"],
      [["--pod-ready-timeout", "soon"], "pod-ready-timeout"],
    ] as const) {
      let err: unknown;
      try {
        parseCommandLine([...args]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FlagError);
      expect((err as FlagError).message).toContain(`--${flag}`);
    }
  });
});
