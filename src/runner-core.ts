/**
 * The composition root's image half: the flags mapped once into each part's
 * own options (imageOptionsFrom), then credentials, the auth policy and the
 * transports it hands out, registry client, metadata cache, resolver, the
 * Kubernetes runtime and the pod planner built on them. `createRunner`
 * (./runner.ts) adds metrics and the function runtimes; a one-shot `resolve`
 * uses this alone, so it loads neither prom-client nor the evaluators
 * (docs/benchmarks.md: the CLI's time is mostly module loading).
 */
import type { CredentialProvider } from "./registry/credential.ts";
import { DefaultKeychain, FileCredentials, MAX_DOCKER_CONFIG_BYTES } from "./auth/keychain.ts";
import { WatchedFile } from "./files/watched-file.ts";
import { AuthSelector } from "./auth/selector.ts";
import { compileAuthPolicy, type AuthStrategyOptions } from "./auth/strategy.ts";
import type { Config } from "./config/config.ts";
import { parsePlatform } from "./image/platform.ts";
import { MetadataCache, type MetadataCacheOptions } from "./resolve/metadata-cache.ts";
import { ImageResolver, type ResolverOptions } from "./resolve/resolver.ts";
import { PodPlanner, type PodPlannerSettings } from "./kube/pod-planner.ts";
import { KubeRuntime, type KubeRuntimeOptions, type KubeSettings } from "./kube/runtime.ts";
import type { Logger } from "./log.ts";
import { RegistryClient, type RegistryClientOptions } from "./registry/client.ts";
import { TlsChainTransport } from "./registry/tls.ts";
import { DefaultTransport, type RouteStep, type Transport } from "./registry/transport.ts";

/** The registry transports: the default one, and the private-registry TLS chain when its flags are on (docs/tls.md). */
export interface RegistryTransports {
  standard: Transport;
  chain?: TlsChainTransport;
}

/** What choosing credentials and transport per image needs. */
export interface AccessOptions {
  auth: AuthStrategyOptions;
  /** `--insecure-registries`. */
  insecureRegistries: readonly string[];
  /** `--tls-secret-path`, set only with both `--enable-private-registries` and `--enable-private-registries-tls`. */
  privateTls?: { tlsSecretPath: string };
}

/** The registry part: access, client, cache and resolver settings. */
export interface RegistryOptions {
  access: AccessOptions;
  /** `--docker-config`: stands in for the whole default keychain (handy for local runs). */
  dockerConfig?: string;
  client: Pick<RegistryClientOptions, "platform" | "insecureRegistries" | "requestTimeoutMs" | "connections">;
  cache: Pick<MetadataCacheOptions, "tagTtlMs" | "maxEntries" | "maxBytes">;
  resolver: Pick<ResolverOptions, "defaultImagePrefix" | "platform" | "resolveTimeoutMs">;
}

/** The image half's parts, each with its own options. */
export interface ImageOptions {
  registry: RegistryOptions;
  kube: KubeSettings;
  planner: PodPlannerSettings & {
    /** Porch v4's `--function-pod-template`: a ConfigMap in the runner's namespace. */
    functionPodTemplate?: string;
  };
}

/** The only place the image half reads flags. */
export function imageOptionsFrom(config: Config): ImageOptions {
  const platform = parsePlatform(config.platform);
  const insecureRegistries = config["insecure-registries"];
  const defaultImagePrefix = config["default-image-prefix"];
  const namespace = config["pod-namespace"];
  const functionPodTemplate = config["function-pod-template"];
  return {
    registry: {
      access: {
        auth: {
          enablePrivateRegistries: config["enable-private-registries"],
          defaultImagePrefix,
          defaultRegistries: config["default-registries"],
          registryAuthSecretPath: config["registry-auth-secret-path"],
        },
        insecureRegistries,
        ...(config["enable-private-registries"] && config["enable-private-registries-tls"] ? { privateTls: { tlsSecretPath: config["tls-secret-path"] } } : {}),
      },
      ...(config["docker-config"] ? { dockerConfig: config["docker-config"] } : {}),
      client: {
        platform,
        insecureRegistries,
        requestTimeoutMs: config["registry-request-timeout"],
        connections: { perHost: config["registry-max-connections-per-host"], total: config["registry-max-connections"] },
      },
      cache: { tagTtlMs: config["tag-metadata-ttl"], maxEntries: config["image-cache-max-entries"], maxBytes: config["image-cache-max-bytes"] },
      resolver: { defaultImagePrefix, platform, resolveTimeoutMs: config["resolve-timeout"] },
    },
    kube: {
      ...(config.kubeconfig === undefined ? {} : { kubeconfig: config.kubeconfig }),
      namespace,
      pullSecret: { name: config["registry-auth-secret-name"], path: config["registry-auth-secret-path"] },
      functionConfigs: { defaultImagePrefix, functionsDir: config.functions },
    },
    planner: {
      namespace,
      pullSecretName: config["registry-auth-secret-name"],
      maxRequestBodySize: config["max-request-body-size"],
      podTtlMs: config["pod-ttl"],
      ...(functionPodTemplate === undefined || functionPodTemplate === "" ? {} : { functionPodTemplate }),
    },
  };
}

