import type { V1Pod, V1Service } from "@kubernetes/client-node";
import type { PodTarget } from "./pod-cache.ts";
import { labelOf, selects, templateVersionOfPod } from "./pod-kube.ts";
import { podHealth } from "./pod-waiter.ts";

/**
 * Why a cached pod must not serve another call, or undefined when it may.
 * Pure: the caller fetched the pod, its Service and the current template version.
 */
export function reuseProblem(
  target: Pick<PodTarget, "podUid" | "serviceName">,
  pod: V1Pod | undefined,
  service: V1Service | undefined,
  templateVersion: string,
): string | undefined {
  if (pod === undefined || pod.metadata?.uid !== target.podUid) return "the pod is gone";
  const health = podHealth(pod);
  if (health.state === "failed") return `the pod failed: ${health.why}`;
  if (health.state === "deleting") return "the pod is being deleted";
  if (labelOf(pod) !== target.serviceName) return "the pod lost its label";
  const version = templateVersionOfPod(pod);
  if (version !== templateVersion) return `the pod template changed (pod ${version ?? "none"}, now ${templateVersion})`;
  if (service === undefined || !selects(service, target.serviceName)) return `its service ${target.serviceName} is gone`;
  return undefined;
}
