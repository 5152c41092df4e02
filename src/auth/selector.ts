import type { CredentialProvider } from "../registry/credential.ts";
import { decideAuth, type AuthDecision, type AuthStrategyOptions, type ImageRefLike } from "./strategy.ts";

/** The decision for one image and the provider that carries it out. */
export interface AuthChoice extends AuthDecision {
  provider: CredentialProvider;
}

/**
 * Applies the pure strategy to an image and hands back the credential
 * provider to use: the default keychain, or the mounted custom Docker config.
 */
export class AuthSelector {
  constructor(
    private readonly opts: AuthStrategyOptions,
    private readonly defaultKeychain: CredentialProvider,
    private readonly custom: CredentialProvider,
  ) {}

  choose(image: ImageRefLike): AuthChoice {
    const decision = decideAuth(image, this.opts);
    return { ...decision, provider: decision.strategy === "custom" ? this.custom : this.defaultKeychain };
  }
}
