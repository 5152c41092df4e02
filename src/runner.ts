import { anonymousProvider, type CredentialProvider } from "./auth/credential.ts";
import { FileCredentials } from "./auth/keychain.ts";
import type { Config } from "./config/config.ts";
import { parsePlatform } from "./image/manifest.ts";
import { MetadataCache } from "./image/metadata-cache.ts";
import { ImageResolver } from "./image/resolver.ts";
import type { Logger } from "./log.ts";
import { RegistryClient } from "./registry/client.ts";
import { DefaultTransport } from "./registry/transport.ts";

/** The long-lived parts, wired from the configuration. */
export interface Runner {
  config: Config;
  logger: Logger;
  client: RegistryClient;
  cache: MetadataCache;
  resolver: ImageResolver;
  close(): Promise<void>;
}

export function createRunner(config: Config, logger: Logger): Runner {
  const credentials: CredentialProvider = config["docker-config"]
    ? new FileCredentials(config["docker-config"], { sourcePrefix: "docker-config" })
    : anonymousProvider;
  const platform = parsePlatform(config.platform);
  const transport = new DefaultTransport({ insecureRegistries: config["insecure-registries"] });
  const client = new RegistryClient({
    credentials,
    transport,
    platform,
    insecureRegistries: config["insecure-registries"],
    logger,
  });
  const cache = new MetadataCache({ tagTtlMs: config["tag-metadata-ttl"] });
  const resolver = new ImageResolver(client, cache, { defaultImagePrefix: config["default-image-prefix"], platform });
  return { config, logger, client, cache, resolver, close: () => transport.close() };
}
