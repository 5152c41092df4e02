import { describe, expect, test } from "../support/testing.ts";
import { backoffDelay, isRetryableStatus, nextDelay, parseRetryAfter, retrying, type RetryPolicy } from "../../src/http/retry.ts";
import { TokenCache, tokenExpiry } from "../../src/registry/token-cache.ts";

const policy: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000, deadlineMs: 10_000 };

describe("retry policy", () => {
  test("retryable statuses are exactly docs/registry.md's", () => {
    for (const s of [408, 429, 499, 500, 502, 503, 504, 522]) expect(isRetryableStatus(s)).toBe(true);
    for (const s of [200, 301, 400, 401, 403, 404, 405, 413, 501]) expect(isRetryableStatus(s)).toBe(false);
  });

  test("backoff grows exponentially within [ceiling/2, ceiling] and is capped", () => {
    expect(backoffDelay(policy, 0, () => 0)).toBe(50);
    expect(backoffDelay(policy, 0, () => 1)).toBe(100);
    expect(backoffDelay(policy, 2, () => 1)).toBe(400);
    expect(backoffDelay(policy, 10, () => 1)).toBe(1000);
  });

  test("Retry-After: seconds and HTTP dates", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  test("nextDelay stops after the attempts and before the deadline", () => {
    expect(nextDelay(policy, 0, 0, undefined, () => 1)).toBe(100);
    expect(nextDelay(policy, 3, 0, undefined)).toBeUndefined();
    expect(nextDelay(policy, 0, 0, 2000)).toBe(2000);
    expect(nextDelay(policy, 0, 9_000, 2000)).toBeUndefined();
  });

  test("retrying retries what the verdict allows and returns the final outcome", async () => {
    let n = 0;
    const quick: RetryPolicy = { ...policy, baseDelayMs: 1, maxDelayMs: 1 };
    const value = await retrying(quick, async () => ++n, (o) => ({ retry: "value" in o && o.value < 3 }));
    expect(value).toBe(3);
    n = 0;
    const final = await retrying(quick, async () => ++n, () => ({ retry: true }));
    expect(final).toBe(4);
    await expect(retrying(quick, async () => { throw new Error("x"); }, () => ({ retry: false }))).rejects.toThrow("x");
  });
});

describe("token cache", () => {
  test("expiry: lifetime minus a tenth (at most 30 s); 60 s default", () => {
    expect(tokenExpiry(0, 300)).toBe(270_000);
    expect(tokenExpiry(0, undefined)).toBe(54_000);
    expect(tokenExpiry(0, 3600)).toBe(3_570_000);
  });

  test("single-flight, reuse until expiry, refetch after", async () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    let fetches = 0;
    const fetch = async () => ({ value: `t${++fetches}`, expiresAt: now + 1000 });
    const [a, b] = await Promise.all([cache.get("k", fetch), cache.get("k", fetch)]);
    expect(fetches).toBe(1);
    expect(a.token.value).toBe("t1");
    expect(b.fresh).toBe(true);
    expect((await cache.get("k", fetch)).fresh).toBe(false);
    now = 1000;
    expect((await cache.get("k", fetch)).token.value).toBe("t2");
  });

  test("failures are not cached", async () => {
    const cache = new TokenCache();
    await expect(cache.get("k", async () => { throw new Error("401"); })).rejects.toThrow("401");
    expect((await cache.get("k", async () => ({ value: "ok", expiresAt: Date.now() + 10_000 }))).token.value).toBe("ok");
  });

  test("invalidate drops only the rejected value", async () => {
    const cache = new TokenCache();
    await cache.get("k", async () => ({ value: "new", expiresAt: Date.now() + 10_000 }));
    cache.invalidate("k", "old");
    expect(cache.size).toBe(1);
    cache.invalidate("k", "new");
    expect(cache.size).toBe(0);
  });
});
