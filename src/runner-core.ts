/**
 * The image half of the runner: credentials, auth choice, registry client and
 * transport, metadata cache, resolver and the Kubernetes runtime they use.
 * `createRunner` (./runner.ts) adds metrics and the function runtimes; a
 * one-shot `resolve` uses this alone, so it loads neither prom-client nor the
 * evaluators (docs/benchmarks.md: the CLI's time is mostly module loading).
 */
import type { CredentialProvider } from "./registry/credential.ts";
import { DefaultKeychain, FileCredentials } from "./auth/keychain.ts";
import { AuthSelector } from "./auth/selector.ts";
import { compileAuthPolicy, type AuthStrategyOptions } from "./auth/strategy.ts";
import type { Config } from "./config/config.ts";
import { parsePlatform } from "./image/platform.ts";
import { MetadataCache } from "./resolve/metadata-cache.ts";
import { ImageResolver } from "./resolve/resolver.ts";
import { KubeRuntime, type KubeRuntimeOptions } from "./kube/runtime.ts";
import type { Logger } from "./log.ts";
import { RegistryClient } from "./registry/client.ts";
import { TlsChainTransport } from "./registry/tls.ts";
import { DefaultTransport, type RouteStep, type Transport } from "./registry/transport.ts";

/** The registry transports: the default one, and the private-registry TLS chain when its flags are on (docs/tls.md). */
export interface RegistryTransports {
  standard: Transport;
  chain?: TlsChainTransport;
}

/** What choosing credentials and transport per image needs, mapped from the flags. */
export interface AccessOptions {
  auth: AuthStrategyOptions;
  /** `--insecure-registries`. */
  insecureRegistries: readonly string[];
  /** `--tls-secret-path`, set only with both `--enable-private-registries` and `--enable-private-registries-tls`. */
  privateTls?: { tlsSecretPath: string };
}

export function accessOptionsFrom(config: Config): AccessOptions {
  return {
    auth: {
      enablePrivateRegistries: config["enable-private-registries"],
      defaultImagePrefix: config["default-image-prefix"],
      defaultRegistries: config["default-registries"],
      registryAuthSecretPath: config["registry-auth-secret-path"],
    },
    insecureRegistries: config["insecure-registries"],
    ...(config["enable-private-registries"] && config["enable-private-registries-tls"] ? { privateTls: { tlsSecretPath: config["tls-secret-path"] } } : {}),
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

export function createImageRuntime(config: Config, logger: Logger, hooks: ImageRuntimeHooks = {}): ImageRuntime {
  const kube = new KubeRuntime(config, logger, hooks.kube, hooks.onSecretSync);
  // `--docker-config` stands in for the whole default keychain (handy for local runs).
  const defaultKeychain: CredentialProvider = config["docker-config"]
    ? new FileCredentials(config["docker-config"], { sourcePrefix: "docker-config" })
    : new DefaultKeychain({ serviceAccount: kube.serviceAccountPullSecrets, logger });
  const custom = new FileCredentials(config["registry-auth-secret-path"], { sourcePrefix: "custom" });
  const { auth, transports } = createRegistryAccess(accessOptionsFrom(config), { default: defaultKeychain, custom }, logger, hooks);
  const platform = parsePlatform(config.platform);
  const client = new RegistryClient({
    credentials: defaultKeychain,
    transport: transports.standard,
    platform,
    insecureRegistries: config["insecure-registries"],
    logger,
    requestTimeoutMs: config["registry-request-timeout"],
    connections: { perHost: config["registry-max-connections-per-host"], total: config["registry-max-connections"] },
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
    resolveTimeoutMs: config["resolve-timeout"],
  });
  kube.attach(resolver, auth);
  return {
    kube,
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
