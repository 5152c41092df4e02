/**
 * Garbage collection of function pods, every `--scan-interval`: every pod
 * labelled `fn.kpt.dev/image` in the pod namespace (whichever runner
 * replica made it) is judged by `judgePod` (./pod-verdict.ts):
 * - failed (phase Failed or Succeeded): deleted;
 * - expired (`fn.kpt.dev/reclaim-after` passed, and not in use here):
 *   deleted; when this runner used it since it last wrote the annotation,
 *   the annotation is extended instead;
 * - without the annotation (made by Porch HEAD): given first seen + TTL;
 * - built from another template: never served here, deleted once expired;
 * - terminating: left to Kubernetes.
 * A Service goes once no live pod carries its label; a function Service
 * with no pod at all (a runner died between the two creates) goes after a
 * grace period. Nothing without the label is touched.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { isKubeApiError } from "../kube/errors.ts";
import type { Logger } from "../log.ts";
import type { PodCache } from "./pod-cache.ts";
import { alive, labelOf, podFacts } from "./pod-facts.ts";
import { deletePod, deleteServiceIfUnused, listFunctionPods, listFunctionServices, patchReclaimAfter } from "./pod-kube.ts";
import type { PodSlot } from "./pod-slot.ts";
import { judgePod, type PodVerdict } from "./pod-verdict.ts";

export interface GcOptions {
  client: () => Promise<KubeClient>;
  namespace: string;
  cache: PodCache;
  /** The current `base-pod-template` version (undefined: unknown, so no pod is judged stale). */
  templateVersion: () => Promise<string | undefined>;
  /** A slot of this runner lost its pod: forget it (and its channel). */
  retire: (slot: PodSlot) => void;
  logger: Logger;
  /** A function Service without any pod is deleted once this old (default 5 min). */
  orphanServiceGraceMs?: number;
}

export interface GcReport {
  deleted: Array<{ pod: string; reason: string }>;
  extended: string[];
  services: string[];
  kept: number;
}

const timeOf = (t: Date | string | undefined): number | undefined => {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
};

export class PodGc {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<GcReport> | undefined;

  constructor(private readonly opts: GcOptions) {}

  /** One scan (concurrent callers share it). */
  scan(): Promise<GcReport> {
    this.running ??= this.scanOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  start(intervalMs: number): void {
    if (this.timer !== undefined || intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.scan().catch((e: unknown) => this.opts.logger.warn("function pod garbage collection failed", { error: e instanceof Error ? e.message : String(e) }));
    }, intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async scanOnce(): Promise<GcReport> {
    const { cache, namespace, logger } = this.opts;
    const client = await this.opts.client();
    const report: GcReport = { deleted: [], extended: [], services: [], kept: 0 };
    const pods = await listFunctionPods(client, namespace);
    let template: string | undefined;
    try {
      template = await this.opts.templateVersion();
    } catch (e) {
      logger.warn("garbage collection: cannot read the pod template; no pod is judged by its template version", {
        error: e instanceof Error ? e.message : String(e),
      });
    }
    const now = cache.now();
    const remaining: V1Pod[] = [];
    for (const pod of pods) {
      const name = pod.metadata?.name ?? "";
      const label = labelOf(pod) ?? "";
      const slot = cache.slotById(label);
      const mine = slot !== undefined && slot.target?.podName === name ? slot : undefined;
      const verdict: PodVerdict = judgePod(
        podFacts(pod),
        {
          // A pod being started for a slot here is not judged until it runs.
          busy: slot !== undefined && (slot.state === "starting" || (mine !== undefined && (mine.inFlight > 0 || mine.waiting > 0))),
          ...(mine?.state === "ready" ? { desiredReclaimAfterMs: cache.desiredReclaimAfter(mine) } : {}),
        },
        now,
        cache.ttlOf(mine),
        template,
      );
      switch (verdict.action) {
        case "delete":
          try {
            await deletePod(client, namespace, name, pod.metadata?.uid);
            report.deleted.push({ pod: name, reason: verdict.reason });
            logger.info("function pod garbage-collected", { pod: name, namespace, reason: verdict.reason });
            if (mine !== undefined) this.opts.retire(mine);
          } catch (e) {
            remaining.push(pod);
            logger.warn("garbage collection: cannot delete a function pod", { pod: name, error: e instanceof Error ? e.message : String(e) });
          }
          break;
        case "extend":
          try {
            await patchReclaimAfter(client, namespace, name, verdict.reclaimAfterMs, pod.metadata?.annotations !== undefined);
            if (mine !== undefined) cache.reclaimWritten(mine, verdict.reclaimAfterMs);
            report.extended.push(name);
          } catch (e) {
            logger.warn("garbage collection: cannot extend a function pod's reclaim-after", { pod: name, error: e instanceof Error ? e.message : String(e) });
          }
          remaining.push(pod);
          report.kept++;
          break;
        case "keep":
        case "skip":
          remaining.push(pod);
          report.kept++;
          break;
      }
    }

    // Services: of labels whose pods all went, and function Services with no pod at all.
    let services: Awaited<ReturnType<typeof listFunctionServices>>;
    try {
      services = await listFunctionServices(client, namespace);
    } catch (e) {
      // No permission on services (Porch v4.1.2's Role): pods then run without them (./pod-evaluator.ts).
      if (isKubeApiError(e) && e.reason === "Forbidden") return report;
      throw e;
    }
    const labels = new Set<string>([...pods.map((p) => labelOf(p) ?? ""), ...services.map((s) => s.metadata?.name ?? "")]);
    labels.delete("");
    const grace = this.opts.orphanServiceGraceMs ?? 5 * 60_000;
    for (const label of labels) {
      if (remaining.some((p) => labelOf(p) === label && alive(p))) continue;
      if (cache.busy(label) || cache.slotById(label)?.state === "starting") continue;
      const hadPods = pods.some((p) => labelOf(p) === label);
      if (!hadPods) {
        const svc = services.find((s) => s.metadata?.name === label);
        const created = timeOf(svc?.metadata?.creationTimestamp);
        if (svc === undefined || created === undefined || now - created < grace) continue;
      }
      try {
        if (await deleteServiceIfUnused(client, namespace, label, remaining)) {
          report.services.push(label);
          logger.info("function service garbage-collected", { service: label, namespace });
        }
      } catch (e) {
        logger.warn("garbage collection: cannot delete a function service", { service: label, error: e instanceof Error ? e.message : String(e) });
      }
    }
    return report;
  }
}
