import type { ImageMetadata } from "../image/metadata.ts";

interface Entry {
  key: string;
  image: string;
  value: ImageMetadata;
  /** Estimated heap cost, counted against `maxBytes`. */
  bytes: number;
  /** Insertion order, for stable listing pages while hits reorder the LRU. */
  seq: number;
  /** Undefined: never expires (digest references, and tags unless a TTL is set). */
  expiresAt?: number;
}

interface Inflight {
  image: string;
  promise: Promise<ImageMetadata>;
  /** Set by a delete while the fetch runs: its result is handed to waiters but never stored. */
  invalidated: boolean;
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Callers that arrived while a fetch for their key was in flight and shared it. */
  joined: number;
  errors: number;
  /** Records dropped to stay within the entry or byte bound (least recently used first). */
  evictions: number;
  /** Tag records dropped because their TTL ran out. */
  expired: number;
  size: number;
  bytes: number;
}

export interface MetadataCacheOptions {
  /** Opt-in expiry for tag references only: a digest's metadata is immutable. */
  tagTtlMs?: number;
  /** Most records held; the least recently used go first. */
  maxEntries?: number;
  /** Most estimated bytes held (keys and records). */
  maxBytes?: number;
  now?: () => number;
}

export const DEFAULT_CACHE_ENTRIES = 10_000;
export const DEFAULT_CACHE_BYTES = 64 << 20;

/** One page of the listing, in insertion order; `next` continues it. */
export interface CachePage {
  records: Array<{ key: string; value: ImageMetadata; expiresAt?: number }>;
  next?: string;
}

// A JS string costs about two bytes a character plus object overhead; exactness does not matter,
// proportionality does (a 5 MB string must count as megabytes, not as one entry).
const ENTRY_OVERHEAD = 400;
function estimateBytes(key: string, v: ImageMetadata): number {
  let chars = key.length + v.reference.length + v.registry.length + v.repository.length + v.digest.length;
  chars += v.platformDigest.length + v.platform.length + v.mediaType.length;
  for (const list of [v.entrypoint, v.configEntrypoint ?? [], v.configCmd ?? []]) for (const s of list) chars += s.length + 16;
  return ENTRY_OVERHEAD + 2 * chars;
}

/**
 * In-memory image metadata, lazily filled, with single-flight: concurrent
 * misses for one key make one fetch and all callers get its result or its
 * error. Errors are never stored. Bounded by entries and bytes (LRU), with
 * expired tag records swept; records are grouped by image so dropping an
 * image costs only its own records.
 */
export class MetadataCache {
  /** Map order is recency order: a hit moves its entry to the end, eviction takes from the front. */
  private readonly entries = new Map<string, Entry>();
  /** The same entries in insertion order: pages stay stable while hits reorder `entries`. */
  private readonly bySeq = new Map<number, Entry>();
  /** image (full reference) → keys stored or in flight for it: one key (the usual case) or a set. */
  private readonly byImage = new Map<string, string | Set<string>>();
  private readonly inflight = new Map<string, Inflight>();
  private readonly counters = { hits: 0, misses: 0, joined: 0, errors: 0, evictions: 0, expired: 0 };
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private bytes = 0;
  private seq = 0;
  private nextSweep = 0;

