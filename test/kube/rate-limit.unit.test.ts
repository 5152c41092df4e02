import { describe, expect, test } from "../support/testing.ts";
import { type BucketState, type Clock, RateLimiter, fullBucket, reserve } from "../../src/kube/rate-limit.ts";

const LIMIT = { qps: 30, burst: 45 };

describe("token bucket (pure)", () => {
  test("a full bucket lets `burst` requests through at once, then one per 1/qps", () => {
    let s: BucketState = fullBucket(LIMIT, 0);
    const waits: number[] = [];
    for (let i = 0; i < 48; i++) {
      const r = reserve(s, 0, LIMIT);
      s = r.state;
      waits.push(r.waitMs);
    }
    expect(waits.slice(0, 45).every((w) => w === 0)).toBe(true);
    // Reservations queue: the 46th waits one token (34 ms), the 47th two, the 48th three.
    expect(waits.slice(45)).toEqual([34, 67, 100]);
  });

  test("tokens refill at qps and never beyond burst", () => {
    let s = reserve(fullBucket(LIMIT, 0), 0, LIMIT).state;
    expect(s.tokens).toBe(44);
    s = reserve(s, 10_000, LIMIT).state; // 10 s idle: capped at 45, minus this one
    expect(s.tokens).toBe(44);
  });

  test("sustained rate: 300 requests take ~ (300 - 45) / 30 s", () => {
    let s = fullBucket(LIMIT, 0);
    let last = 0;
    for (let i = 0; i < 300; i++) {
      const r = reserve(s, 0, LIMIT);
      s = r.state;
      last = r.waitMs;
    }
    expect(last).toBeGreaterThanOrEqual(8_500 - 1);
    expect(last).toBeLessThanOrEqual(8_500 + 1);
  });

  test("a clock stepping backwards mints no tokens; qps <= 0 means unlimited", () => {
    const s = reserve({ tokens: 0, at: 1_000 }, 500, LIMIT);
    expect(s.waitMs).toBe(34);
    expect(reserve({ tokens: -100, at: 0 }, 0, { qps: 0, burst: 1 }).waitMs).toBe(0);
  });
});

describe("RateLimiter with an injected clock", () => {
  test("sleeps exactly the reserved waits", async () => {
    let now = 0;
    const slept: number[] = [];
    const clock: Clock = {
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
      },
    };
    const limiter = new RateLimiter({ qps: 10, burst: 2 }, clock);
    expect(await limiter.acquire()).toBe(0);
    expect(await limiter.acquire()).toBe(0);
    expect(await limiter.acquire()).toBe(100);
    now = 1_000; // a second later the bucket is full again
    expect(await limiter.acquire()).toBe(0);
    expect(slept).toEqual([100]);
  });
});
