/**
 * The body of POST /v1/images/resolve (docs/http-api.md), and a memo of its JSON
 * for cache hits: a hit answers the same bytes every time, and serializing
 * the record is the largest cost left on the hit path (bench/http.ts).
 */
import type { Resolution } from "../image/resolver.ts";
import type { ImageMetadata } from "../image/metadata.ts";

export interface ResolveAnswer {
  image: string;
  resolved: string;
  registry: string;
  repository: string;
  digest: string;
  platformDigest: string;
  mediaType: string;
  entrypoint: string[];
  cmd: string[] | null;
  configEntrypoint: string[] | null;
  platform: string;
  cached: boolean;
  /** `source` names where credentials came from, never what they are. */
  auth: { strategy: string; source: string; reason: string };
  transport: string | null;
}

export function resolveAnswer(image: string, r: Resolution): ResolveAnswer {
  const m = r.metadata;
  return {
    image,
    resolved: m.reference,
    registry: m.registry,
    repository: m.repository,
    digest: m.digest,
    platformDigest: m.platformDigest,
    mediaType: m.mediaType,
    entrypoint: m.entrypoint,
    cmd: m.configCmd,
    configEntrypoint: m.configEntrypoint,
    platform: m.platform,
    cached: r.cached,
    auth: { strategy: r.auth.strategy, source: r.auth.source, reason: r.auth.reason },
    transport: r.transport ?? null,
  };
}

interface Memo {
  image: string;
  auth: Resolution["auth"];
  transport: Resolution["transport"];
  json: string;
}

/**
 * JSON of answers, reused for cache hits. Keyed by the cached record's
 * identity (a re-fetch makes a new record, so a DELETE + resolve never sees a
 * stale answer) plus everything else that goes into the answer.
 */
export class AnswerCache {
  private readonly memo = new WeakMap<ImageMetadata, Memo>();

  json(image: string, r: Resolution): string {
    if (!r.cached) return JSON.stringify(resolveAnswer(image, r));
    const hit = this.memo.get(r.metadata);
    if (hit !== undefined && hit.image === image && hit.auth === r.auth && hit.transport === r.transport) return hit.json;
    const json = JSON.stringify(resolveAnswer(image, r));
    this.memo.set(r.metadata, { image, auth: r.auth, transport: r.transport, json });
    return json;
  }
}
