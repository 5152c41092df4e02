/**
 * The resolve answer: one schema for `POST /v1/images/resolve` and
 * `function-runner resolve -o json|yaml` (docs/cli.md, "The resolve answer").
 */
import { z } from "zod";
import type { Resolution } from "./resolver.ts";

export const ResolveAnswer = z.object({
  /** The image as asked for (a short name stays short). */
  image: z.string(),
  /** The full reference it resolved to. */
  resolved: z.string(),
  registry: z.string(),
  repository: z.string(),
  /** What the reference points to: the index digest when there is an index. */
  digest: z.string(),
  /** The chosen platform's manifest digest (equals `digest` without an index). */
  platformDigest: z.string(),
  mediaType: z.string(),
  /** Config Entrypoint, else Cmd: what the wrapper server runs. */
  entrypoint: z.array(z.string()),
  cmd: z.array(z.string()).nullable(),
  configEntrypoint: z.array(z.string()).nullable(),
  platform: z.string(),
  /** True when no registry call was made for this answer. */
  cached: z.boolean(),
  /** `source` names where credentials came from, never what they are. */
  auth: z.object({ strategy: z.enum(["default", "custom"]), source: z.string(), reason: z.string() }),
  /** The TLS/transport step that fetched the record. */
  transport: z.enum(["mounted-ca", "system-ca", "plain-http"]).nullable(),
});
export type ResolveAnswer = z.infer<typeof ResolveAnswer>;

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
