/**
 * Waiting for a function pod to answer: the pod Running and Ready with an
 * IP, and the Endpoints of its Service listing that IP (so a call through
 * the Service reaches it). Polled (default every 100 ms, 60 s at most), as
 * Porch does: client-node's watch does not work under Bun.
 *
 * The shell: what the pod and its Endpoints say is read by ./pod-facts.ts.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { RunnerError } from "../errors.ts";
import type { KubeClient } from "../kube/client.ts";
import { endpointsList, functionImageOf, podHealth } from "./pod-facts.ts";

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
