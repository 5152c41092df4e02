import { describe, expect, test } from "../support/testing.ts";
import { BoundedMap, MEMO_MAX_ENTRIES } from "../../src/registry/bounded-map.ts";
import { TokenCache } from "../../src/registry/token-cache.ts";

describe("BoundedMap", () => {
  test("keeps at most max entries, dropping the oldest insertion; re-setting makes a key newest", () => {
    const m = new BoundedMap<string, number>(3);
    m.set("a", 1).set("b", 2).set("c", 3);
    m.set("a", 10);
    m.set("d", 4);
    expect(m.size).toBe(3);
    expect(m.has("b")).toBe(false);
    expect(m.get("a")).toBe(10);
    expect(m.get("d")).toBe(4);
  });
});

describe("TokenCache is bounded", () => {
  test("tokens for endless repositories do not grow it past the memo bound", async () => {
    const cache = new TokenCache(() => 0);
    for (let i = 0; i < MEMO_MAX_ENTRIES + 500; i++) {
      await cache.get(`realm|svc|repository:r${i}:pull|anon`, async () => ({ value: `t${i}`, expiresAt: 1_000 }));
    }
    expect(cache.size).toBe(MEMO_MAX_ENTRIES);
  });
});
