/**
 * Shared instances of the values many cached records repeat (registry hosts,
 * repositories, platforms, media types, digests, entrypoints, auth
 * descriptions). Strings parsed out of each registry answer are fresh copies;
 * 10,000 tags of one repository would otherwise hold 10,000 copies of each
 * (docs/benchmarks.md, memory per cached image). Pure.
 */
import type { ImageMetadata } from "../image/metadata.ts";

/** Distinct values remembered; when full the table starts over (old records keep their instances). */
export const INTERN_MAX_ENTRIES = 4096;
/** Values longer than this are not worth a table slot (and a caller cannot grow the table with them). */
export const INTERN_MAX_LENGTH = 512;

export class Interner {
  private readonly strings = new Map<string, string>();
  private readonly lists = new Map<string, readonly string[]>();
  private readonly records = new Map<string, Readonly<Record<string, string>>>();

  /** The shared instance equal to `s`. */
  string(s: string): string {
    return s.length > INTERN_MAX_LENGTH ? s : remember(this.strings, s, () => s);
  }

  /** The shared, frozen list equal to `list` (records never change their lists). */
  list(list: readonly string[]): string[] {
    const key = JSON.stringify(list);
    if (key.length > INTERN_MAX_LENGTH) return list as string[];
    return remember(this.lists, key, () => Object.freeze(list.map((s) => this.string(s)))) as string[];
  }

  /** The shared, frozen object equal to `value` (flat, string fields only). */
  record<T extends Readonly<Record<string, string>>>(value: T): T {
    const key = JSON.stringify(Object.entries(value));
    if (key.length > INTERN_MAX_LENGTH) return value;
    return remember(this.records, key, () => Object.freeze({ ...value })) as T;
  }
}

function remember<V>(table: Map<string, V>, key: string, make: () => V): V {
  const have = table.get(key);
  if (have !== undefined) return have;
  if (table.size >= INTERN_MAX_ENTRIES) table.clear();
  const v = make();
  table.set(key, v);
  return v;
}

/**
 * Replaces `meta`'s repeated values with shared instances, in place (the
 * object's identity is what other memos key on): `reference` becomes the
 * caller's instance of the same text, `platformDigest` the `digest` instance
 * when equal.
 */
export function internMetadata(meta: ImageMetadata, reference: string, intern: Interner): ImageMetadata {
  if (meta.reference === reference) meta.reference = reference;
  meta.registry = intern.string(meta.registry);
  meta.repository = intern.string(meta.repository);
  meta.digest = intern.string(meta.digest);
  meta.platformDigest = meta.platformDigest === meta.digest ? meta.digest : intern.string(meta.platformDigest);
  meta.platform = intern.string(meta.platform);
  meta.mediaType = intern.string(meta.mediaType);
  meta.entrypoint = intern.list(meta.entrypoint);
  if (meta.configEntrypoint !== null) meta.configEntrypoint = intern.list(meta.configEntrypoint);
  if (meta.configCmd !== null) meta.configCmd = intern.list(meta.configCmd);
  return meta;
}
