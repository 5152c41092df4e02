import { describe, expect, test } from "../support/testing.ts";
import { choosePod } from "../../src/evaluator/pod-choice.ts";
import type { PodSlot } from "../../src/evaluator/pod-slot.ts";

const slot = (postfix: string, state: PodSlot["state"], waiting: number, inFlight: number): PodSlot => ({
  id: `fn-${postfix}`,
  postfix,
  pool: "fn-1",
  state,
  waiting,
  inFlight,
  lastUsedMs: 0,
  reclaimWrittenMs: 0,
  validatedAtMs: 0,
});
const pool = (...slots: PodSlot[]): ReadonlyMap<string, PodSlot> => new Map(slots.map((s) => [s.postfix, s]));
const limits = { maxParallel: 3, maxWaitlist: 2, maxPending: 10 };

describe("choosePod", () => {
  test("no slot: create instance 1; rr untouched", () => {
    expect(choosePod(pool(), 5, limits)).toEqual({ choice: { kind: "create", postfix: "1" }, rr: 5 });
  });

  test("the least-loaded slot, round-robin among equals from rr", () => {
    const a = slot("1", "ready", 0, 1);
    const b = slot("2", "ready", 0, 0);
    const c = slot("3", "ready", 0, 0);
    expect(choosePod(pool(a, b, c), 0, limits)).toEqual({ choice: { kind: "use", slot: b }, rr: 2 });
    expect(choosePod(pool(a, b, c), 2, limits)).toEqual({ choice: { kind: "use", slot: c }, rr: 0 });
    expect(choosePod(pool(a, b, c), 3, limits)).toEqual({ choice: { kind: "use", slot: b }, rr: 2 });
  });

  test("load counts waiting requests and evaluations in flight", () => {
    const a = slot("1", "starting", 1, 0);
    const b = slot("2", "ready", 0, 2);
    expect(choosePod(pool(a, b), 1, { ...limits, maxWaitlist: 5 }).choice).toEqual({ kind: "use", slot: a });
  });

  test("scale out once the best carries maxWaitlist, into the lowest free ordinal, up to maxParallel", () => {
    const one = slot("1", "ready", 0, 2);
    const three = slot("3", "ready", 0, 2);
    expect(choosePod(pool(one, three), 0, limits).choice).toEqual({ kind: "create", postfix: "2" });
    const two = slot("2", "ready", 0, 2);
    expect(choosePod(pool(one, two, three), 0, limits).choice).toEqual({ kind: "use", slot: one });
  });

  test("a starting best slot with maxPending requests already waiting is full; a ready one never is", () => {
    const starting = slot("1", "starting", 3, 0);
    expect(choosePod(pool(starting), 0, { maxParallel: 1, maxWaitlist: 5, maxPending: 3 }).choice).toEqual({ kind: "full", waiting: 3 });
    expect(choosePod(pool(starting), 0, { maxParallel: 1, maxWaitlist: 5, maxPending: 4 }).choice).toEqual({ kind: "use", slot: starting });
    const busy = slot("1", "ready", 0, 50);
    expect(choosePod(pool(busy), 0, { maxParallel: 1, maxWaitlist: 2, maxPending: 1 }).choice).toEqual({ kind: "use", slot: busy });
  });

  test("no free ordinal left and scaling wanted: full with nobody waiting", () => {
    expect(choosePod(pool(), 0, { ...limits, maxParallel: 0 }).choice).toEqual({ kind: "full", waiting: 0 });
  });
});