/**
 * The auth policy compiled once and the transports it hands out: custom-auth
 * images get the mounted Docker config and (with the TLS flag) the TLS chain;
 * every other image the default keychain over the default transport.
 */
export function createRegistryAccess(
  opts: AccessOptions,
  credentials: { default: CredentialProvider; custom: CredentialProvider },
  logger: Logger,
  hooks: { onFallback?(from: RouteStep, to: RouteStep): void } = {},
): { auth: AuthSelector; transports: RegistryTransports } {
  const { insecureRegistries } = opts;
  const standard = new DefaultTransport({ insecureRegistries });
  const chain =
    opts.privateTls === undefined
      ? undefined
      : new TlsChainTransport({ tlsSecretPath: opts.privateTls.tlsSecretPath, insecureRegistries, logger, ...(hooks.onFallback === undefined ? {} : { onFallback: hooks.onFallback }) });
  const auth = new AuthSelector(compileAuthPolicy(opts.auth), {
    default: { credentials: credentials.default, transport: standard },
    custom: { credentials: credentials.custom, transport: chain ?? standard },
  });
  return { auth, transports: chain === undefined ? { standard } : { standard, chain } };
}

export interface ImageRuntime {
  kube: KubeRuntime;
  /** Pods for images: Secret and template ensured, Pod and Service built (`prepare`), or shown read-only (`podSpec`). */
  planner: PodPlanner;
  auth: AuthSelector;
  transports: RegistryTransports;
  client: RegistryClient;
  cache: MetadataCache;
  resolver: ImageResolver;
  /** Closes the transport's connections and the Kubernetes client. */
  close(): Promise<void>;
}

export interface ImageRuntimeHooks {
  kube?: KubeRuntimeOptions;
  /** Each pull-secret sync's outcome (for metrics). */
  onSecretSync?(outcome: "created" | "updated" | "unchanged" | "conflict" | "failed"): void;
  /** Each TLS-chain step given up on (for metrics). */
  onFallback?(from: RouteStep, to: RouteStep): void;
}

/** Builds the image half in dependency order: nothing is used before it exists. */
export function createImageRuntime(options: ImageOptions, logger: Logger, hooks: ImageRuntimeHooks = {}): ImageRuntime {
  const { registry } = options;
  // The custom-auth secret is read once per change for both its users: the pull Secret's bytes and the credentials.
  const authSecret = new WatchedFile(registry.access.auth.registryAuthSecretPath, MAX_DOCKER_CONFIG_BYTES);
  const kube = new KubeRuntime(options.kube, logger, { ...hooks.kube, authSecretFile: authSecret }, hooks.onSecretSync);
  const defaultKeychain: CredentialProvider =
    registry.dockerConfig === undefined
      ? new DefaultKeychain({ serviceAccount: kube.serviceAccountPullSecrets, logger })
      : new FileCredentials(registry.dockerConfig, { sourcePrefix: "docker-config" });
  const custom = new FileCredentials(authSecret, { sourcePrefix: "custom" });
  const { auth, transports } = createRegistryAccess(registry.access, { default: defaultKeychain, custom }, logger, hooks);
  const client = new RegistryClient({ ...registry.client, credentials: defaultKeychain, transport: transports.standard, logger });
  const cache = new MetadataCache(registry.cache);
  const resolver = new ImageResolver(client, cache, {
    ...registry.resolver,
    auth,
    // Custom-registry images: the pull Secret is ensured before their metadata fetch.
    beforeFetch: kube.beforeFetch,
  });
  const { functionPodTemplate, ...plannerSettings } = options.planner;
  const planner = new PodPlanner({
    ...plannerSettings,
    resolver,
    auth,
    pullSecret: kube.pullSecret,
    client: () => kube.tryClient(),
    wrapperServerImage: kube.wrapperServerImage,
    templateTtlMs: hooks.kube?.templateTtlMs,
    logger,
    // What the pod runtime would apply: a FunctionConfig's templateOverrides (known while serving).
    overridesFor: (image) => kube.functionConfigs.podSettingsFor(image)?.overrides,
    ...(functionPodTemplate === undefined ? {} : { functionPodTemplate: { name: functionPodTemplate, namespace: () => kube.runnerNamespace() } }),
  });
  return {
    kube,
    planner,
    auth,
    transports,
    client,
    cache,
    resolver,
    close: async () => {
      await Promise.all([transports.standard.close(), transports.chain?.close(), kube.close()]);
    },
  };
}
