/**
 * The pod runtime (docs/evaluation.md, "The pod runtime"): each function
 * image, pinned to its digest, runs in a pod built from `base-pod-template`
 * with a ClusterIP Service in front; the runner calls the wrapper server in
 * it over gRPC.
 *
 * One evaluation:
 * 1. resolve the image (metadata cache: no network on a hit) → its pod ids;
 * 2. pick a pod (./pod-cache.ts): a ready one, or the one being started
 *    (wait in its waitlist), or start one. Concurrent first requests for an
 *    image start exactly one pod; up to `--max-parallel-pods-per-function`
 *    pods share the load once each carries `--max-waitlist-length`;
 *    requests waiting for pods beyond `--max-pending-evaluations` are
 *    refused (TOO_MANY_REQUESTS);
 * 3. a ready pod not checked for `validateAfterMs` is checked first
 *    (./pod-check.ts): it exists (same uid), has not failed, is not
 *    terminating, comes from the current template, and its Service exists.
 *    Otherwise it is deleted and replaced;
 * 4. call it; a pod that cannot be reached is checked and the call tried
 *    again (twice at most, as Porch's --max-grpc-retries);
 * 5. the pod's `fn.kpt.dev/reclaim-after` follows its last use (patched at
 *    most once per `patchIntervalMs`).
 * Starting a pod: ./pod-start.ts (Service, Pod, wait for Running + Ready
 * and the Endpoints). Without permission on Services, pods are dialled by
 * pod IP (./pod-services.ts). Pods found at start-up are adopted;
 * ./pod-gc.ts reclaims expired and failed ones every `--scan-interval`.
 */
import { isRunnerError, RunnerError } from "../errors.ts";
import type { KubeClient } from "../kube/client.ts";
import { isKubeApiError } from "../kube/errors.ts";
import type { PodPlan } from "../kube/pod-planner.ts";
import { podIdForImage } from "../kube/pod-id.ts";
import type { Logger } from "../log.ts";
import { type ImageSettings, PodCache } from "./pod-cache.ts";
import { PodCheck } from "./pod-check.ts";
import { formatReclaimAfter } from "./pod-facts.ts";
import { PodGc } from "./pod-gc.ts";
import { type AddressMode, PodUnreachableError, WrapperClients, podAddress } from "./pod-grpc.ts";
import { listFunctionPods, patchReclaimAfter } from "./pod-kube.ts";
import { adoptable } from "./pod-reuse.ts";
import { ServiceAccess } from "./pod-services.ts";
import type { Clock, PodSlot, PodTarget } from "./pod-slot.ts";
import { PodStarts } from "./pod-start.ts";
import type { EvaluationRequest, EvaluationResult, FunctionEvaluator } from "./types.ts";

export interface PodEvaluatorOptions {
  client: KubeClient;
  /** The Pod and Service for instance `postfix` of `image` (the Secret and template ensured; nothing created). */
  prepare: (image: string, postfix: string) => Promise<PodPlan>;
  /** The current `base-pod-template` version. */
  templateVersion: () => Promise<string>;
  /** Image → resolved metadata (reference and digest name the pods). */
  resolve: (image: string, signal?: AbortSignal) => Promise<{ reference: string; digest: string; platformDigest?: string }>;
  namespace: string;
  logger: Logger;
  /** `--pod-ttl`. */
  ttlMs: number;
  /** `--scan-interval` (0: no periodic garbage collection). */
  scanIntervalMs: number;
  maxParallel: number;
  maxWaitlist: number;
  maxPending: number;
  /** `--max-request-body-size`: gRPC message limit. */
  maxMessageSize: number;
  addressMode: AddressMode;
  /** `--pod-dns-suffix`. */
  dnsSuffix: string;
  /** `--pod-ready-timeout` (default 60 s). */
  readyTimeoutMs?: number;
  /** Readiness poll interval (default 100 ms). */
  pollMs?: number;
  clock?: Clock;
  patchIntervalMs?: number;
  validateAfterMs?: number;
  /** Attempts after an unreachable pod (default 2). */
  unreachableRetries?: number;
  /** Per-image TTL, parallel pods and waitlist (FunctionConfig podExecutor, pod-cache-config). */
  settings?: (image: string) => ImageSettings | undefined;
  /** Tests: where to dial a ready pod (default: `--pod-address-mode`). */
  address?: (target: Omit<PodTarget, "address">) => string;
  orphanServiceGraceMs?: number;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** No NOT_FOUND leaves the pod runtime: it is the last one, and NOT_FOUND would mean "no runtime knows this image". */
function noNotFound(e: unknown): unknown {
  if (!isRunnerError(e) || e.code !== "NOT_FOUND") return e;
  return new RunnerError(isKubeApiError(e) ? "KUBE_UNAVAILABLE" : "INTERNAL", `pod runtime: ${e.message}`, { cause: e });
}

export class PodEvaluator implements FunctionEvaluator {
  readonly cache: PodCache;
  readonly gc: PodGc;
  private readonly grpc: WrapperClients;
  private readonly closing = new AbortController();
  private starting: Promise<void> | undefined;
  private readonly services: ServiceAccess;
  private readonly checks: PodCheck;
  private readonly starts: PodStarts;

