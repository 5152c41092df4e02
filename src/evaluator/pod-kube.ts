/**
 * The pod runtime's Kubernetes writes and reads: the Service and Pod of a
 * function instance (created, or adopted when they already exist and are
 * ours), deletions, the reclaim-after patch, the label listing. Thin: the
 * decisions live in ./pod-cache.ts, and what a pod says in ./pod-facts.ts.
 *
 * "Ours" means labelled `fn.kpt.dev/image=<pod id>` (Services: selecting on
 * it). Nothing without that label is ever deleted.
 */
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import { RunnerError } from "../errors.ts";
import type { KubeClient } from "../kube/client.ts";
import { isAlreadyExists, isConflict, isNotFound } from "../kube/errors.ts";
import { IMAGE_LABEL, RECLAIM_AFTER_ANNOTATION } from "../kube/pod-template.ts";
import type { Logger } from "../log.ts";
import { alive, formatReclaimAfter, labelOf, podHealth, selects, templateVersionOfPod } from "./pod-facts.ts";

const podOp = (verb: "get" | "list" | "create" | "delete" | "patch", namespace: string, name?: string) => ({
  verb,
  resource: "pods",
  namespace,
  ...(name === undefined ? {} : { name }),
});
const svcOp = (verb: "get" | "list" | "create" | "delete", namespace: string, name?: string) => ({
  verb,
  resource: "services",
  namespace,
  ...(name === undefined ? {} : { name }),
});

/** The Service of a function instance: created, or the existing one when it selects the same pods. */
export async function ensureService(client: KubeClient, service: V1Service): Promise<V1Service> {
  const namespace = service.metadata?.namespace ?? "";
  const name = service.metadata?.name ?? "";
  const podId = service.spec?.selector?.[IMAGE_LABEL] ?? "";
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await client.call(svcOp("create", namespace, name), (core) => core.createNamespacedService({ namespace, body: service }));
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    const existing = await client.find(svcOp("get", namespace, name), (core) => core.readNamespacedService({ name, namespace }));
    if (existing === undefined) continue; // deleted meanwhile: create again
    if (selects(existing, podId)) return existing;
    throw new RunnerError(
      "INTERNAL",
      `service ${namespace}/${name} exists but does not select ${IMAGE_LABEL}=${podId}: it is not a function service, so it is left alone and no pod is started`,
    );
  }
  throw new RunnerError("KUBE_UNAVAILABLE", `service ${namespace}/${name} kept appearing and vanishing`);
}

export interface PodOutcome {
  pod: V1Pod;
  /** An existing healthy pod of ours was taken over instead of creating one. */
  adopted: boolean;
}

/**
 * Creates the function pod under its fixed name (the pod id, so replicas
 * racing for one image meet on AlreadyExists). When the name is taken:
 * a healthy pod of ours from the same template is adopted; anything else
 * (failed, terminating, older template, not ours) is not reused, ours is
 * deleted, and the pod is created as `<pod id>-<random>` through
 * generateName so it never waits for the old one to terminate (the Service
 * selects on the label, not the name).
 */
export async function createOrAdoptPod(client: KubeClient, pod: V1Pod, logger?: Logger): Promise<PodOutcome> {
  const namespace = pod.metadata?.namespace ?? "";
  const name = pod.metadata?.name ?? "";
  const podId = labelOf(pod);
  const version = templateVersionOfPod(pod);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const created = await client.call(podOp("create", namespace, name), (core) => core.createNamespacedPod({ namespace, body: pod }));
      return { pod: created, adopted: false };
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    const existing = await client.find(podOp("get", namespace, name), (core) => core.readNamespacedPod({ name, namespace }));
    if (existing === undefined) continue;
    const ours = labelOf(existing) === podId;
    const health = podHealth(existing);
    if (ours && templateVersionOfPod(existing) === version && (health.state === "ready" || health.state === "pending")) {
      logger?.info("function pod adopted", { pod: name, namespace });
      return { pod: existing, adopted: true };
    }
    if (ours && health.state !== "deleting") {
      logger?.info("function pod replaced", {
        pod: name,
        namespace,
        why: health.state === "failed" ? "failed" : templateVersionOfPod(existing) !== version ? "older template" : health.state,
      });
      await deletePod(client, namespace, name, existing.metadata?.uid);
    }
    const { name: _fixed, ...metadata } = pod.metadata ?? {};
    const body: V1Pod = { ...pod, metadata: { ...metadata, generateName: `${podId ?? name}-` } };
    const created = await client.call(podOp("create", namespace, `${podId ?? name}-*`), (core) => core.createNamespacedPod({ namespace, body }));
    return { pod: created, adopted: false };
  }
  throw new RunnerError("KUBE_UNAVAILABLE", `pod ${namespace}/${name} kept appearing and vanishing`);
}

