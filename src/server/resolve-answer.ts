/**
 * A memo of the POST /v1/images/resolve body (the schema is
 * src/resolve/resolve-answer.ts, shared with the CLI) for cache hits: a hit
 * answers the same bytes every time, and serializing the record is the
 * largest cost left on the hit path (bench/http.ts).
 */
import type { Resolution } from "../resolve/resolver.ts";
import type { ImageMetadata } from "../image/metadata.ts";
import { resolveAnswer } from "../resolve/resolve-answer.ts";

export { resolveAnswer, type ResolveAnswer } from "../resolve/resolve-answer.ts";

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