  constructor(private readonly opts: MetadataCacheOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_CACHE_ENTRIES);
    this.maxBytes = Math.max(1, opts.maxBytes ?? DEFAULT_CACHE_BYTES);
  }

  /** The cached record, if present and live; counts as a hit. */
  peek(key: string): ImageMetadata | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt !== undefined && e.expiresAt <= this.now()) {
      this.remove(e);
      this.counters.expired++;
      return undefined;
    }
    // Most recently used goes last; re-inserting into a Map is O(1).
    this.entries.delete(key);
    this.entries.set(key, e);
    this.counters.hits++;
    return e.value;
  }

  /**
   * Returns the record for `key` (one platform of `image`), calling `fetch` on
   * a miss. `pinned` is true for digest references, which never expire.
   */
  get(key: string, image: string, pinned: boolean, fetch: () => Promise<ImageMetadata>): Promise<ImageMetadata> {
    const hit = this.peek(key);
    if (hit !== undefined) return Promise.resolve(hit);
    const pending = this.inflight.get(key);
    if (pending) {
      this.counters.joined++;
      return pending.promise;
    }
    this.counters.misses++;
    const flight: Inflight = { image, promise: Promise.resolve() as unknown as Promise<ImageMetadata>, invalidated: false };
    flight.promise = (async () => {
      try {
        const value = await fetch();
        // A delete that came while this fetch ran wins: its answer goes to the waiters only.
        if (!flight.invalidated) this.store(key, image, value, pinned);
        return value;
      } catch (e) {
        this.counters.errors++;
        throw e;
      } finally {
        if (this.inflight.get(key) === flight) {
          this.inflight.delete(key);
          this.unindex(image, key);
        }
      }
    })();
    this.inflight.set(key, flight);
    this.index(image, key);
    return flight.promise;
  }

  /** `true` when a record was removed; a fetch in flight for `key` will not store its answer. */
  delete(key: string): boolean {
    const flight = this.inflight.get(key);
    if (flight !== undefined) {
      flight.invalidated = true;
      this.inflight.delete(key);
      this.unindex(flight.image, key);
    }
    const e = this.entries.get(key);
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  /** Drops every platform's record of `image` (and cancels storing fetches in flight): O(its records). */
  deleteImage(image: string): string[] {
    const keys = this.byImage.get(image);
    if (keys === undefined) return [];
    const removed: string[] = [];
    for (const key of typeof keys === "string" ? [keys] : [...keys]) if (this.delete(key)) removed.push(key);
    return removed;
  }

  clear(): void {
    for (const f of this.inflight.values()) f.invalidated = true;
    this.inflight.clear();
    this.entries.clear();
    this.bySeq.clear();
    this.byImage.clear();
    this.bytes = 0;
  }

  /** Every live record (tests and small tools; the HTTP API pages with `page`). */
  list(): Array<{ key: string; value: ImageMetadata; expiresAt?: number }> {
    return this.page(Number.MAX_SAFE_INTEGER).records;
  }

  /**
   * Up to `limit` records after `cursor` (from a previous page's `next`), in
   * insertion order; work is proportional to the records skipped and returned.
   */
  page(limit: number, cursor?: string): CachePage {
    const after = cursor === undefined ? 0 : Number(cursor);
    const records: CachePage["records"] = [];
    const now = this.now();
    let last = after;
    for (const e of this.bySeq.values()) {
      if (e.seq <= after) continue;
      if (e.expiresAt !== undefined && e.expiresAt <= now) continue;
      if (records.length >= limit) return { records, next: String(last) };
      records.push({ key: e.key, value: e.value, expiresAt: e.expiresAt });
      last = e.seq;
    }
    return { records };
  }

  stats(): CacheStats {
    return { ...this.counters, size: this.entries.size, bytes: this.bytes };
  }

  /** Drops expired tag records; runs by itself at most once per TTL as records are stored. */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const e of this.bySeq.values()) {
      if (e.expiresAt !== undefined && e.expiresAt <= now) {
        this.remove(e);
        n++;
      }
    }
    this.counters.expired += n;
    return n;
  }

  private store(key: string, image: string, value: ImageMetadata, pinned: boolean): void {
    const ttl = pinned ? undefined : this.opts.tagTtlMs;
    const now = this.now();
    if (ttl !== undefined && now >= this.nextSweep) {
      this.nextSweep = now + ttl;
      this.sweep();
    }
    const old = this.entries.get(key);
    if (old !== undefined) this.remove(old);
    const bytes = estimateBytes(key, value);
    // A record larger than the whole budget is served but not kept.
    if (bytes > this.maxBytes) return;
    const e: Entry = { key, image, value, bytes, seq: ++this.seq, expiresAt: ttl === undefined ? undefined : now + ttl };
    this.entries.set(key, e);
    this.bySeq.set(e.seq, e);
    this.index(image, key);
    this.bytes += bytes;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.values().next().value;
      if (oldest === undefined) break;
      this.remove(oldest);
      this.counters.evictions++;
    }
  }

  private remove(e: Entry): void {
    if (this.entries.get(e.key) !== e) return;
    this.entries.delete(e.key);
    this.bySeq.delete(e.seq);
    this.bytes -= e.bytes;
    this.unindex(e.image, e.key);
  }

  private index(image: string, key: string): void {
    const keys = this.byImage.get(image);
    if (keys === undefined || keys === key) this.byImage.set(image, key);
    else if (typeof keys === "string") this.byImage.set(image, new Set([keys, key]));
    else keys.add(key);
  }

  /** Forgets `key` under `image` unless it is still stored or in flight. */
  private unindex(image: string, key: string): void {
    if (this.entries.has(key) || this.inflight.has(key)) return;
    const keys = this.byImage.get(image);
    if (keys === undefined) return;
    if (keys === key) this.byImage.delete(image);
    else if (typeof keys !== "string") {
      keys.delete(key);
      if (keys.size === 0) this.byImage.delete(image);
    }
  }
}
