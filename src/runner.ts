/**
 * The composition root: the flags mapped once into each part's own options
 * (runnerOptionsFrom), then the parts built in dependency order: metrics
 * first (the parts count into them), the image half (./runner-core.ts), the
 * pod runtime and the evaluation. Parts never read flags.
 */
import type { AuthSelector } from "./auth/selector.ts";
import type { Config } from "./config/config.ts";
import { buildEvaluation, type EvaluationOptions } from "./evaluator/build.ts";
import { createPodRuntime, type PodRuntime, type PodRuntimeOptions, type PodRuntimeOverrides } from "./evaluator/pod.ts";
import type { PorchRuntimeOptions } from "./evaluator/porch-options.ts";
import type { FunctionEvaluator } from "./evaluator/types.ts";
import type { MetadataCache } from "./resolve/metadata-cache.ts";
import type { ImageResolver } from "./resolve/resolver.ts";
import type { Logger } from "./log.ts";
import type { RegistryClient } from "./registry/client.ts";
import type { PodPlanner } from "./kube/pod-planner.ts";
import type { KubeRuntime, KubeRuntimeOptions } from "./kube/runtime.ts";
import { createImageRuntime, imageOptionsFrom, type ImageOptions, type RegistryTransports } from "./runner-core.ts";
import { createMetrics, type ServiceMetrics } from "./metrics/metrics.ts";
import { otelMetricsFromEnv } from "./metrics/otel-env.ts";
import process from "node:process";

/**
 * The service's settings (src/server/ takes them from the runner it serves:
 * the service sits above the composition root).
 */
export interface ServerOptions {
  /** `--port`: gRPC (Porch's FunctionEvaluator). */
  port: number;
  /** `--http-port`: the HTTP API, probes and /metrics. */
  httpPort: number;
  /** `--listen-address`: both servers bind it. */
  listenAddress: string;
  /** `--max-request-body-size`: the largest gRPC message and HTTP body. */
  maxRequestBodySize: number;
  /** `--access-log`: a line per HTTP request at info. */
  accessLog: boolean;
  /** `--http-auth-token-file`: the bearer token the HTTP API requires. */
  httpAuthTokenFile?: string;
  /** `--shutdown-timeout`: how long in-flight calls may take after SIGTERM. */
  shutdownTimeoutMs: number;
}

/** Every part's options, from the flags. */
export interface RunnerOptions extends ImageOptions {
  /** The pod runtime's; absent with `--disable-runtimes pod`. */
  pod?: PodRuntimeOptions;
  evaluation: EvaluationOptions;
  server: ServerOptions;
}

/** Porch v4's file flags as the runtimes take them (tests may pass these directly). */
export function porchOptionsFrom(config: Config): PorchRuntimeOptions {
  return {
    warmUp: config["warm-up-pod-cache"],
    podCacheConfig: config["pod-cache-config"],
    ...(config.config === undefined ? {} : { execConfigFile: config.config }),
    ...(config["function-pod-template"] === undefined ? {} : { functionPodTemplate: config["function-pod-template"] }),
  };
}

/**
 * The only place flags become options. `porch` replaces the four Porch v4
 * file flags (`--config`, `--pod-cache-config`, `--warm-up-pod-cache`,
 * `--function-pod-template`) as a whole.
 */
export function runnerOptionsFrom(config: Config, porch: PorchRuntimeOptions = porchOptionsFrom(config)): RunnerOptions {
  const image = imageOptionsFrom(config);
  const disabled = config["disable-runtimes"];
  const defaultImagePrefix = config["default-image-prefix"];
  const maxRequestBodySize = config["max-request-body-size"];
  const { functionPodTemplate: _flag, ...planner } = image.planner;
  return {
    ...image,
    planner: porch.functionPodTemplate === undefined || porch.functionPodTemplate === "" ? planner : { ...planner, functionPodTemplate: porch.functionPodTemplate },
    ...(disabled.includes("pod")
      ? {}
      : {
          pod: {
            defaultImagePrefix,
            namespace: config["pod-namespace"],
            ttlMs: config["pod-ttl"],
            scanIntervalMs: config["scan-interval"],
            maxParallel: config["max-parallel-pods-per-function"],
            maxWaitlist: config["max-waitlist-length"],
            maxPending: config["max-pending-evaluations"],
            maxMessageSize: maxRequestBodySize,
            addressMode: config["pod-address-mode"],
            dnsSuffix: config["pod-dns-suffix"],
            readyTimeoutMs: config["pod-ready-timeout"],
            ...(porch.podCacheConfig === undefined ? {} : { podCacheConfig: porch.podCacheConfig }),
            warmUp: porch.warmUp,
          },
        }),
    evaluation: {
      ...(disabled.includes("exec")
        ? {}
        : {
            exec: {
              dir: config.functions,
              defaultImagePrefix,
              maxOutputBytes: maxRequestBodySize,
              ...(porch.execConfigFile === undefined ? {} : { configFile: porch.execConfigFile }),
            },
          }),
      pod: !disabled.includes("pod"),
      disabled,
    },
    server: {
      port: config.port,
      httpPort: config["http-port"],
      listenAddress: config["listen-address"],
      maxRequestBodySize,
      accessLog: config["access-log"],
      ...(config["http-auth-token-file"] === undefined ? {} : { httpAuthTokenFile: config["http-auth-token-file"] }),
      shutdownTimeoutMs: config["shutdown-timeout"],
    },
  };
}

/** The long-lived parts, wired from the configuration. */
export interface Runner {
  /** Every part's options, as mapped from the flags. */
  options: RunnerOptions;
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
   * `pullSecret.ensure()`, the FunctionConfigs.
   */
  kube: KubeRuntime;
  /** `prepare(image)` (Secret + template ensured, Pod and Service built) and `podSpec(image)` (read-only). */
  planner: PodPlanner;
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
  const options = runnerOptionsFrom(config, overrides.porch);
  // OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES label target_info (src/metrics/otel-env.ts).
  const metrics = createMetrics({ resource: otelMetricsFromEnv(process.env).resource });
  const images = createImageRuntime(options, logger, {
    ...(overrides.kube === undefined ? {} : { kube: overrides.kube }),
    onSecretSync: (outcome) => metrics.secretSyncs.inc({ outcome }),
    onFallback: (from, to) => metrics.tlsFallbacks.inc({ from, to }),
  });
  const { kube, planner, auth, client, cache, resolver, transports } = images;
  metrics.observe({ cache, registryRequests: client.stats, ...(transports.chain === undefined ? {} : { transport: transports.chain }) });
  // The pod runtime (loaded on first use) unless --disable-runtimes pod; the exec runtime from --functions.
  const pod = options.pod === undefined ? undefined : createPodRuntime({ options: options.pod, logger, kube, planner, resolver, overrides: overrides.pod });
  const evaluation = buildEvaluation(options.evaluation, logger, {
    ...(pod === undefined ? {} : { pod }),
    functionConfigs: { store: kube.functionConfigs, watch: () => kube.watchFunctionConfigs() },
  });
  return {
    options,
    logger,
    client,
    cache,
    resolver,
    auth,
    transports,
    metrics,
    kube,
    planner,
    podSpec: (image) => planner.podSpec(image),
    evaluator: evaluation.evaluator,
    ...(pod === undefined ? {} : { pod }),
    start: () => evaluation.start(),
    close: async () => {
      await Promise.all([images.close(), evaluation.close()]);
    },
  };
}
