import type { CredentialProvider } from "./auth/credential.ts";
import { DefaultKeychain, FileCredentials } from "./auth/keychain.ts";
import { AuthSelector } from "./auth/selector.ts";
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
  auth: AuthSelector;
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
  const transport = new DefaultTransport({ insecureRegistries: config["insecure-registries"] });
  const client = new RegistryClient({
    credentials: defaultKeychain,
    transport,
    platform,
    insecureRegistries: config["insecure-registries"],
    logger,
  });
  const cache = new MetadataCache({ tagTtlMs: config["tag-metadata-ttl"] });
  const resolver = new ImageResolver(client, cache, { defaultImagePrefix: config["default-image-prefix"], platform, auth });
  return { config, logger, client, cache, resolver, auth, close: () => transport.close() };
}
