/**
 * Which transport an image uses. The TLS chain applies to images with custom
 * auth, and the auth strategy is decided per image prefix (decideAuth), not
 * per registry host: so the choice is made per image here, with the same
 * predicate. A host that serves both default-prefix and custom images (e.g.
 * ghcr.io/kptdev/krm-functions-catalog/ and ghcr.io/acme/) is reached the
 * default way for the former and through the chain for the latter; each
 * transport remembers its own working step for the host.
 */
import { decideAuth } from "../auth/strategy.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import { TlsChainTransport, type TlsChainOptions } from "../registry/tls.ts";
import { DefaultTransport, type Route, type RouteImage, type Transport, type TransportDescription, type TransportStats } from "../registry/transport.ts";

export class PerImageTransport implements Transport {
  constructor(
    private readonly opts: {
      /** True for images that use custom auth (and so the TLS chain). */
      isCustom: (image: RouteImage) => boolean;
      chain: TlsChainTransport;
      standard: Transport;
    },
  ) {}

  /** Without an image there is no strategy to go by: the default transport. */
  private pick(image: RouteImage | undefined): Transport {
    return image !== undefined && this.opts.isCustom(image) ? this.opts.chain : this.opts.standard;
  }

  routes(registry: string, image?: RouteImage): Route[] | Promise<Route[]> {
    return this.pick(image).routes(registry, image);
  }

  succeeded(registry: string, route: Route, image?: RouteImage): void {
    this.pick(image).succeeded(registry, route, image);
  }

  fellBack(registry: string, from: Route, to: Route, image?: RouteImage): void {
    this.pick(image).fellBack?.(registry, from, to, image);
  }

  describe(registry: string, image?: RouteImage): Promise<TransportDescription> {
    return this.pick(image).describe(registry, image);
  }

  /** The chain's counters: the default transport's loopback http step is expected, not a fallback worth counting. */
  stats(): TransportStats {
    return this.opts.chain.stats();
  }

  async close(): Promise<void> {
    await Promise.all([this.opts.chain.close(), this.opts.standard.close()]);
  }
}

/** The flags' choice: the TLS chain only with both private-registry flags on (docs/tls.md). */
export function createTransport(config: Config, logger: Logger, hooks: Pick<TlsChainOptions, "onFallback"> = {}): Transport {
  const insecureRegistries = config["insecure-registries"];
  const standard = new DefaultTransport({ insecureRegistries });
  if (!config["enable-private-registries"] || !config["enable-private-registries-tls"]) return standard;
  const strategy = {
    enablePrivateRegistries: true,
    defaultImagePrefix: config["default-image-prefix"],
    defaultRegistries: config["default-registries"],
    registryAuthSecretPath: config["registry-auth-secret-path"],
  };
  return new PerImageTransport({
    isCustom: (image) => decideAuth(image, strategy).strategy === "custom",
    chain: new TlsChainTransport({ tlsSecretPath: config["tls-secret-path"], insecureRegistries, logger, ...hooks }),
    standard,
  });
}