/** Deletes a pod (only that incarnation when `uid` is given). Absent or already replaced is fine. */
export async function deletePod(client: KubeClient, namespace: string, name: string, uid?: string): Promise<boolean> {
  try {
    await client.call(podOp("delete", namespace, name), (core) =>
      core.deleteNamespacedPod({ name, namespace, ...(uid === undefined ? {} : { body: { preconditions: { uid } } }) }),
    );
    return true;
  } catch (e) {
    if (isNotFound(e) || isConflict(e)) return false;
    throw e;
  }
}

/** Pods labelled `fn.kpt.dev/image` (any value, or `podId`). */
export async function listFunctionPods(client: KubeClient, namespace: string, podId?: string): Promise<V1Pod[]> {
  const labelSelector = podId === undefined ? IMAGE_LABEL : `${IMAGE_LABEL}=${podId}`;
  const list = await client.call(podOp("list", namespace), (core) => core.listNamespacedPod({ namespace, labelSelector }));
  return list.items;
}

/** Services in the namespace that select on `fn.kpt.dev/image`. */
export async function listFunctionServices(client: KubeClient, namespace: string): Promise<V1Service[]> {
  const list = await client.call(svcOp("list", namespace), (core) => core.listNamespacedService({ namespace }));
  return list.items.filter((s) => s.spec?.selector?.[IMAGE_LABEL] !== undefined);
}

/**
 * Deletes the Service `podId` when no live pod carries its label any more
 * (a replacement pod may already sit behind it). Only a Service that
 * selects on that label is deleted.
 */
export async function deleteServiceIfUnused(client: KubeClient, namespace: string, podId: string, knownPods?: readonly V1Pod[]): Promise<boolean> {
  const pods = knownPods ?? (await listFunctionPods(client, namespace, podId));
  if (pods.some((p) => labelOf(p) === podId && alive(p))) return false;
  const svc = await client.find(svcOp("get", namespace, podId), (core) => core.readNamespacedService({ name: podId, namespace }));
  if (svc === undefined || !selects(svc, podId)) return false;
  try {
    await client.call(svcOp("delete", namespace, podId), (core) =>
      core.deleteNamespacedService({ name: podId, namespace, ...(svc.metadata?.uid ? { body: { preconditions: { uid: svc.metadata.uid } } } : {}) }),
    );
    return true;
  } catch (e) {
    if (isNotFound(e) || isConflict(e)) return false;
    throw e;
  }
}

/** Writes `fn.kpt.dev/reclaim-after` (JSON Patch: client-node's default patch type). */
export async function patchReclaimAfter(client: KubeClient, namespace: string, name: string, ms: number, hasAnnotations: boolean): Promise<void> {
  const value = formatReclaimAfter(ms);
  const body = hasAnnotations
    ? [{ op: "add", path: `/metadata/annotations/${RECLAIM_AFTER_ANNOTATION.replaceAll("~", "~0").replaceAll("/", "~1")}`, value }]
    : [{ op: "add", path: "/metadata/annotations", value: { [RECLAIM_AFTER_ANNOTATION]: value } }];
  await client.call(podOp("patch", namespace, name), (core) => core.patchNamespacedPod({ name, namespace, body }));
}
