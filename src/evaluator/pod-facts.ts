/**
 * What a function pod, its Service and its Endpoints say, read off the
 * Kubernetes objects (docs/evaluation.md, "Reuse, TTL and garbage
 * collection"): its pod id label, template version, health, reclaim-after.
 * Pure: no I/O, and no import that does any; the shells that fetch the
 * objects (./pod-kube.ts, ./pod-waiter.ts, ./pod-gc.ts) and the pure rules
 * (./pod-reuse.ts, ./pod-verdict.ts) all read pods through here.
 */
import type { V1Endpoints, V1Pod, V1Service } from "@kubernetes/client-node";
import { FUNCTION_CONTAINER_NAME, IMAGE_LABEL, RECLAIM_AFTER_ANNOTATION, TEMPLATE_VERSION_ANNOTATION } from "../kube/pod-template.ts";

/** The pod id the pod carries (`fn.kpt.dev/image`): its slot and its Service's name. */
export const labelOf = (pod: V1Pod): string | undefined => pod.metadata?.labels?.[IMAGE_LABEL];
/** `fn.kpt.dev/template-version`: the base template the pod was built from. */
export const templateVersionOfPod = (pod: V1Pod): string | undefined => pod.metadata?.annotations?.[TEMPLATE_VERSION_ANNOTATION];
/** Whether the Service selects the pods labelled `podId`. */
export const selects = (svc: V1Service, podId: string): boolean => svc.spec?.selector?.[IMAGE_LABEL] === podId;

export type PodHealth =
  | { state: "ready"; podIP: string }
  | { state: "pending"; why: string }
  | { state: "failed"; why: string }
  | { state: "deleting" };

/** Waiting reasons that never clear by themselves. */
const HOPELESS = new Set(["InvalidImageName", "ErrImageNeverPull"]);

function containerStory(pod: V1Pod): string {
  const parts: string[] = [];
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const c of statuses) {
    const w = c.state?.waiting;
    const t = c.state?.terminated;
    if (w?.reason !== undefined) parts.push(`container ${c.name} waiting: ${w.reason}${w.message ? `: ${w.message}` : ""}`);
    else if (t !== undefined && (t.exitCode ?? 0) !== 0) {
      parts.push(`container ${c.name} terminated: ${t.reason ?? "Error"} (exit code ${t.exitCode})${t.message ? `: ${t.message}` : ""}`);
    }
  }
  return parts.join("; ");
}

const isDeleting = (pod: V1Pod): boolean => pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;

/** What a pod's status says about using it. */
export function podHealth(pod: V1Pod): PodHealth {
  if (isDeleting(pod)) return { state: "deleting" };
  const phase = pod.status?.phase ?? "Pending";
  const story = containerStory(pod);
  if (phase === "Failed" || phase === "Succeeded") {
    const why = [`phase ${phase}`, pod.status?.reason, pod.status?.message, story].filter((s) => s !== undefined && s !== "").join(": ");
    return { state: "failed", why };
  }
  for (const c of pod.status?.containerStatuses ?? []) {
    const reason = c.state?.waiting?.reason;
    if (reason !== undefined && HOPELESS.has(reason)) return { state: "failed", why: story };
  }
  const ready = (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
  const ip = pod.status?.podIP;
  if (phase === "Running" && ready && ip !== undefined && ip !== "") return { state: "ready", podIP: ip };
  const notReady = phase === "Running" ? "running, not ready" : `phase ${phase}`;
  return { state: "pending", why: story === "" ? notReady : `${notReady}: ${story}` };
}

/** A pod that still serves or will: not failed, not terminating. */
export const alive = (pod: V1Pod): boolean => {
  const h = podHealth(pod);
  return h.state === "ready" || h.state === "pending";
};

/** Whether the Endpoints list `podIP` (of the pod with `podUid`, when they say) as a ready address. */
export function endpointsList(ep: V1Endpoints | undefined, podIP: string, podUid?: string): boolean {
  for (const subset of ep?.subsets ?? []) {
    for (const a of subset.addresses ?? []) {
      if (a.ip !== podIP) continue;
      const uid = a.targetRef?.uid;
      if (podUid === undefined || uid === undefined || uid === "" || uid === podUid) return true;
    }
  }
  return false;
}

/** The function container's image (the pinned reference), for messages. */
export const functionImageOf = (pod: V1Pod): string | undefined =>
  pod.spec?.containers?.find((c) => c.name === FUNCTION_CONTAINER_NAME)?.image;

/** `fn.kpt.dev/reclaim-after` (unix seconds, as upstream writes it) → ms; undefined when unreadable. */
export function parseReclaimAfter(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,12}$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

/** ms → the annotation's unix seconds. */
export const formatReclaimAfter = (ms: number): string => String(Math.floor(ms / 1000));

/** The pod's `fn.kpt.dev/reclaim-after` in ms; undefined when missing or unreadable. */
export const reclaimAfterOfPod = (pod: V1Pod): number | undefined => parseReclaimAfter(pod.metadata?.annotations?.[RECLAIM_AFTER_ANNOTATION]);

/** What garbage collection judges a pod by (./pod-verdict.ts). */
export interface PodFacts {
  phase?: string;
  deleting: boolean;
  /** `fn.kpt.dev/reclaim-after` in ms (undefined: missing or unreadable). */
  reclaimAfterMs?: number;
  templateVersion?: string;
}

export const podFacts = (pod: V1Pod): PodFacts => ({
  phase: pod.status?.phase,
  deleting: isDeleting(pod),
  reclaimAfterMs: reclaimAfterOfPod(pod),
  templateVersion: templateVersionOfPod(pod),
});
