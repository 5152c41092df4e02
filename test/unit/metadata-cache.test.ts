import { describe, expect, test } from "bun:test";
import { MetadataCache } from "../../src/image/metadata-cache.ts";
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
    expect((await c.get("a", false, fetch)).reference).toBe("a");
    expect((await c.get("a", false, fetch)).reference).toBe("a");
    expect(calls).toBe(1);
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, joined: 0, size: 1 });
  });

  test("concurrent misses share one fetch and its result", async () => {
    const c = new MetadataCache();
    const d = deferredFetch();
    const all = Promise.all(Array.from({ length: 20 }, () => c.get("k", false, d.fetch)));
    d.settle().resolve(meta("k"));
    const results = await all;
    expect(d.calls()).toBe(1);
    expect(new Set(results)).toEqual(new Set([results[0]!]));
    expect(c.stats()).toMatchObject({ misses: 1, joined: 19 });
  });

  test("concurrent misses share one error, and the error is not cached", async () => {
    const c = new MetadataCache();
    const d = deferredFetch();
    const all = Promise.allSettled(Array.from({ length: 5 }, () => c.get("k", false, d.fetch)));
    d.settle().reject(new Error("registry down"));
    const results = await all;
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(d.calls()).toBe(1);
    expect(c.stats()).toMatchObject({ size: 0, errors: 1 });
    expect((await c.get("k", false, async () => meta("k"))).reference).toBe("k");
  });

  test("different keys do not share a fetch", async () => {
    const c = new MetadataCache();
    let calls = 0;
    await Promise.all([c.get("a", false, async () => (calls++, meta("a"))), c.get("b", false, async () => (calls++, meta("b")))]);
    expect(calls).toBe(2);
  });

  test("tags never expire by default", async () => {
    let now = 0;
    const c = new MetadataCache({ now: () => now });
    await c.get("t", false, async () => meta("t"));
    now = 10 * 365 * 24 * 3600 * 1000;
    expect(c.peek("t")).toBeDefined();
  });

  test("the opt-in TTL expires tags but never digest references", async () => {
    let now = 0;
    const c = new MetadataCache({ tagTtlMs: 1000, now: () => now });
    await c.get("tag", false, async () => meta("tag", "/old"));
    await c.get("digest", true, async () => meta("digest"));
    now = 999;
    expect(c.peek("tag")).toBeDefined();
    now = 1000;
    expect(c.peek("tag")).toBeUndefined();
    expect(c.peek("digest")).toBeDefined();
    expect((await c.get("tag", false, async () => meta("tag", "/new"))).entrypoint).toEqual(["/new"]);
  });

  test("delete and list", async () => {
    const c = new MetadataCache();
    await c.get("a", false, async () => meta("a"));
    expect(c.list().map((e) => e.key)).toEqual(["a"]);
    expect(c.delete("a")).toBe(true);
    expect(c.delete("a")).toBe(false);
    expect(c.stats().size).toBe(0);
  });
});
