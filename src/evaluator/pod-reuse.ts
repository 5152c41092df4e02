/**
 * Whether a cached function pod may serve another call, and which pods found
 * at start-up may be adopted (docs/evaluation.md, "Reuse, TTL and garbage
 * collection"). Pure: the caller fetched the objects; what they say is read
 * through ./pod-facts.ts.
 */
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import { labelOf, podHealth, reclaimAfterOfPod, selects, templateVersionOfPod } from "./pod-facts.ts";
import type { PodTarget } from "./pod-slot.ts";

/**
 * Why a cached pod must not serve another call, or undefined when it may.
 * Pure: the caller fetched the pod, its Service and the current template version.
 */
export function reuseProblem(
  target: Pick<PodTarget, "podUid" | "serviceName">,
  pod: V1Pod | undefined,
  service: V1Service | undefined | "not-used",
  templateVersion: string,
): string | undefined {
  if (pod === undefined || pod.metadata?.uid !== target.podUid) return "the pod is gone";
  const health = podHealth(pod);
  if (health.state === "failed") return `the pod failed: ${health.why}`;
  if (health.state === "deleting") return "the pod is being deleted";
  if (labelOf(pod) !== target.serviceName) return "the pod lost its label";
  const version = templateVersionOfPod(pod);
  if (version !== templateVersion) return `the pod template changed (pod ${version ?? "none"}, now ${templateVersion})`;
  if (service === "not-used") return undefined;
  if (service === undefined || !selects(service, target.serviceName)) return `its service ${target.serviceName} is gone`;
  return undefined;
}

/**
 * A function pod found running at start-up, as a target to adopt: only ready
 * pods of the current template qualify. Pure.
 */
export function adoptable(
  pod: V1Pod,
  templateVersion: string,
  namespace: string,
): { target: Omit<PodTarget, "address">; reclaimAfterMs: number } | undefined {
  const label = labelOf(pod);
  const health = podHealth(pod);
  if (label === undefined || health.state !== "ready" || templateVersionOfPod(pod) !== templateVersion) return undefined;
  return {
    target: {
      podName: pod.metadata?.name ?? "",
      podUid: pod.metadata?.uid ?? "",
      podIP: health.podIP,
      serviceName: label,
      namespace,
      templateVersion,
      hasAnnotations: pod.metadata?.annotations !== undefined,
    },
    reclaimAfterMs: reclaimAfterOfPod(pod) ?? 0,
  };
}
