/**
 * Checking a ready function pod before it serves again (docs/evaluation.md,
 * "The pod runtime"): it exists (same uid), has not failed, is not
 * terminating, comes from the current template, and its Service exists
 * (./pod-reuse.ts decides). A pod that fails the check is forgotten and
 * deleted; one the API cannot tell about is used (a failed call brings the
 * evaluator back here).
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import type { Logger } from "../log.ts";
import { podHealth } from "./pod-facts.ts";
import { deletePod } from "./pod-kube.ts";
import { reuseProblem } from "./pod-reuse.ts";
import type { ServiceAccess } from "./pod-services.ts";
import type { PodSlot } from "./pod-slot.ts";

export interface PodCheckOptions {
  client: KubeClient;
  logger: Logger;
  services: ServiceAccess;
  /** The current `base-pod-template` version. */
  templateVersion: () => Promise<string>;
  /** The slot passed the check. */
  passed: (slot: PodSlot) => void;
  /** The slot's pod must not serve again: forget it (and its channel). */
  retire: (slot: PodSlot) => void;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class PodCheck {
  private readonly inFlight = new Map<PodSlot, Promise<boolean>>();

  constructor(private readonly opts: PodCheckOptions) {}

  /** Whether the slot's pod may serve; concurrent callers share one check. */
  validate(slot: PodSlot): Promise<boolean> {
    let p = this.inFlight.get(slot);
    if (p === undefined) {
      p = this.check(slot).finally(() => this.inFlight.delete(slot));
      this.inFlight.set(slot, p);
    }
    return p;
  }

  private async check(slot: PodSlot): Promise<boolean> {
    const t = slot.target;
    if (t === undefined) return false;
    const { client, logger } = this.opts;
    let problem: string | undefined;
    let pod: V1Pod | undefined;
    try {
      const [found, svc, version] = await Promise.all([
        client.find({ verb: "get", resource: "pods", namespace: t.namespace, name: t.podName }, (core) =>
          core.readNamespacedPod({ name: t.podName, namespace: t.namespace }),
        ),
        this.opts.services.forbidden
          ? Promise.resolve("not-used" as const)
          : client.find({ verb: "get", resource: "services", namespace: t.namespace, name: t.serviceName }, (core) =>
              core.readNamespacedService({ name: t.serviceName, namespace: t.namespace }),
            ),
        this.opts.templateVersion(),
      ]);
      pod = found;
      problem = reuseProblem(t, found, svc, version);
    } catch (e) {
      logger.warn("cannot check a function pod before reuse; using it", { pod: t.podName, error: errorText(e) });
      return true;
    }
    if (problem === undefined) {
      this.opts.passed(slot);
      return true;
    }
    logger.info("function pod replaced", { pod: t.podName, why: problem });
    this.opts.retire(slot);
    if (pod !== undefined && pod.metadata?.uid === t.podUid && podHealth(pod).state !== "deleting") {
      try {
        await deletePod(client, t.namespace, t.podName, t.podUid);
      } catch (e) {
        logger.warn("cannot delete a function pod being replaced (garbage collection will retry)", { pod: t.podName, error: errorText(e) });
      }
    }
    return false;
  }
}
