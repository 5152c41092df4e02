import type { RegistryClient } from "../registry/client.ts";
import { formatPlatform, type Platform } from "./manifest.ts";
import type { MetadataCache } from "./metadata-cache.ts";
import type { ImageMetadata } from "./metadata.ts";
import { expandShortName, formatReference, parseReference, type ImageReference } from "./reference.ts";

export interface Resolution {
  metadata: ImageMetadata;
  /** True when no registry call was made for this answer. */
  cached: boolean;
  ref: ImageReference;
}

/** Cache key: the full reference plus the platform, since one tag resolves per platform. */
export const cacheKey = (reference: string, platform: Platform): string => `${reference} ${formatPlatform(platform)}`;

/**
 * Image name → metadata: short-name expansion, reference parsing, then the
 * cache with single-flight in front of the registry client.
 */
export class ImageResolver {
  constructor(
    private readonly client: RegistryClient,
    private readonly cache: MetadataCache,
    private readonly opts: { defaultImagePrefix: string; platform: Platform },
  ) {}

  /** Parses (and expands) without network: throws INVALID_REFERENCE. */
  reference(image: string): ImageReference {
    return parseReference(expandShortName(image.trim(), this.opts.defaultImagePrefix));
  }

  async resolve(image: string, platform: Platform = this.opts.platform): Promise<Resolution> {
    const ref = this.reference(image);
    const key = cacheKey(formatReference(ref), platform);
    const hit = this.cache.peek(key);
    if (hit) return { metadata: hit, cached: true, ref };
    const metadata = await this.cache.get(key, ref.digest !== undefined, () => this.client.resolve(ref, platform));
    return { metadata, cached: false, ref };
  }

  /** Drops every platform's record of an image; returns how many were removed. */
  forget(image: string): number {
    const prefix = `${formatReference(this.reference(image))} `;
    let removed = 0;
    for (const { key } of this.cache.list()) if (key.startsWith(prefix) && this.cache.delete(key)) removed++;
    return removed;
  }
}
