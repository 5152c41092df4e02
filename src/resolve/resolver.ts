import type { CredentialProvider, ResolvedCredential } from "../registry/credential.ts";
import { RunnerError } from "../errors.ts";
import type { AuthChoice, AuthSelector } from "../auth/selector.ts";
import type { AuthStrategy } from "../auth/strategy.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { RouteStep } from "../registry/transport.ts";
import { isIndexMediaType } from "../image/manifest.ts";
import { formatPlatform, parsePlatform, platformServes, type Platform } from "../image/platform.ts";
import { Interner, internMetadata } from "./intern.ts";
import type { MetadataCache } from "./metadata-cache.ts";
import type { ImageMetadata } from "../image/metadata.ts";
import { expandShortName, formatReference, parseReference, type ImageReference } from "../image/reference.ts";

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
  /** Picks default keychain vs custom auth (and their transports) per image; without it the client's own are used. */
  auth?: AuthSelector;
  /**
   * Runs on a cache miss before the registry is contacted: the Kubernetes
   * part ensures the pull Secret of custom-strategy images here
   * (docs/kubernetes.md). A throw fails the resolve; errors are never cached.
   */
  beforeFetch?: (ref: ImageReference, choice: AuthChoice | undefined) => Promise<void>;
  /** Deadline of one whole fetch (every step, retry and redirect): `--resolve-timeout`. */
  resolveTimeoutMs?: number;
}

export interface ResolveOptions {
  /** Leave `beforeFetch` out (read-only callers such as `podspec`, which must not write the Secret). */
  skipBeforeFetch?: boolean;
  /**
   * The caller's deadline or disconnect: ends this caller's wait only. The
   * shared fetch goes on for the others waiting on it (and for the cache).
   */
  signal?: AbortSignal;
}

export const DEFAULT_RESOLVE_TIMEOUT_MS = 120_000;

/**
 * Image name → metadata: short-name expansion, reference parsing, the auth
 * strategy, then the cache with single-flight in front of the registry client.
 */
export class ImageResolver {
  /** How each cached record was fetched, for the resolve answer on a hit; goes with the record when it is evicted. */
  private readonly authOf = new WeakMap<ImageMetadata, AuthDescription>();
  /** Image string → parsed reference: parsing costs ~1 µs, more than the cache lookup itself. */
  private readonly parsed = new Map<string, { ref: ImageReference; reference: string }>();
  /** Characters held by `parsed` (keys and formatted references): bounded in bytes, not only in count. */
  private parsedChars = 0;
  // Sized for the working set of hot images, not the whole cache: each entry costs ~0.4 KB of heap (docs/benchmarks.md).
  private static readonly PARSED_LIMIT = 1_024;
  private static readonly PARSED_CHARS_LIMIT = 256 << 10;
  /** Shared instances of what records repeat: the cache's memory per image (docs/benchmarks.md). */
  private readonly intern = new Interner();

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
      const chars = image.length + 2 * p.reference.length;
      if (this.parsed.size >= ImageResolver.PARSED_LIMIT || this.parsedChars + chars > ImageResolver.PARSED_CHARS_LIMIT) {
        this.parsed.clear();
        this.parsedChars = 0;
      }
      this.parsed.set(image, p);
      this.parsedChars += chars;
    }
    return p;
  }

  /**
   * `platform` given means the caller asked for it: a single-platform image
   * built for another platform is then NO_MATCHING_PLATFORM. Without it the
   * configured platform picks from indexes and single images are taken as
   * they are (as Porch does).
   */
  async resolve(image: string, platform?: Platform, options: ResolveOptions = {}): Promise<Resolution> {
    const { ref, reference } = this.parse(image);
    const want = platform ?? this.opts.platform;
    const key = cacheKey(reference, want);
    const hit = this.cache.peek(key);
    if (hit) {
      if (platform !== undefined) checkPlatform(hit, platform);
      return { metadata: hit, cached: true, ref, auth: this.authOf.get(hit) ?? UNKNOWN_AUTH, transport: this.client.transportStep(hit) };
    }
    const shared = this.cache.get(key, reference, ref.digest !== undefined, () =>
      withDeadline(this.opts.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS, reference, async (signal) => {
        const choice = this.opts.auth?.choose(ref);
        if (this.opts.beforeFetch !== undefined && options.skipBeforeFetch !== true) await this.opts.beforeFetch(ref, choice);
        const credentials = choice ? once(choice.provider) : undefined;
        const meta = internMetadata(
          await this.client.resolve(ref, { platform: want, credentials, ...(choice === undefined ? {} : { transport: choice.transport }), signal }),
          reference,
          this.intern,
        );
        this.authOf.set(
          meta,
          this.intern.record({
            strategy: choice?.strategy ?? "default",
            reason: choice?.reason ?? "credentials given to the client",
            source: credentials?.last?.source ?? "anonymous",
          }),
        );
        return meta;
      }),
    );
    const metadata = await waitUnless(shared, options.signal);
    if (platform !== undefined) checkPlatform(metadata, platform);
    return { metadata, cached: false, ref, auth: this.authOf.get(metadata) ?? UNKNOWN_AUTH, transport: this.client.transportStep(metadata) };
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

  /** Drops every platform's record of an image (and any fetch in flight for it); returns how many were removed. */
  forget(image: string): number {
    return this.cache.deleteImage(formatReference(this.reference(image))).length;
  }
}

/** Runs `work` with a signal that aborts (with a TIMEOUT naming the flag) after `ms`. */
async function withDeadline<T>(ms: number, reference: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  const timeout = new RunnerError("TIMEOUT", `resolving ${reference} took longer than ${ms / 1000}s (--resolve-timeout)`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctl.abort(timeout);
      reject(timeout);
    }, ms);
  });
  try {
    // The race ends the wait even if some step does not watch the signal.
    return await Promise.race([work(ctl.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** `p`, unless the caller's signal aborts first: then only this caller stops waiting. */
function waitUnless<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(callerGone(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(callerGone(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

const callerGone = (signal: AbortSignal): RunnerError =>
  signal.reason instanceof RunnerError ? signal.reason : new RunnerError("TIMEOUT", "the caller cancelled or its deadline passed before the image was resolved");

/** A single-platform image whose config names another platform than the one asked for. */
function checkPlatform(meta: ImageMetadata, want: Platform): void {
  if (isIndexMediaType(meta.mediaType)) return;
  let have: Platform;
  try {
    have = parsePlatform(meta.platform);
  } catch {
    return; // a config platform we cannot read says nothing either way
  }
  if (!platformServes(want, have)) {
    throw new RunnerError(
      "NO_MATCHING_PLATFORM",
      `${meta.reference} is a single-platform image for ${meta.platform}, not ${formatPlatform(want)}`,
    );
  }
}

const UNKNOWN_AUTH: AuthDescription = { strategy: "default", reason: "credentials given to the client", source: "anonymous" };
