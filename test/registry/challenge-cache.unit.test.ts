import { describe, expect, test } from "../support/testing.ts";
import {
  cacheEntry,
  CHALLENGE_CACHE_MAX_ENTRIES,
  CHALLENGE_CACHE_TTL_MS,
  mergeChallengeCache,
  parseChallengeCache,
  serializeChallengeCache,
  toChallenge,
  type CachedChallenge,
} from "../../src/registry/challenge-cache.ts";

const NOW = 1_800_000_000_000;
const bearer = (realm: string, service?: string, learnedAt = NOW): CachedChallenge => ({ scheme: "bearer", realm, ...(service ? { service } : {}), learnedAt });
const file = (registries: Record<string, unknown>, version: unknown = 1) => JSON.stringify({ version, registries });

describe("cacheEntry: what a challenge leaves in the file", () => {
  test("a bearer challenge keeps scheme, realm and service only", () => {
    const e = cacheEntry({ scheme: "bearer", params: { realm: "https://auth.example/token", service: "reg", scope: "repository:a:pull", error: "invalid_token" } }, NOW);
    expect(e).toEqual({ scheme: "bearer", realm: "https://auth.example/token", service: "reg", learnedAt: NOW });
    expect(toChallenge(e!)).toEqual({ scheme: "bearer", params: { realm: "https://auth.example/token", service: "reg" } });
  });

  test("a basic challenge keeps its realm label", () => {
    expect(cacheEntry({ scheme: "basic", params: { realm: "Registry Realm" } }, NOW)).toEqual({ scheme: "basic", realm: "Registry Realm", learnedAt: NOW });
  });

  test("realms that are not plain http(s) URLs, or carry user information, are not kept", () => {
    for (const realm of ["https://user:secret@auth.example/token", "https://user@auth.example/token", "ftp://auth.example/t", "not a url"]) {
      expect(cacheEntry({ scheme: "bearer", params: { realm } }, NOW)).toBeUndefined();
    }
    expect(cacheEntry({ scheme: "bearer", params: {} }, NOW)).toBeUndefined();
    expect(cacheEntry({ scheme: "negotiate", params: {} }, NOW)).toBeUndefined();
  });
});

describe("parseChallengeCache", () => {
  test("entries come back as written", () => {
    const cache = new Map([["reg.example", bearer("https://reg.example/token", "reg.example")], ["127.0.0.1:5000", { scheme: "basic", realm: "r", learnedAt: NOW } as CachedChallenge]]);
    expect([...parseChallengeCache(serializeChallengeCache(cache), NOW + 1000)]).toEqual([...cache]);
  });

  test("an entry older than the TTL is dropped; one just inside it is kept", () => {
    const text = file({ old: bearer("https://a/t", undefined, NOW - CHALLENGE_CACHE_TTL_MS), fresh: bearer("https://b/t", undefined, NOW - CHALLENGE_CACHE_TTL_MS + 1) });
    expect([...parseChallengeCache(text, NOW).keys()]).toEqual(["fresh"]);
    expect(parseChallengeCache(text, NOW, 1000).size).toBe(0);
  });

  test("an entry dated in the future is dropped", () => {
    expect(parseChallengeCache(file({ r: bearer("https://a/t", undefined, NOW + 3_600_000) }), NOW).size).toBe(0);
  });

  test("a corrupt file, another version or another shape is an empty cache, never an error", () => {
    for (const text of ["", "{", "null", "[]", '"x"', file({ r: bearer("https://a/t") }, 2), JSON.stringify({ version: 1 }), JSON.stringify({ version: 1, registries: [] })]) {
      expect(parseChallengeCache(text, NOW).size).toBe(0);
    }
  });

  test("a broken entry is dropped alone", () => {
    const text = file({
      good: bearer("https://a/t"),
      extraKey: { ...bearer("https://a/t"), password: "hunter2" },
      badScheme: { scheme: "digest", learnedAt: NOW },
      userinfo: bearer("https://u:p@a/t"),
      noTime: { scheme: "bearer", realm: "https://a/t" },
      "": bearer("https://a/t"),
      [`${"x".repeat(300)}`]: bearer("https://a/t"),
    });
    expect([...parseChallengeCache(text, NOW).keys()]).toEqual(["good"]);
  });

  test("bounded: at most the newest entries are kept, and a huge text is not parsed", () => {
    const many: Record<string, CachedChallenge> = {};
    for (let i = 0; i < CHALLENGE_CACHE_MAX_ENTRIES + 10; i++) many[`r${i}`] = bearer("https://a/t", undefined, NOW - i);
    const cache = parseChallengeCache(file(many), NOW);
    expect(cache.size).toBe(CHALLENGE_CACHE_MAX_ENTRIES);
    expect(cache.has("r0")).toBe(true);
    expect(cache.has(`r${CHALLENGE_CACHE_MAX_ENTRIES}`)).toBe(false);
    expect(parseChallengeCache(file({ r: bearer("https://a/t"), pad: "x".repeat(300_000) }), NOW).size).toBe(0);
  });
});

describe("mergeChallengeCache", () => {
  test("what this process learned replaces older entries, stale ones go, others stay", () => {
    const onDisk = new Map([
      ["a", bearer("https://old/t", undefined, NOW - 10)],
      ["b", bearer("https://b/t", undefined, NOW - 10)],
      ["c", bearer("https://c/t", undefined, NOW - 10)],
    ]);
    const learned = new Map([["a", bearer("https://new/t")]]);
    const merged = mergeChallengeCache(onDisk, learned, ["b"], NOW);
    expect(merged.get("a")?.realm).toBe("https://new/t");
    expect(merged.has("b")).toBe(false);
    expect(merged.get("c")?.realm).toBe("https://c/t");
  });

  test("a newer entry another process wrote meanwhile is not overwritten by an older one", () => {
    const merged = mergeChallengeCache(new Map([["a", bearer("https://newer/t", undefined, NOW)]]), new Map([["a", bearer("https://older/t", undefined, NOW - 5)]]), [], NOW);
    expect(merged.get("a")?.realm).toBe("https://newer/t");
  });

  test("expired entries are not written back", () => {
    expect(mergeChallengeCache(new Map([["a", bearer("https://a/t", undefined, NOW - CHALLENGE_CACHE_TTL_MS)]]), new Map(), [], NOW).size).toBe(0);
  });
});
