/**
 * The pod runtime as the runner holds it: cheap to construct (the pod
 * evaluator, gRPC and client-node load on first use, so one-shot commands
 * never pay for them), and honest when there is no cluster: without a
 * Kubernetes connection every image is NOT_FOUND here, naming why, so the
 * multi-evaluator reports it next to the exec runtime's reason.
 */
import { RunnerError } from "../errors.ts";
import type { ImageResolver } from "../resolve/resolver.ts";
import type { PodPlanner } from "../kube/pod-planner.ts";
import type { KubeRuntime } from "../kube/runtime.ts";
import type { Logger } from "../log.ts";
import { EMPTY_POD_CACHE_CONFIG, type PodCacheConfig, podCacheTtl, readPodCacheConfig } from "./pod-cache-config.ts";
import type { PodEvaluator, PodEvaluatorOptions } from "./pod-evaluator.ts";
import type { EvaluationRequest, EvaluationResult, FunctionEvaluator } from "./types.ts";

/** Test seams and tuning not exposed as flags. */
export type PodRuntimeOverrides = Partial<
  Pick<
    PodEvaluatorOptions,
    "clock" | "pollMs" | "readyTimeoutMs" | "patchIntervalMs" | "validateAfterMs" | "unreachableRetries" | "address" | "orphanServiceGraceMs" | "scanIntervalMs"
  >
>;

export interface PodRuntime extends FunctionEvaluator {
  /** With Kubernetes configured: loads the evaluator, adopts running function pods, starts garbage collection. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** The evaluator, or undefined without Kubernetes (loads it; for tests and diagnostics). */
  instance(): Promise<PodEvaluator | undefined>;
  /** The start-up warm-up (images whose pod it started); resolves once those pods are ready or failed. */
  warming(): Promise<string[]>;
}

/** The pod runtime's settings from the flags (the composition root maps them). */
export type PodRuntimeOptions = Pick<
  PodEvaluatorOptions,
  "namespace" | "ttlMs" | "scanIntervalMs" | "maxParallel" | "maxWaitlist" | "maxPending" | "maxMessageSize" | "addressMode" | "dnsSuffix" | "readyTimeoutMs"
> & {
  /** `--default-image-prefix`, as pod-cache-config images are read. */
  defaultImagePrefix: string;
  /** Porch v4's `--pod-cache-config`: image → TTL, warmed at start-up. */
  podCacheConfig?: string;
  /** `--warm-up-pod-cache`: a pod per pod-cache-config image and per FunctionConfig podExecutor at start-up. */
  warmUp: boolean;
};

export interface PodRuntimeDeps {
  options: PodRuntimeOptions;
  logger: Logger;
  kube: KubeRuntime;
  planner: PodPlanner;
  resolver: ImageResolver;
  overrides?: PodRuntimeOverrides;
}

type Loaded = PodEvaluator | { unavailable: string };

export function createPodRuntime(deps: PodRuntimeDeps): PodRuntime {
  const { options, logger, kube, planner, resolver } = deps;
  const { defaultImagePrefix: prefix, podCacheConfig: podCacheConfigFile, warmUp, ...evaluatorOptions } = options;
  let loading: Promise<Loaded> | undefined;
  let closed = false;
  let warm: Promise<string[]> = Promise.resolve([]);
  let podCacheConfig: PodCacheConfig = EMPTY_POD_CACHE_CONFIG;
  // A FunctionConfig's podExecutor (Porch HEAD) first, then the pod-cache-config TTL (v4), then the flags.
  const settings = (image: string) => {
    const fc = kube.functionConfigs.podSettingsFor(image);
    const ttlMs = fc?.ttlMs ?? podCacheTtl(podCacheConfig, image, prefix);
    return {
      ...(ttlMs === undefined ? {} : { ttlMs }),
      ...(fc?.maxParallel === undefined ? {} : { maxParallel: fc.maxParallel }),
      ...(fc?.maxWaitlist === undefined ? {} : { maxWaitlist: fc.maxWaitlist }),
    };
  };
  const load = (): Promise<Loaded> => {
    loading ??= (async (): Promise<Loaded> => {
      const client = await kube.tryClient();
      if ("unavailable" in client) return { unavailable: client.unavailable };
      const { PodEvaluator } = await import("./pod-evaluator.ts");
      const ev = new PodEvaluator({
        client,
        prepare: (image, postfix) => {
          const overrides = kube.functionConfigs.podSettingsFor(image)?.overrides;
          return planner.prepare(image, { postfix, ...(overrides === undefined ? {} : { overrides }) });
        },
        settings,
        templateVersion: async () => (await planner.template(true)).version,
        resolve: async (image, signal) => (await resolver.resolve(image, undefined, { signal })).metadata,
        logger,
        ...evaluatorOptions,
        ...deps.overrides,
      });
      if (closed) await ev.close();
      return ev;
    })();
    return loading;
  };
  return {
    async evaluate(req: EvaluationRequest): Promise<EvaluationResult> {
      const ev = await load();
      if ("unavailable" in ev) {
        throw new RunnerError(
          "NOT_FOUND",
          `pod runtime: not available (no Kubernetes: ${ev.unavailable}), so image ${JSON.stringify(req.image)} cannot run in a pod`,
        );
      }
      return ev.evaluate(req);
    },
    async start(): Promise<void> {
      // No configuration found: nothing to load (and no client-node import).
      if (!kube.status().available) return;
      const ev = await load();
      if ("unavailable" in ev) return;
      void ev.start();
      if (podCacheConfigFile !== undefined && podCacheConfigFile !== "") {
        podCacheConfig = await readPodCacheConfig(podCacheConfigFile, prefix, logger);
      }
      if (!warmUp) return;
      // As Porch: v4's pod-cache-config images, HEAD's FunctionConfig podExecutor images (listed before start()).
      const images = [...podCacheConfig.entries.map((e) => e.image), ...kube.functionConfigs.warmUpImages().map((w) => w.image)];
      if (images.length === 0) return;
      const started = Date.now();
      warm = ev.warmUp(images).then((done) => {
        logger.info("pod cache warm-up completed", { images: images.length, started: done.length, ms: Date.now() - started });
        return done;
      });
    },
    warming: () => warm,
    async close(): Promise<void> {
      closed = true;
      if (loading === undefined) return;
      const ev = await loading;
      if (!("unavailable" in ev)) await ev.close();
    },
    async instance(): Promise<PodEvaluator | undefined> {
      const ev = await load();
      return "unavailable" in ev ? undefined : ev;
    },
  };
}
