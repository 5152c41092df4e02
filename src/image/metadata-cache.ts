import type { ImageMetadata } from "./metadata.ts";

interface Entry {
  value: ImageMetadata;
  /** Undefined: never expires (digest references, and tags unless a TTL is set). */
  expiresAt?: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Callers that arrived while a fetch for their key was in flight and shared it. */
  joined: number;
  errors: number;
  size: number;
}

export interface MetadataCacheOptions {
  /** Opt-in expiry for tag references only: a digest's metadata is immutable. */
  tagTtlMs?: number;
  now?: () => number;
}

/**
 * In-memory image metadata, lazily filled, with single-flight: concurrent
 * misses for one key make one fetch and all callers get its result or its
 * error. Errors are never stored.
 */
export class MetadataCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<ImageMetadata>>();
  private readonly counters = { hits: 0, misses: 0, joined: 0, errors: 0 };
  private readonly now: () => number;

  constructor(private readonly opts: MetadataCacheOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** The cached record, if present and live; counts as a hit. */
  peek(key: string): ImageMetadata | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt !== undefined && e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    this.counters.hits++;
    return e.value;
  }

  /**
   * Returns the record for `key`, calling `fetch` on a miss. `pinned` is true
   * for digest references, which never expire.
   */
  get(key: string, pinned: boolean, fetch: () => Promise<ImageMetadata>): Promise<ImageMetadata> {
    const hit = this.peek(key);
    if (hit !== undefined) return Promise.resolve(hit);
    const pending = this.inflight.get(key);
    if (pending) {
      this.counters.joined++;
      return pending;
    }
    this.counters.misses++;
    const started = (async () => {
      try {
        const value = await fetch();
        const ttl = pinned ? undefined : this.opts.tagTtlMs;
        this.entries.set(key, { value, expiresAt: ttl === undefined ? undefined : this.now() + ttl });
        return value;
      } catch (e) {
        this.counters.errors++;
        throw e;
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, started);
    return started;
  }

  /** `true` when something was removed; operators use it to re-pin a moved tag. */
  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  list(): Array<{ key: string; value: ImageMetadata; expiresAt?: number }> {
    return [...this.entries].map(([key, e]) => ({ key, value: e.value, expiresAt: e.expiresAt }));
  }

  stats(): CacheStats {
    return { ...this.counters, size: this.entries.size };
  }
}
