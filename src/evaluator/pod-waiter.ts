/**
 * Waiting for a function pod to answer: the pod Running and Ready with an
 * IP, and the Endpoints of its Service listing that IP (so a call through
 * the Service reaches it). Polled (default every 100 ms, 60 s at most), as
 * Porch does: client-node's watch does not work under Bun.
 *
 * `podHealth` and `endpointsList` are pure; `waitForPod` is the polling shell.
 */
import type { V1Endpoints, V1Pod } from "@kubernetes/client-node";
import { RunnerError } from "../errors.ts";
import type { KubeClient } from "../kube/client.ts";
import { FUNCTION_CONTAINER_NAME } from "../kube/pod-template.ts";

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

/** What a pod's status says about using it. Pure. */
export function podHealth(pod: V1Pod): PodHealth {
  if (pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null) return { state: "deleting" };
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

/** Whether the Endpoints list `podIP` (of the pod with `podUid`, when they say) as a ready address. Pure. */
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

export interface WaitOptions {
  client: KubeClient;
  namespace: string;
  podName: string;
  /** The pod's uid, once known: a pod recreated under the same name is not the one being waited for. */
  podUid?: string;
  /** The Service whose Endpoints must list the pod; undefined: no Service (dialled by pod IP). */
  serviceName: string | undefined;
  pollMs: number;
  timeoutMs: number;
  /** Stops waiting (the runner is closing). */
  signal?: AbortSignal;
}

export interface ReadyPod {
  pod: V1Pod;
  podIP: string;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** Polls until the pod is ready and its Service's Endpoints list it; TIMEOUT after `timeoutMs`, INTERNAL when it fails. */
export async function waitForPod(opts: WaitOptions): Promise<ReadyPod> {
  const { client, namespace, podName, serviceName } = opts;
  const started = Date.now();
  let last = "not yet seen";
  for (;;) {
    if (opts.signal?.aborted === true) throw new RunnerError("INTERNAL", `stopped waiting for function pod ${namespace}/${podName}: the runner is shutting down`);
    const pod = await client.find({ verb: "get", resource: "pods", namespace, name: podName }, (core) =>
      core.readNamespacedPod({ name: podName, namespace }),
    );
    if (pod === undefined || (opts.podUid !== undefined && pod.metadata?.uid !== opts.podUid)) {
      throw new RunnerError("INTERNAL", `function pod ${namespace}/${podName} was deleted while it was starting`);
    }
    const health = podHealth(pod);
    switch (health.state) {
      case "deleting":
        throw new RunnerError("INTERNAL", `function pod ${namespace}/${podName} is being deleted while it was starting`);
      case "failed":
        throw new RunnerError("INTERNAL", `function pod ${namespace}/${podName} (${functionImageOf(pod) ?? "?"}) failed to start: ${health.why}`);
      case "pending":
        last = health.why;
        break;
      case "ready": {
        if (serviceName === undefined) return { pod, podIP: health.podIP };
        const ep = await client.find({ verb: "get", resource: "endpoints", namespace, name: serviceName }, (core) =>
          core.readNamespacedEndpoints({ name: serviceName, namespace }),
        );
        if (endpointsList(ep, health.podIP, pod.metadata?.uid)) return { pod, podIP: health.podIP };
        last = `ready at ${health.podIP}, not yet in the endpoints of service ${serviceName}`;
        break;
      }
    }
    if (Date.now() - started >= opts.timeoutMs) {
      throw new RunnerError(
        "TIMEOUT",
        `function pod ${namespace}/${podName} was not ready within ${Math.round(opts.timeoutMs / 100) / 10} s (--pod-ready-timeout): ${last}`,
      );
    }
    await sleep(opts.pollMs, opts.signal);
  }
}