  constructor(private readonly opts: PodEvaluatorOptions) {
    this.cache = new PodCache({
      ttlMs: opts.ttlMs,
      maxParallel: opts.maxParallel,
      maxWaitlist: opts.maxWaitlist,
      maxPending: opts.maxPending,
      ...(opts.clock === undefined ? {} : { clock: opts.clock }),
      ...(opts.patchIntervalMs === undefined ? {} : { patchIntervalMs: opts.patchIntervalMs }),
      ...(opts.validateAfterMs === undefined ? {} : { validateAfterMs: opts.validateAfterMs }),
      ...(opts.settings === undefined ? {} : { settings: opts.settings }),
    });
    this.grpc = new WrapperClients(opts.maxMessageSize);
    this.services = new ServiceAccess(opts.logger, opts.namespace);
    this.checks = new PodCheck({
      client: opts.client,
      logger: opts.logger,
      services: this.services,
      templateVersion: () => opts.templateVersion(),
      passed: (slot) => this.cache.validated(slot),
      retire: (slot) => this.retire(slot),
    });
    this.starts = new PodStarts({
      client: opts.client,
      namespace: opts.namespace,
      logger: opts.logger,
      prepare: (image, postfix) => opts.prepare(image, postfix),
      services: this.services,
      cache: this.cache,
      addressOf: (t) => this.addressOf(t),
      pollMs: opts.pollMs ?? 100,
      readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
      closing: this.closing.signal,
    });
    this.gc = new PodGc({
      client: async () => opts.client,
      namespace: opts.namespace,
      cache: this.cache,
      templateVersion: () => opts.templateVersion(),
      retire: (slot) => this.retire(slot),
      logger: opts.logger,
      ...(opts.orphanServiceGraceMs === undefined ? {} : { orphanServiceGraceMs: opts.orphanServiceGraceMs }),
    });
  }

  /** Adopts the function pods already running (once) and starts the garbage collector. Never throws. */
  start(): Promise<void> {
    if (this.starting === undefined) {
      this.starting = this.adoptRunning().catch((e: unknown) => {
        this.opts.logger.warn("pod runtime: cannot list existing function pods; none adopted", { error: errorText(e) });
      });
      this.gc.start(this.opts.scanIntervalMs);
    }
    return this.starting;
  }

  /**
   * Starts one pod (instance 1, under its fixed name) for each image that
   * has none yet, in the background, as Porch's warm-up does; the answer
   * says which were started. Failures are logged, never thrown.
   */
  async warmUp(images: readonly string[]): Promise<string[]> {
    await this.start();
    const started: string[] = [];
    await Promise.all(
      images.map(async (image) => {
        try {
          const metadata = await this.opts.resolve(image);
          const key = podIdForImage(metadata, "1");
          const pool = this.cache.pool(key, image, (postfix) => podIdForImage(metadata, postfix));
          if (pool.slots.size > 0) return;
          const slot = this.starts.start(pool.key, this.cache.addStarting(pool, "1"), image);
          started.push(image);
          await this.starts.settled(slot);
        } catch (e) {
          this.opts.logger.warn("cannot warm up a function pod", { image, error: errorText(e) });
        }
      }),
    );
    return started;
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.gc.stop();
    this.grpc.close();
  }

  async evaluate(req: EvaluationRequest): Promise<EvaluationResult> {
    try {
      return await this.run(req);
    } catch (e) {
      throw noNotFound(e);
    }
  }

