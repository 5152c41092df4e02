import type { AuthSelector } from "./auth/selector.ts";
import type { Config } from "./config/config.ts";
import { buildEvaluation } from "./evaluator/build.ts";
import { createPodRuntime, type PodRuntime, type PodRuntimeOverrides } from "./evaluator/pod.ts";
import { type PorchFileFlags, type PorchRuntimeOptions, porchOptionsFrom } from "./evaluator/porch-options.ts";
import type { FunctionEvaluator } from "./evaluator/types.ts";
import type { MetadataCache } from "./resolve/metadata-cache.ts";
import type { ImageResolver } from "./resolve/resolver.ts";
import type { Logger } from "./log.ts";
import type { RegistryClient } from "./registry/client.ts";
import type { KubeRuntime, KubeRuntimeOptions } from "./kube/runtime.ts";
import { createImageRuntime, type RegistryTransports } from "./runner-core.ts";
import { createMetrics, type ServiceMetrics } from "./metrics/metrics.ts";
import { otelMetricsFromEnv } from "./metrics/otel-env.ts";
import process from "node:process";

/** The long-lived parts, wired from the configuration. */
export interface Runner {
  config: Config;
  logger: Logger;
  client: RegistryClient;
  cache: MetadataCache;
  resolver: ImageResolver;
  auth: AuthSelector;
  /** The default transport and the private-registry TLS chain (when on); `auth` hands one out per image. */
  transports: RegistryTransports;
  /** This runner's Prometheus registry; modules record fallbacks and secret syncs into it. */
  metrics: ServiceMetrics;
  /**
   * Kubernetes: `status()` (available + why, for /readyz), `client()`,
   * `pullSecret.ensure()`, `preparePod(image)` (Secret + template ensured,
   * Pod and Service built) and `podSpec(image)` (read-only).
   */
  kube: KubeRuntime;
  // Seams the service (src/server/) calls when present; each absent one has a documented answer.
  /** Runs functions. Absent: EvaluateFunction and /v1/functions/evaluate answer NOT_FOUND. */
  evaluator?: FunctionEvaluator;
  /** The pod runtime (absent with `--disable-runtimes pod`); `instance()` reaches its cache and garbage collector. */
  pod?: PodRuntime;
  /** The Pod that would run `image` (no writes). Absent: /v1/pods/spec answers 503 KUBE_UNAVAILABLE. */
  podSpec?(image: string): Promise<unknown>;
  /** Checks before serving: loads the exec runtime's config.yaml (a broken one throws, naming the file). */
  start?(): Promise<void>;
  close(): Promise<void>;
}

export interface RunnerOverrides {
  /** Tests: pretend to be in a cluster, fast retries, a fixed wrapper image. */
  kube?: KubeRuntimeOptions;
  /** Tests: clock, poll interval, ready timeout, pod address... */
  pod?: PodRuntimeOverrides;
  /** Porch v4's file-based flags (--config, --pod-cache-config, --warm-up-pod-cache, --function-pod-template). */
  porch?: PorchRuntimeOptions;
}

export function createRunner(config: Config, logger: Logger, overrides: RunnerOverrides = {}): Runner {
  // Porch v4's file flags (src/config/config.ts); tests may pass the options directly.
  const porch = overrides.porch ?? porchOptionsFrom(config as Config & PorchFileFlags);
  const kubeOptions = porch.functionPodTemplate === undefined ? overrides.kube : { ...overrides.kube, functionPodTemplate: porch.functionPodTemplate };
  // Secret syncs and TLS fallbacks feed their counters (`metrics` exists by the time one happens).
  const images = createImageRuntime(config, logger, {
    ...(kubeOptions === undefined ? {} : { kube: kubeOptions }),
    onSecretSync: (outcome) => metrics.secretSyncs.inc({ outcome }),
    onFallback: (from, to) => metrics.tlsFallbacks.inc({ from, to }),
  });
  const { kube, auth, client, cache, resolver, transports } = images;
  // OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES label target_info (src/metrics/otel-env.ts).
  const metrics = createMetrics({ cache, registryRequests: client.stats, ...(transports.chain === undefined ? {} : { transport: transports.chain }), resource: otelMetricsFromEnv(process.env).resource });
  // Exec runtime from --functions, then the pod runtime (loaded on first use), minus --disable-runtimes.
  const pod = config["disable-runtimes"].includes("pod") ? undefined : createPodRuntime({ config, logger, kube, resolver, overrides: overrides.pod, porch });
  const evaluation = buildEvaluation(config, logger, {
    ...(pod === undefined ? {} : { pod }),
    functionConfigs: { store: kube.functionConfigs, watch: () => kube.watchFunctionConfigs() },
    ...(porch.execConfigFile === undefined ? {} : { execConfigFile: porch.execConfigFile }),
  });
  return {
    config,
    logger,
    client,
    cache,
    resolver,
    auth,
    transports,
    metrics,
    kube,
    podSpec: (image) => kube.podSpec(image),
    evaluator: evaluation.evaluator,
    ...(pod === undefined ? {} : { pod }),
    start: () => evaluation.start(),
    close: async () => {
      await Promise.all([images.close(), evaluation.close()]);
    },
  };
}
