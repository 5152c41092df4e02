/**
 * A Map that keeps at most `max` entries, dropping the oldest insertion
 * first. For per-host and per-repository memory (challenges, tokens, the
 * transport step that worked): a hostile caller naming endless hosts or
 * repositories must not grow it without bound. Pure.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Re-setting a key makes it the newest. */
  set(key: K, value: V): this {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** Oldest first. */
  entries(): Array<[K, V]> {
    return [...this.map];
  }

  get size(): number {
    return this.map.size;
  }
}

/** Hosts, repositories or tokens remembered at most: far above any real working set. */
export const MEMO_MAX_ENTRIES = 4096;