  private async run(req: EvaluationRequest): Promise<EvaluationResult> {
    await this.start();
    const metadata = await this.opts.resolve(req.image, req.signal);
    const key = podIdForImage(metadata, "1");
    const slotId = (postfix: string): string => podIdForImage(metadata, postfix);
    const retries = this.opts.unreachableRetries ?? 2;
    for (let attempt = 0; ; attempt++) {
      const slot = await this.acquire(key, req, slotId);
      const target = slot.target as PodTarget;
      try {
        return await this.grpc.evaluate(target.address, req.image, req.resourceList, {
          ...(req.deadline === undefined ? {} : { deadline: req.deadline }),
          ...(req.signal === undefined ? {} : { signal: req.signal }),
          where: `${target.namespace}/${target.podName}`,
        });
      } catch (e) {
        if (e instanceof PodUnreachableError) {
          this.grpc.drop(target.address);
          this.cache.invalidate(slot);
          const timeLeft = req.deadline === undefined || req.deadline > Date.now();
          if (attempt < retries && timeLeft) {
            this.opts.logger.warn("function pod unreachable; checking it and trying again", { pod: target.podName, attempt: attempt + 1, error: e.message });
            continue;
          }
        }
        throw e;
      } finally {
        this.finish(slot);
      }
    }
  }

  /** An evaluation on `slot` ended: count it, and move reclaim-after along when it lags. */
  private finish(slot: PodSlot): void {
    const patch = this.cache.end(slot);
    if (patch === undefined || !this.cache.isCurrent(slot) || slot.target === undefined) return;
    const target = slot.target;
    const previous = slot.reclaimWrittenMs;
    // Optimistic, so concurrent evaluations do not patch the same pod twice.
    this.cache.reclaimWritten(slot, patch);
    patchReclaimAfter(this.opts.client, target.namespace, target.podName, patch, target.hasAnnotations).then(
      () => this.opts.logger.debug("function pod reclaim-after extended", { pod: target.podName, reclaimAfter: formatReclaimAfter(patch) }),
      (e: unknown) => {
        this.cache.reclaimWriteFailed(slot, previous);
        this.opts.logger.warn("cannot extend a function pod's reclaim-after (garbage collection will retry)", { pod: target.podName, error: errorText(e) });
      },
    );
  }

  /** A ready slot with an evaluation counted on it (`begin`); see the module comment. */
  private async acquire(key: string, req: EvaluationRequest, slotId: (postfix: string) => string): Promise<PodSlot> {
    for (let round = 0; round < 4; round++) {
      // pool() and choose() in one synchronous step: concurrent callers see each other's choice.
      const pool = this.cache.pool(key, req.image, slotId);
      const choice = this.cache.choose(pool);
      if (choice.kind === "full") {
        throw new RunnerError(
          "TOO_MANY_REQUESTS",
          `pod runtime: ${choice.waiting} evaluations of ${JSON.stringify(req.image)} are already waiting for function pods to start (--max-pending-evaluations ${this.cache.maxPending}); try again later`,
        );
      }
      const slot = choice.kind === "create" ? this.starts.start(pool.key, this.cache.addStarting(pool, choice.postfix), req.image) : choice.slot;
      if (slot.state === "starting") {
        await this.starts.waitFor(slot, req);
        this.cache.begin(slot);
        return slot;
      }
      this.cache.begin(slot);
      if (!this.cache.needsValidation(slot) || (await this.checks.validate(slot))) return slot;
      this.cache.end(slot);
    }
    throw new RunnerError("INTERNAL", `pod runtime: no healthy function pod for ${JSON.stringify(req.image)} after 4 attempts`);
  }

  private addressOf(t: Omit<PodTarget, "address">): string {
    return this.opts.address?.(t) ?? podAddress(this.services.forbidden ? "pod-ip" : this.opts.addressMode, t, this.opts.dnsSuffix);
  }

  /** Forgets a slot and its channel. */
  private retire(slot: PodSlot): void {
    this.cache.remove(slot);
    if (slot.target !== undefined) this.grpc.drop(slot.target.address);
  }

  /** Function pods already running from the current template become ready slots for their images. */
  private async adoptRunning(): Promise<void> {
    const [pods, version] = await Promise.all([listFunctionPods(this.opts.client, this.opts.namespace), this.opts.templateVersion()]);
    let adopted = 0;
    for (const pod of pods) {
      const found = adoptable(pod, version, this.opts.namespace);
      if (found === undefined) continue;
      const { target, reclaimAfterMs } = found;
      if (this.cache.adopt({ slotId: target.serviceName, target: { ...target, address: this.addressOf(target) }, reclaimAfterMs })) adopted++;
    }
    if (pods.length > 0) this.opts.logger.info("existing function pods adopted", { found: pods.length, adopted, namespace: this.opts.namespace });
  }
}
