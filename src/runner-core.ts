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
import type { Config } from "./config/config.ts";
import { parsePlatform } from "./image/platform.ts";
import { MetadataCache } from "./resolve/metadata-cache.ts";
import { ImageResolver } from "./resolve/resolver.ts";
import { KubeRuntime, type KubeRuntimeOptions } from "./kube/runtime.ts";
import type { Logger } from "./log.ts";
import { RegistryClient } from "./registry/client.ts";
import { createTransport } from "./resolve/transport-select.ts";
import type { Transport } from "./registry/transport.ts";

export interface ImageRuntime {
  kube: KubeRuntime;
  auth: AuthSelector;
  transport: Transport;
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
  onFallback?(from: string, to: string): void;
}

export function createImageRuntime(config: Config, logger: Logger, hooks: ImageRuntimeHooks = {}): ImageRuntime {
  const kube = new KubeRuntime(config, logger, hooks.kube, hooks.onSecretSync);
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
  // The private-registry TLS chain (docs/tls.md) for custom-auth images when both flags are on, else DefaultTransport.
  const transport = createTransport(config, logger, hooks.onFallback === undefined ? {} : { onFallback: hooks.onFallback });
  const client = new RegistryClient({
    credentials: defaultKeychain,
    transport,
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
    transport,
    client,
    cache,
    resolver,
    close: async () => {
      await Promise.all([transport.close(), kube.close()]);
    },
  };
}
