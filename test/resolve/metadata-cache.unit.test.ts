import { describe, expect, test } from "../support/testing.ts";
import { MetadataCache } from "../../src/resolve/metadata-cache.ts";
import type { ImageMetadata } from "../../src/image/metadata.ts";

const meta = (reference: string, entry = "/fn"): ImageMetadata => ({
  reference,
  registry: "r.example",
  repository: "fn",
  digest: `sha256:${"a".repeat(64)}`,
  platformDigest: `sha256:${"a".repeat(64)}`,
  platform: "linux/amd64",
  entrypoint: [entry],
  configEntrypoint: [entry],
  configCmd: null,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
});

/** A fetch the test settles by hand, counting how often it was started. */
function deferredFetch() {
  let calls = 0;
  let settle: { resolve: (m: ImageMetadata) => void; reject: (e: unknown) => void } | undefined;
  const fetch = () => {
    calls++;
    return new Promise<ImageMetadata>((resolve, reject) => {
      settle = { resolve, reject };
    });
  };
  return { fetch, calls: () => calls, settle: () => settle! };
}

describe("MetadataCache", () => {
  test("a miss fetches, a hit does not", async () => {
    const c = new MetadataCache();
    let calls = 0;
    const fetch = async () => (calls++, meta("a"));
    expect((await c.get("a", "a", false, fetch)).reference).toBe("a");
    expect((await c.get("a", "a", false, fetch)).reference).toBe("a");
    expect(calls).toBe(1);
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, joined: 0, size: 1 });
  });

  test("concurrent misses share one fetch and its result", async () => {
    const c = new MetadataCache();
    const d = deferredFetch();
    const all = Promise.all(Array.from({ length: 20 }, () => c.get("k", "k", false, d.fetch)));
    d.settle().resolve(meta("k"));
    const results = await all;
    expect(d.calls()).toBe(1);
    expect(new Set(results)).toEqual(new Set([results[0]!]));
    expect(c.stats()).toMatchObject({ misses: 1, joined: 19 });
  });

  test("concurrent misses share one error, and the error is not cached", async () => {
    const c = new MetadataCache();
    const d = deferredFetch();
    const all = Promise.allSettled(Array.from({ length: 5 }, () => c.get("k", "k", false, d.fetch)));
    d.settle().reject(new Error("registry down"));
    const results = await all;
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(d.calls()).toBe(1);
    expect(c.stats()).toMatchObject({ size: 0, errors: 1 });
    expect((await c.get("k", "k", false, async () => meta("k"))).reference).toBe("k");
  });

  test("different keys do not share a fetch", async () => {
    const c = new MetadataCache();
    let calls = 0;
    await Promise.all([c.get("a", "a", false, async () => (calls++, meta("a"))), c.get("b", "b", false, async () => (calls++, meta("b")))]);
    expect(calls).toBe(2);
  });

  test("tags never expire by default", async () => {
    let now = 0;
    const c = new MetadataCache({ now: () => now });
    await c.get("t", "t", false, async () => meta("t"));
    now = 10 * 365 * 24 * 3600 * 1000;
    expect(c.peek("t")).toBeDefined();
  });

  test("the opt-in TTL expires tags but never digest references", async () => {
    let now = 0;
    const c = new MetadataCache({ tagTtlMs: 1000, now: () => now });
    await c.get("tag", "tag", false, async () => meta("tag", "/old"));
    await c.get("digest", "digest", true, async () => meta("digest"));
    now = 999;
    expect(c.peek("tag")).toBeDefined();
    now = 1000;
    expect(c.peek("tag")).toBeUndefined();
    expect(c.peek("digest")).toBeDefined();
    expect((await c.get("tag", "tag", false, async () => meta("tag", "/new"))).entrypoint).toEqual(["/new"]);
  });

  test("delete and list", async () => {
    const c = new MetadataCache();
    await c.get("a", "a", false, async () => meta("a"));
    expect(c.list().map((e) => e.key)).toEqual(["a"]);
    expect(c.delete("a")).toBe(true);
    expect(c.delete("a")).toBe(false);
    expect(c.stats().size).toBe(0);
  });

  test("a delete during an in-flight fetch wins: the fetch's answer reaches its waiters but is not stored", async () => {
    const c = new MetadataCache();
    const d = deferredFetch();
    const waiting = c.get("img linux/amd64", "img", false, d.fetch);
    expect(c.deleteImage("img")).toEqual([]); // nothing stored yet, but the flight is marked
    d.settle().resolve(meta("img", "/old"));
    expect((await waiting).entrypoint).toEqual(["/old"]);
    expect(c.peek("img linux/amd64")).toBeUndefined();
    expect(c.stats().size).toBe(0);
    // The next lookup fetches afresh instead of joining the invalidated flight.
    let calls = 0;
    expect((await c.get("img linux/amd64", "img", false, async () => (calls++, meta("img", "/new")))).entrypoint).toEqual(["/new"]);
    expect(calls).toBe(1);
  });

  test("a delete during a fetch does not let a later fetch's cleanup drop the new flight", async () => {
    const c = new MetadataCache();
    const first = deferredFetch();
    const second = deferredFetch();
    const a = c.get("k", "i", false, first.fetch);
    c.delete("k");
    const b = c.get("k", "i", false, second.fetch);
    first.settle().resolve(meta("k", "/first"));
    await a;
    // The second flight is still the one later callers join.
    const joined = c.get("k", "i", false, async () => meta("k", "/third"));
    second.settle().resolve(meta("k", "/second"));
    expect((await b).entrypoint).toEqual(["/second"]);
    expect((await joined).entrypoint).toEqual(["/second"]);
    expect(c.peek("k")?.entrypoint).toEqual(["/second"]);
  });

  test("bounded by entries: the least recently used goes first, and evictions are counted", async () => {
    const c = new MetadataCache({ maxEntries: 3 });
    for (const k of ["a", "b", "c"]) await c.get(k, k, true, async () => meta(k));
    expect(c.peek("a")).toBeDefined(); // a is now the most recent
    await c.get("d", "d", true, async () => meta("d"));
    expect(c.peek("b")).toBeUndefined();
    expect(c.list().map((e) => e.key).sort()).toEqual(["a", "c", "d"]);
    expect(c.stats()).toMatchObject({ size: 3, evictions: 1 });
  });

  test("bounded by bytes: large records push others out, one over the whole budget is not kept", async () => {
    const c = new MetadataCache({ maxBytes: 20_000 });
    const big = (k: string) => ({ ...meta(k), entrypoint: ["x".repeat(4_000)] });
    for (const k of ["a", "b", "c", "d"]) await c.get(k, k, true, async () => big(k));
    const s = c.stats();
    expect(s.bytes).toBeLessThanOrEqual(20_000);
    expect(s.size).toBeLessThan(4);
    expect(s.evictions).toBeGreaterThan(0);
    const huge = await c.get("h", "h", true, async () => ({ ...meta("h"), entrypoint: ["y".repeat(50_000)] }));
    expect(huge.entrypoint[0]?.length).toBe(50_000);
    expect(c.peek("h")).toBeUndefined();
    expect(c.stats().bytes).toBeLessThanOrEqual(20_000);
  });

  test("expired tag records are swept when later records are stored, not only when looked up", async () => {
    let now = 0;
    const c = new MetadataCache({ tagTtlMs: 1000, now: () => now });
    for (const k of ["a", "b", "c"]) await c.get(k, k, false, async () => meta(k));
    now = 5000;
    await c.get("d", "d", false, async () => meta("d"));
    expect(c.stats()).toMatchObject({ size: 1, expired: 3 });
  });

  test("pages: stable insertion order while hits reorder, a cursor continues, the last page has no cursor", async () => {
    const c = new MetadataCache();
    for (const k of ["a", "b", "c", "d", "e"]) await c.get(k, k, true, async () => meta(k));
    c.peek("a");
    const p1 = c.page(2);
    expect(p1.records.map((r) => r.key)).toEqual(["a", "b"]);
    c.delete("c");
    const p2 = c.page(2, p1.next);
    expect(p2.records.map((r) => r.key)).toEqual(["d", "e"]);
    expect(p2.next).toBeUndefined();
    expect(c.page(10).next).toBeUndefined();
  });

  test("deleteImage drops every platform of that image and nothing else", async () => {
    const c = new MetadataCache();
    await c.get("r/x:1 linux/amd64", "r/x:1", false, async () => meta("r/x:1"));
    await c.get("r/x:1 linux/arm64", "r/x:1", false, async () => meta("r/x:1"));
    await c.get("r/x:10 linux/amd64", "r/x:10", false, async () => meta("r/x:10"));
    expect(c.deleteImage("r/x:1").sort()).toEqual(["r/x:1 linux/amd64", "r/x:1 linux/arm64"]);
    expect(c.list().map((e) => e.key)).toEqual(["r/x:10 linux/amd64"]);
    expect(c.deleteImage("r/x:1")).toEqual([]);
  });

  test("an image's index follows its platforms one by one: one, two, one after a delete or an eviction, none", async () => {
    const c = new MetadataCache({ maxEntries: 3 });
    await c.get("r/x:1 linux/amd64", "r/x:1", false, async () => meta("r/x:1"));
    expect(c.delete("r/x:1 linux/amd64")).toBe(true);
    expect(c.deleteImage("r/x:1")).toEqual([]);
    await c.get("r/x:1 linux/amd64", "r/x:1", false, async () => meta("r/x:1"));
    await c.get("r/x:1 linux/arm64", "r/x:1", false, async () => meta("r/x:1"));
    expect(c.delete("r/x:1 linux/amd64")).toBe(true);
    await c.get("r/x:1 linux/s390x", "r/x:1", false, async () => meta("r/x:1"));
    // Two more images push the oldest platform (arm64) out of the three slots.
    await c.get("r/y:1 linux/amd64", "r/y:1", false, async () => meta("r/y:1"));
    await c.get("r/z:1 linux/amd64", "r/z:1", false, async () => meta("r/z:1"));
    expect(c.stats().evictions).toBe(1);
    expect(c.deleteImage("r/x:1")).toEqual(["r/x:1 linux/s390x"]);
    expect(c.deleteImage("r/x:1")).toEqual([]);
    expect(c.list().map((e) => e.key)).toEqual(["r/y:1 linux/amd64", "r/z:1 linux/amd64"]);
  });
});
