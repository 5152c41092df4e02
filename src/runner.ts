import type { CredentialProvider } from "./auth/credential.ts";
import { DefaultKeychain, FileCredentials } from "./auth/keychain.ts";
import { AuthSelector } from "./auth/selector.ts";
import type { Config } from "./config/config.ts";
import { buildEvaluation } from "./evaluator/build.ts";
import { createPodRuntime, type PodRuntime, type PodRuntimeOverrides } from "./evaluator/pod.ts";
import { DEFAULT_PORCH_RUNTIME_OPTIONS, type PorchRuntimeOptions } from "./evaluator/porch-options.ts";
import type { FunctionEvaluator } from "./evaluator/types.ts";
import { parsePlatform } from "./image/manifest.ts";
import { MetadataCache } from "./image/metadata-cache.ts";
import { ImageResolver } from "./image/resolver.ts";
import type { Logger } from "./log.ts";
import { RegistryClient } from "./registry/client.ts";
import { createTransport } from "./registry/transport-select.ts";
import { KubeRuntime, type KubeRuntimeOptions } from "./kube/runtime.ts";
import { createMetrics, type ServiceMetrics } from "./server/metrics.ts";

/** The long-lived parts, wired from the configuration. */
export interface Runner {
  config: Config;
  logger: Logger;
  client: RegistryClient;
  cache: MetadataCache;
  resolver: ImageResolver;
  auth: AuthSelector;
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
  const porch = overrides.porch ?? DEFAULT_PORCH_RUNTIME_OPTIONS;
  // Secret syncs feed function_runner_pull_secret_syncs_total (`metrics` exists by the time one happens).
  const kubeOptions = porch.functionPodTemplate === undefined ? overrides.kube : { ...overrides.kube, functionPodTemplate: porch.functionPodTemplate };
  const kube = new KubeRuntime(config, logger, kubeOptions, (outcome) => metrics.secretSyncs.inc({ outcome }));
  // `--docker-config` stands in for the whole default keychain (handy for local runs).
  const defaultKeychain: CredentialProvider = config["docker-config"]
    ? new FileCredentials(config["docker-config"], { sourcePrefix: "docker-config" })
    : new DefaultKeychain({ serviceAccount: kube.serviceAccountPullSecrets, logger });
  const custom = new FileCredentials(config["registry-auth-secret-path"], { sourcePrefix: "custom" });
  const auth = new AuthSelector(
    {
      enablePrivateRegistries: config["enable-private-registries"],
      defaultImagePrefix: config["default-image-prefix"],
      defaultRegistries: config["default-registries"],
      registryAuthSecretPath: config["registry-auth-secret-path"],
    },
    defaultKeychain,
    custom,
  );
  const platform = parsePlatform(config.platform);
  // TLS issue: the private-registry TLS chain for custom-auth images when both flags are on, else DefaultTransport.
  // Fallbacks feed function_runner_registry_transport_fallbacks_total (`metrics` exists by the time one happens).
  const transport = createTransport(config, logger, { onFallback: (from, to) => metrics.tlsFallbacks.inc({ from, to }) });
  const client = new RegistryClient({
    credentials: defaultKeychain,
    transport,
    platform,
    insecureRegistries: config["insecure-registries"],
    logger,
  });
  const cache = new MetadataCache({
    tagTtlMs: config["tag-metadata-ttl"],
    maxEntries: config["image-cache-max-entries"],
    maxBytes: config["image-cache-max-bytes"],
  });
  const resolver = new ImageResolver(client, cache, {
    defaultImagePrefix: config["default-image-prefix"],
    platform,
    auth,
    // Custom-registry images: the pull Secret is ensured before their metadata fetch.
    beforeFetch: kube.beforeFetch,
  });
  kube.attach(resolver, auth);
  const metrics = createMetrics({ cache, registryRequests: client.stats });
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
    metrics,
    kube,
    podSpec: (image) => kube.podSpec(image),
    evaluator: evaluation.evaluator,
    ...(pod === undefined ? {} : { pod }),
    start: () => evaluation.start(),
    close: async () => {
      await Promise.all([transport.close(), kube.close(), evaluation.close()]);
    },
  };
}
