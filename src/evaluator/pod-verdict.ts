/**
 * What garbage collection does with one function pod (docs/evaluation.md,
 * "Reuse, TTL and garbage collection"), from what the pod says
 * (./pod-facts.ts) and this runner's own view of it. Pure.
 */
import type { PodFacts } from "./pod-facts.ts";

export type PodVerdict =
  | { action: "keep" }
  | { action: "extend"; reclaimAfterMs: number }
  | { action: "delete"; reason: "failed" | "expired" | "stale-template" }
  | { action: "skip"; reason: "deleting" };

export interface LocalFacts {
  /** Waiting requests or evaluations in flight here. */
  busy: boolean;
  /** Last use + TTL, when this runner uses the pod. */
  desiredReclaimAfterMs?: number;
}

/**
 * - terminating: left to Kubernetes; failed: deleted;
 * - busy here: kept;
 * - no readable reclaim-after (a pod Porch HEAD made: it tracks last use in
 *   memory only): given one, first seen + TTL, as Porch v4.1.2's collector
 *   did. Judging it by its creation time instead would delete pods Porch is
 *   still using during a side-by-side rollout;
 * - reclaim-after ahead: kept; passed but used here since: extended;
 *   otherwise deleted.
 * A pod of another template version is never served here (./pod-reuse.ts),
 * but it is only deleted once its reclaim-after passes too: it may belong
 * to another runner (Porch v4.1.2, or Porch with its own template) that
 * still uses it.
 */
export function judgePod(pod: PodFacts, local: LocalFacts, now: number, ttlMs: number, currentTemplate: string | undefined): PodVerdict {
  if (pod.deleting) return { action: "skip", reason: "deleting" };
  if (pod.phase === "Failed" || pod.phase === "Succeeded") return { action: "delete", reason: "failed" };
  if (local.busy) return { action: "keep" };
  const stale = currentTemplate !== undefined && pod.templateVersion !== undefined && pod.templateVersion !== currentTemplate;
  const desired = stale ? undefined : local.desiredReclaimAfterMs;
  if (pod.reclaimAfterMs === undefined) return { action: "extend", reclaimAfterMs: Math.max(desired ?? Number.NEGATIVE_INFINITY, now + ttlMs) };
  if (pod.reclaimAfterMs > now) return { action: "keep" };
  // The annotation says expired, but this runner used the pod since it last wrote it.
  if (desired !== undefined && desired > now) return { action: "extend", reclaimAfterMs: desired };
  return { action: "delete", reason: stale ? "stale-template" : "expired" };
}
