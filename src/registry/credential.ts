/**
 * A credential for one registry, in the forms a Docker config can hold.
 * Values never leave the auth and registry modules except as Authorization headers.
 */
export type Credential =
  | { kind: "anonymous" }
  | { kind: "basic"; username: string; password: string }
  /** Docker `identitytoken`: an OAuth2 refresh token exchanged at the token realm. */
  | { kind: "identityToken"; token: string; username?: string }
  /** Docker `registrytoken`: sent to the registry as the bearer as it is. */
  | { kind: "registryToken"; token: string };

/** A credential plus where it came from, e.g. `custom:/var/tmp/auth-secret/.dockerconfigjson#ghcr.io`. */
export interface ResolvedCredential {
  credential: Credential;
  /** Names the source, never the secret. */
  source: string;
}

/** Looks up the credential to use for a registry host (e.g. `ghcr.io`, `index.docker.io`, `127.0.0.1:5000`). */
export interface CredentialProvider {
  forRegistry(registry: string): Promise<ResolvedCredential>;
}

export const anonymous: ResolvedCredential = { credential: { kind: "anonymous" }, source: "anonymous" };

export const anonymousProvider: CredentialProvider = { forRegistry: async () => anonymous };
