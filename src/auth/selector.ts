import type { CredentialProvider } from "../registry/credential.ts";
import type { Transport } from "../registry/transport.ts";
import { decideAuth, type AuthDecision, type AuthPolicy, type ImageRefLike } from "./strategy.ts";

/** How one strategy reaches a registry: whose credentials, over which transport. */
export interface RegistryAccess {
  credentials: CredentialProvider;
  transport: Transport;
}

/** The decision for one image, the provider that carries it out and the transport to use. */
export type AuthChoice = AuthDecision & {
  provider: CredentialProvider;
  transport: Transport;
};

/**
 * Applies the compiled policy to an image and hands back what the registry
 * client gets for that resolve: the default keychain over the default
 * transport, or the mounted custom Docker config over the custom transport
 * (the private-registry TLS chain when `--enable-private-registries-tls`,
 * docs/tls.md). The TLS chain goes with custom auth, so it is chosen per
 * image prefix too: a host serving both default-prefix and custom images is
 * reached the default way for the former and through the chain for the latter.
 */
export class AuthSelector {
  constructor(
    readonly policy: AuthPolicy,
    private readonly access: { default: RegistryAccess; custom: RegistryAccess },
  ) {}

  choose(image: ImageRefLike): AuthChoice {
    const decision = decideAuth(image, this.policy);
    const access = decision.strategy === "custom" ? this.access.custom : this.access.default;
    return { ...decision, provider: access.credentials, transport: access.transport };
  }
}
