/**
 * The challenge cache file's content (docs/registry.md), pure part: what a
 * one-shot `resolve` keeps between processes so that its first request to a
 * known registry already carries a token instead of drawing a 401. Per
 * registry host only the challenge's scheme, realm and service, and when it
 * was learned: never a credential or a token. Reading is lenient (a broken
 * entry, or a broken file, is as if absent); everything is bounded. Pure.
 */
import { z } from "zod";
import type { Challenge } from "./challenge.ts";

export const CHALLENGE_CACHE_VERSION = 1;
/** A challenge older than this is learned again (a registry may move its token service). */
export const CHALLENGE_CACHE_TTL_MS = 24 * 60 * 60 * 1000;
/** Registries kept at most; the most recently learned stay. */
export const CHALLENGE_CACHE_MAX_ENTRIES = 256;
/** A larger file is not read: it is not one this program wrote. */
export const CHALLENGE_CACHE_MAX_BYTES = 256 << 10;

const REGISTRY_MAX = 255;
const REALM_MAX = 2048;
const SERVICE_MAX = 512;

export const CachedChallenge = z.strictObject({
  scheme: z.enum(["bearer", "basic"]),
  realm: z.string().min(1).max(REALM_MAX).optional(),
  service: z.string().max(SERVICE_MAX).optional(),
  /** Epoch milliseconds. */
  learnedAt: z.number().int().nonnegative(),
});
export type CachedChallenge = z.infer<typeof CachedChallenge>;

const CacheFile = z.object({
  version: z.literal(CHALLENGE_CACHE_VERSION),
  registries: z.record(z.string(), z.unknown()),
});

/** Registry host → challenge, newest first at most CHALLENGE_CACHE_MAX_ENTRIES. */
export type ChallengeCache = Map<string, CachedChallenge>;

/**
 * A bearer realm is kept only as an http(s) URL without user information (so
 * nothing secret can ride along in it); other params (scope, error) are not kept.
 */
function storableRealm(realm: string | undefined): boolean {
  if (realm === undefined || realm.length > REALM_MAX) return false;
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    return false;
  }
  return (url.protocol === "https:" || url.protocol === "http:") && url.username === "" && url.password === "";
}

/** The entry to keep for a challenge a registry sent, or undefined when it is not worth or safe keeping. */
export function cacheEntry(ch: Challenge, now: number): CachedChallenge | undefined {
  const service = ch.params.service;
  if (service !== undefined && service.length > SERVICE_MAX) return undefined;
  if (ch.scheme === "bearer") {
    if (!storableRealm(ch.params.realm)) return undefined;
    return { scheme: "bearer", realm: ch.params.realm, ...(service === undefined ? {} : { service }), learnedAt: now };
  }
  if (ch.scheme === "basic") {
    const realm = ch.params.realm;
    return { scheme: "basic", ...(realm !== undefined && realm.length > 0 && realm.length <= REALM_MAX ? { realm } : {}), learnedAt: now };
  }
  return undefined;
}

/** The challenge an entry stands for (what RegistryAuth would have remembered from the 401). */
export function toChallenge(e: CachedChallenge): Challenge {
  const params: Record<string, string> = {};
  if (e.realm !== undefined) params.realm = e.realm;
  if (e.service !== undefined) params.service = e.service;
  return { scheme: e.scheme, params };
}

const usable = (e: CachedChallenge, now: number, ttlMs: number): boolean =>
  e.learnedAt <= now + 60_000 && now - e.learnedAt < ttlMs && (e.scheme === "basic" || storableRealm(e.realm));

/** Keeps the newest `max` entries, newest first. */
function newest(entries: Iterable<[string, CachedChallenge]>, max: number): ChallengeCache {
  return new Map([...entries].sort((a, b) => b[1].learnedAt - a[1].learnedAt).slice(0, max));
}

/**
 * The file's text → the entries still usable at `now`. Never throws: text
 * that is not this file's format gives an empty cache, a broken or expired
 * entry is dropped alone.
 */
export function parseChallengeCache(text: string, now: number, ttlMs = CHALLENGE_CACHE_TTL_MS): ChallengeCache {
  if (text.length > CHALLENGE_CACHE_MAX_BYTES) return new Map();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return new Map();
  }
  const file = CacheFile.safeParse(json);
  if (!file.success) return new Map();
  const kept: Array<[string, CachedChallenge]> = [];
  for (const [registry, raw] of Object.entries(file.data.registries)) {
    if (registry.length === 0 || registry.length > REGISTRY_MAX) continue;
    const entry = CachedChallenge.safeParse(raw);
    if (entry.success && usable(entry.data, now, ttlMs)) kept.push([registry, entry.data]);
  }
  return newest(kept, CHALLENGE_CACHE_MAX_ENTRIES);
}

/** What to write: the file as read now, updated with what this process learned and without what it found stale. */
export function mergeChallengeCache(onDisk: ChallengeCache, learned: ChallengeCache, stale: Iterable<string>, now: number, ttlMs = CHALLENGE_CACHE_TTL_MS): ChallengeCache {
  const merged = new Map(onDisk);
  for (const r of stale) merged.delete(r);
  for (const [r, e] of learned) {
    const old = merged.get(r);
    if (old === undefined || old.learnedAt <= e.learnedAt) merged.set(r, e);
  }
  return newest([...merged].filter(([r, e]) => r.length > 0 && r.length <= REGISTRY_MAX && usable(e, now, ttlMs)), CHALLENGE_CACHE_MAX_ENTRIES);
}

export function serializeChallengeCache(cache: ChallengeCache): string {
  return `${JSON.stringify({ version: CHALLENGE_CACHE_VERSION, registries: Object.fromEntries(cache) }, null, 1)}\n`;
}
