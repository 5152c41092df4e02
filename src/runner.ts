import type { CredentialProvider } from "./auth/credential.ts";
import { DefaultKeychain, FileCredentials } from "./auth/keychain.ts";
import { AuthSelector } from "./auth/selector.ts";
import type { Config } from "./config/config.ts";
import type { FunctionEvaluator } from "./evaluator/types.ts";
import { parsePlatform } from "./image/manifest.ts";
import { MetadataCache } from "./image/metadata-cache.ts";
import { ImageResolver } from "./image/resolver.ts";
import type { Logger } from "./log.ts";
import { RegistryClient } from "./registry/client.ts";
import { createTransport } from "./registry/transport-select.ts";
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
  // Seams the service (src/server/) calls when present; each absent one has a documented answer.
  /** Runs functions. Absent: EvaluateFunction and /v1/functions/evaluate answer NOT_FOUND. */
  evaluator?: FunctionEvaluator;
  /** The Pod that would run `image` (no writes). Absent: /v1/pods/spec answers 503 KUBE_UNAVAILABLE. */
  podSpec?(image: string): Promise<unknown>;
  close(): Promise<void>;
}

export function createRunner(config: Config, logger: Logger): Runner {
  // `--docker-config` stands in for the whole default keychain (handy for local runs).
  const defaultKeychain: CredentialProvider = config["docker-config"]
    ? new FileCredentials(config["docker-config"], { sourcePrefix: "docker-config" })
    : new DefaultKeychain();
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
  const transport = createTransport(config, logger);
  const client = new RegistryClient({
    credentials: defaultKeychain,
    transport,
    platform,
    insecureRegistries: config["insecure-registries"],
    logger,
  });
  const cache = new MetadataCache({ tagTtlMs: config["tag-metadata-ttl"] });
  const resolver = new ImageResolver(client, cache, { defaultImagePrefix: config["default-image-prefix"], platform, auth });
  const metrics = createMetrics({ cache, registryRequests: client.stats });
  return { config, logger, client, cache, resolver, auth, metrics, close: () => transport.close() };
}
