/**
 * Starting function pods (docs/evaluation.md, "The pod runtime"): the
 * planned Service (AlreadyExists: kept when it selects the pod's label),
 * the Pod (AlreadyExists: adopted when ours, healthy and of the current
 * template, else replaced), then waiting for Running + Ready and the
 * Endpoints (./pod-waiter.ts). A pod that does not come up is removed, as
 * upstream does, with its Service unless another pod uses it. Requests for
 * a pod being started wait in its waitlist, counted on its slot.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { RunnerError } from "../errors.ts";
import type { KubeClient } from "../kube/client.ts";
import type { PodPlan } from "../kube/pod-planner.ts";
import { RECLAIM_AFTER_ANNOTATION } from "../kube/pod-template.ts";
import type { Logger } from "../log.ts";
import type { PodCache } from "./pod-cache.ts";
import { formatReclaimAfter, reclaimAfterOfPod, templateVersionOfPod } from "./pod-facts.ts";
import { createOrAdoptPod, deletePod, deleteServiceIfUnused, ensureService } from "./pod-kube.ts";
import type { ServiceAccess } from "./pod-services.ts";
import type { PodSlot, PodTarget } from "./pod-slot.ts";
import { waitForPod } from "./pod-waiter.ts";
import { Waitlist } from "./waitlist.ts";

export interface PodStartContext {
  client: KubeClient;
  namespace: string;
  logger: Logger;
  /** The Pod and Service for instance `postfix` of `image` (the Secret and template ensured; nothing created). */
  prepare: (image: string, postfix: string) => Promise<PodPlan>;
  services: ServiceAccess;
  cache: PodCache;
  /** Where to dial a ready pod. */
  addressOf: (target: Omit<PodTarget, "address">) => string;
  pollMs: number;
  readyTimeoutMs: number;
  /** The runner is closing: stop waiting, and leave the pod for garbage collection. */
  closing: AbortSignal;
}

export interface StartedPod {
  target: PodTarget;
  /** What the pod's reclaim-after annotation says now. */
  reclaimAfterMs: number;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** What a request waiting for a starting pod brings: its deadline and cancellation. */
export interface Waiter {
  image: string;
  deadline?: number;
  signal?: AbortSignal;
}

/** Pods being started, each with the waitlist of the requests waiting for it. */
export class PodStarts {
  private readonly waitlists = new WeakMap<PodSlot, Waitlist<PodTarget>>();

  constructor(private readonly ctx: PodStartContext) {}

  /** Starts the pod of a new slot in the background; its waitlist hears the outcome. */
  start(poolKey: string, slot: PodSlot, image: string): PodSlot {
    const { cache, logger } = this.ctx;
    const waitlist = new Waitlist<PodTarget>();
    this.waitlists.set(slot, waitlist);
    const started = Date.now();
    startFunctionPod(this.ctx, image, slot).then(
      ({ target, reclaimAfterMs }) => {
        if (!cache.isCurrent(slot)) {
          waitlist.reject(new RunnerError("INTERNAL", `function pod ${target.podName} was dropped while it was starting`));
          return;
        }
        cache.markReady(slot, target, reclaimAfterMs);
        logger.info("function pod ready", { pod: target.podName, pool: poolKey, image, ms: Date.now() - started, address: target.address });
        waitlist.resolve(target);
      },
      (e: unknown) => {
        cache.remove(slot);
        logger.warn("function pod did not start", { pod: slot.id, image, error: errorText(e) });
        waitlist.reject(e);
      },
    );
    return slot;
  }

  /** Waits, counted on the slot, until its pod is ready; rejects when it fails or the caller's deadline or signal ends the wait. */
  async waitFor(slot: PodSlot, req: Waiter): Promise<void> {
    const waitlist = this.waitlists.get(slot);
    if (waitlist === undefined) throw new RunnerError("INTERNAL", `pod runtime: slot ${slot.id} is starting without a waitlist`);
    this.ctx.cache.queue(slot);
    try {
      await waitlist.join({
        ...(req.deadline === undefined ? {} : { deadline: req.deadline }),
        ...(req.signal === undefined ? {} : { signal: req.signal }),
        onDeadline: () => new RunnerError("TIMEOUT", `the caller's deadline passed while function pod ${slot.id} for ${JSON.stringify(req.image)} was starting`),
        onAbort: () => new RunnerError("INTERNAL", `evaluation of ${JSON.stringify(req.image)} was cancelled while its pod was starting`),
      });
    } finally {
      this.ctx.cache.dequeue(slot);
    }
  }

  /** Resolves once the slot's pod started or failed (a warm-up: nobody waits for it, its outcome is only logged). */
  async settled(slot: PodSlot): Promise<void> {
    await this.waitlists.get(slot)?.join({ onDeadline: () => new Error("unreachable"), onAbort: () => new Error("unreachable") }).catch(() => undefined);
  }
}

/** Creates (or adopts) the pod of `slot` and waits until it answers. */
export async function startFunctionPod(ctx: PodStartContext, image: string, slot: PodSlot): Promise<StartedPod> {
  const { client, namespace, logger } = ctx;
  const plan = await ctx.prepare(image, slot.postfix);
  if (plan.podId !== slot.id) throw new RunnerError("INTERNAL", `pod runtime: planned pod id ${plan.podId} is not the slot's ${slot.id}`);
  const reclaimAfterMs = ctx.cache.newReclaimAfter(image);
  const annotations = { ...plan.pod.metadata?.annotations, [RECLAIM_AFTER_ANNOTATION]: formatReclaimAfter(reclaimAfterMs) };
  const body: V1Pod = { ...plan.pod, metadata: { ...plan.pod.metadata, annotations } };
  if (!ctx.services.forbidden) {
    try {
      await ensureService(client, plan.service);
    } catch (e) {
      if (!ctx.services.refusedBy(e)) throw e;
    }
  }
  const { pod, adopted } = await createOrAdoptPod(client, body, logger);
  const podName = pod.metadata?.name ?? plan.podId;
  if (!adopted) logger.info("function pod created", { pod: podName, namespace, image: plan.pod.spec?.containers?.[0]?.image ?? image });
  try {
    const ready = await waitForPod({
      client,
      namespace,
      podName,
      ...(pod.metadata?.uid === undefined ? {} : { podUid: pod.metadata.uid }),
      serviceName: ctx.services.forbidden ? undefined : plan.podId,
      pollMs: ctx.pollMs,
      timeoutMs: ctx.readyTimeoutMs,
      signal: ctx.closing,
    });
    const t = {
      podName,
      podUid: ready.pod.metadata?.uid ?? "",
      podIP: ready.podIP,
      serviceName: plan.podId,
      namespace,
      templateVersion: templateVersionOfPod(ready.pod) ?? plan.template.version,
      hasAnnotations: ready.pod.metadata?.annotations !== undefined,
    };
    const written = adopted ? (reclaimAfterOfPod(ready.pod) ?? 0) : reclaimAfterMs;
    return { target: { ...t, address: ctx.addressOf(t) }, reclaimAfterMs: written };
  } catch (e) {
    if (!ctx.closing.aborted) void discard(ctx, podName, pod.metadata?.uid, plan.podId);
    throw e;
  }
}

async function discard(ctx: PodStartContext, podName: string, uid: string | undefined, podId: string): Promise<void> {
  try {
    await deletePod(ctx.client, ctx.namespace, podName, uid);
    await deleteServiceIfUnused(ctx.client, ctx.namespace, podId);
  } catch (e) {
    ctx.logger.warn("cannot delete a function pod that did not start (garbage collection will retry)", { pod: podName, error: errorText(e) });
  }
}
