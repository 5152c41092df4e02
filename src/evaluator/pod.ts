/**
 * The pod runtime as the runner holds it: cheap to construct (the pod
 * evaluator, gRPC and client-node load on first use, so one-shot commands
 * never pay for them), and honest when there is no cluster: without a
 * Kubernetes connection every image is NOT_FOUND here, naming why, so the
 * multi-evaluator reports it next to the exec runtime's reason.
 */
import type { Config } from "../config/config.ts";
import { RunnerError } from "../errors.ts";
import type { ImageResolver } from "../image/resolver.ts";
import type { KubeRuntime } from "../kube/runtime.ts";
import type { Logger } from "../log.ts";
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
}

export interface PodRuntimeDeps {
  config: Config;
  logger: Logger;
  kube: KubeRuntime;
  resolver: ImageResolver;
  overrides?: PodRuntimeOverrides;
}

type Loaded = PodEvaluator | { unavailable: string };

export function createPodRuntime(deps: PodRuntimeDeps): PodRuntime {
  const { config, logger, kube, resolver } = deps;
  let loading: Promise<Loaded> | undefined;
  let closed = false;
  const load = (): Promise<Loaded> => {
    loading ??= (async (): Promise<Loaded> => {
      const client = await kube.tryClient();
      if ("unavailable" in client) return { unavailable: client.unavailable };
      const { PodEvaluator } = await import("./pod-evaluator.ts");
      const ev = new PodEvaluator({
        client,
        prepare: (image, postfix) => kube.preparePod(image, { postfix }),
        templateVersion: async () => (await kube.planner.template(true)).version,
        resolve: async (image) => (await resolver.resolve(image)).metadata,
        namespace: config["pod-namespace"],
        logger,
        ttlMs: config["pod-ttl"],
        scanIntervalMs: config["scan-interval"],
        maxParallel: config["max-parallel-pods-per-function"],
        maxWaitlist: config["max-waitlist-length"],
        maxPending: config["max-pending-evaluations"],
        maxMessageSize: config["max-request-body-size"],
        addressMode: config["pod-address-mode"],
        dnsSuffix: config["pod-dns-suffix"],
        readyTimeoutMs: config["pod-ready-timeout"],
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
      if (!("unavailable" in ev)) void ev.start();
    },
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
