import type { CredentialProvider, ResolvedCredential } from "../auth/credential.ts";
import { RunnerError } from "../errors.ts";
import type { AuthChoice, AuthSelector } from "../auth/selector.ts";
import type { AuthStrategy } from "../auth/strategy.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { RouteStep } from "../registry/transport.ts";
import { formatPlatform, type Platform } from "./manifest.ts";
import type { MetadataCache } from "./metadata-cache.ts";
import type { ImageMetadata } from "./metadata.ts";
import { expandShortName, formatReference, parseReference, type ImageReference } from "./reference.ts";

/** Which credentials a resolve used and why; names the source, never the secret. */
export interface AuthDescription {
  strategy: AuthStrategy;
  reason: string;
  source: string;
}

export interface Resolution {
  metadata: ImageMetadata;
  /** True when no registry call was made for this answer. */
  cached: boolean;
  ref: ImageReference;
  auth: AuthDescription;
  /** The transport step that fetched the record (e.g. `mounted-ca`); also known on a cache hit. */
  transport?: RouteStep;
}

/** Cache key: the full reference plus the platform, since one tag resolves per platform. */
export const cacheKey = (reference: string, platform: Platform): string => `${reference} ${formatPlatform(platform)}`;

/** Asks the underlying provider at most once per registry: a credential helper is a process spawn. */
function once(provider: CredentialProvider): CredentialProvider & { last?: ResolvedCredential } {
  const seen = new Map<string, Promise<ResolvedCredential>>();
  const memo: CredentialProvider & { last?: ResolvedCredential } = {
    forRegistry(registry) {
      let p = seen.get(registry);
      if (!p) {
        p = provider.forRegistry(registry).then((c) => (memo.last = c));
        seen.set(registry, p);
      }
      return p;
    },
  };
  return memo;
}

export interface ResolverOptions {
  defaultImagePrefix: string;
  platform: Platform;
  /** Picks default keychain vs custom auth per image; without it the client's credentials are used. */
  auth?: AuthSelector;
  /**
   * Runs on a cache miss before the registry is contacted: the Kubernetes
   * part ensures the pull Secret of custom-strategy images here (design.md
   * §1 item 5). A throw fails the resolve; errors are never cached.
   */
  beforeFetch?: (ref: ImageReference, choice: AuthChoice | undefined) => Promise<void>;
}

export interface ResolveOptions {
  /** Leave `beforeFetch` out (read-only callers such as `podspec`, which must not write the Secret). */
  skipBeforeFetch?: boolean;
}

/**
 * Image name → metadata: short-name expansion, reference parsing, the auth
 * strategy, then the cache with single-flight in front of the registry client.
 */
export class ImageResolver {
  /** How each cached record was fetched, for the resolve answer on a hit. */
  private readonly authOf = new Map<string, AuthDescription>();
  /** Image string → parsed reference: parsing costs ~1 µs, more than the cache lookup itself. */
  private readonly parsed = new Map<string, { ref: ImageReference; reference: string }>();
  private static readonly PARSED_LIMIT = 10_000;

  constructor(
    private readonly client: RegistryClient,
    private readonly cache: MetadataCache,
    private readonly opts: ResolverOptions,
  ) {}

  /** Parses (and expands) without network: throws INVALID_REFERENCE. */
  reference(image: string): ImageReference {
    return parseReference(expandShortName(image.trim(), this.opts.defaultImagePrefix));
  }

  private parse(image: string): { ref: ImageReference; reference: string } {
    let p = this.parsed.get(image);
    if (p === undefined) {
      const ref = this.reference(image);
      p = { ref, reference: formatReference(ref) };
      if (this.parsed.size >= ImageResolver.PARSED_LIMIT) this.parsed.clear();
      this.parsed.set(image, p);
    }
    return p;
  }

  async resolve(image: string, platform: Platform = this.opts.platform, options: ResolveOptions = {}): Promise<Resolution> {
    const { ref, reference } = this.parse(image);
    const key = cacheKey(reference, platform);
    const hit = this.cache.peek(key);
    if (hit) return { metadata: hit, cached: true, ref, auth: this.authOf.get(key) ?? UNKNOWN_AUTH, transport: this.client.transportStep(hit) };
    let auth: AuthDescription = UNKNOWN_AUTH;
    const metadata = await this.cache.get(key, ref.digest !== undefined, async () => {
      const choice = this.opts.auth?.choose(ref);
      if (this.opts.beforeFetch !== undefined && options.skipBeforeFetch !== true) await this.opts.beforeFetch(ref, choice);
      const credentials = choice ? once(choice.provider) : undefined;
      const meta = await this.client.resolve(ref, { platform, credentials });
      const description: AuthDescription = {
        strategy: choice?.strategy ?? "default",
        reason: choice?.reason ?? "credentials given to the client",
        source: credentials?.last?.source ?? "anonymous",
      };
      this.authOf.set(key, description);
      return meta;
    });
    auth = this.authOf.get(key) ?? auth;
    return { metadata, cached: false, ref, auth, transport: this.client.transportStep(metadata) };
  }

  /** The auth decision and credential source for an image, without contacting the registry. */
  async explainAuth(image: string): Promise<AuthDescription & { ref: ImageReference }> {
    const ref = this.reference(image);
    const choice = this.opts.auth?.choose(ref);
    if (!choice) return { ...UNKNOWN_AUTH, ref };
    let source: string;
    try {
      source = (await choice.provider.forRegistry(ref.registry)).source;
    } catch (e) {
      // explain reports a broken credential source instead of failing on it.
      source = `unavailable: ${e instanceof RunnerError ? `${e.code}: ` : ""}${e instanceof Error ? e.message : String(e)}`;
    }
    return { strategy: choice.strategy, reason: choice.reason, source, ref };
  }

  /** Drops every platform's record of an image; returns how many were removed. */
  forget(image: string): number {
    const prefix = `${formatReference(this.reference(image))} `;
    let removed = 0;
    for (const { key } of this.cache.list()) {
      if (key.startsWith(prefix) && this.cache.delete(key)) {
        this.authOf.delete(key);
        removed++;
      }
    }
    return removed;
  }
}

const UNKNOWN_AUTH: AuthDescription = { strategy: "default", reason: "credentials given to the client", source: "anonymous" };
