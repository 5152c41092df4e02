import type { CredentialProvider } from "./credential.ts";
import { RunnerError } from "../errors.ts";
import { sha256Digest, verifyDigest } from "../image/digest.ts";
import { classifyManifest, extractEntrypoint, MANIFEST_ACCEPT, parseImageConfig, selectPlatform } from "../image/manifest.ts";
import { formatPlatform, type Platform } from "../image/platform.ts";
import type { ImageMetadata } from "../image/metadata.ts";
import { formatReference, normaliseRegistry, registryHost, type ImageReference } from "../image/reference.ts";
import { silentLogger, type Logger } from "../log.ts";
import { RegistryAuth, untilAborted } from "./auth.ts";
import { registryAnswerError } from "./errors.ts";
import { TransportError, type HttpResponse } from "../http/request.ts";
import { ConnectionLimiter, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "../http/limiter.ts";
import { isLinkLocal } from "../http/link-local.ts";
import { defaultRetryPolicy, type RetryPolicy } from "../http/retry.ts";
import { MANIFEST_LIMIT, RegistryRequests } from "./requests.ts";
import { RequestStats, type RequestKind } from "./stats.ts";
import { isTlsPortAnswer, type Route, type RouteStep, type Transport } from "./transport.ts";


export interface RegistryClientOptions {
  credentials: CredentialProvider;
  transport: Transport;
  platform: Platform;
  insecureRegistries?: readonly string[];
  retry?: RetryPolicy;
  manifestLimit?: number;
  logger?: Logger;
  /** Total time for one registry request, headers and body (`--registry-request-timeout`). */
  requestTimeoutMs?: number;
  /** Outbound request caps per host and in total (`--registry-max-connections[-per-host]`). */
  connections?: ConnectionLimits;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** A failure that may mean "wrong scheme or CA": a TLS failure, or a connection that failed before any answer. */
const fallsBack = (e: TransportError): boolean => e.code === "TLS" || (e.code === "NETWORK" && e.stage === "connect");

/** What one resolve attempt needs to know about where it is going. */
interface Target {
  ref: ImageReference;
  image: string;
  route: Route;
  credentials: CredentialProvider;
  signal?: AbortSignal;
}

export interface ResolveOptions {
  platform?: Platform;
  /** Credentials for this image (the auth strategy is per image); default: the client's. */
  credentials?: CredentialProvider;
  /** The transport for this image (chosen with the credentials); default: the client's. */
  transport?: Transport;
  /** Ends the resolve (the whole-resolve deadline): its reason is what the resolve rejects with. */
  signal?: AbortSignal;
}

/** A failed route and why, for the error that lists every attempt. */
interface Attempt {
  step: string;
  cause: string;
}

/**
 * Distribution API client for image metadata. Cold cost by tag: manifest +
 * config when anonymous or with a live token, + token for a new repository,
 * + one manifest for an index; no `/v2/` ping.
 */
export class RegistryClient {
  readonly stats = new RequestStats();
  readonly auth: RegistryAuth;
  private readonly log: Logger;
  private readonly requests: RegistryRequests;
  readonly limiter: ConnectionLimiter;
  /** Which transport step fetched a record: a side channel, so ImageMetadata (and the cache) stay unchanged. */
  private readonly steps = new WeakMap<ImageMetadata, RouteStep>();

  constructor(private readonly opts: RegistryClientOptions) {
    const retry = opts.retry ?? defaultRetryPolicy;
    const requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.log = opts.logger ?? silentLogger;
    this.limiter = new ConnectionLimiter(opts.connections ?? DEFAULT_CONNECTION_LIMITS);
    this.requests = new RegistryRequests({
      retry,
      stats: this.stats,
      limiter: this.limiter,
      requestTimeoutMs,
      manifestLimit: opts.manifestLimit ?? MANIFEST_LIMIT,
      log: this.log,
    });
    this.auth = new RegistryAuth({
      retry,
      stats: this.stats,
      limiter: this.limiter,
      requestTimeoutMs,
      insecureRegistries: new Set((opts.insecureRegistries ?? []).map(normaliseRegistry)),
    });
  }

  /** Digest, platform manifest and entrypoint of an image, trying each transport step in order. */
  async resolve(ref: ImageReference, options: ResolveOptions = {}): Promise<ImageMetadata> {
    const platform = options.platform ?? this.opts.platform;
    const credentials = options.credentials ?? this.opts.credentials;
    const transport = options.transport ?? this.opts.transport;
    const signal = options.signal;
    const image = formatReference(ref);
    if (isLinkLocal(registryHost(ref.registry))) {
      throw new RunnerError("INVALID_REFERENCE", `registry ${ref.registry} is a link-local address (169.254.0.0/16, fe80::/10), which is never a registry`);
    }
    const attempts: Attempt[] = [];
    const routes = await transport.routes(ref.registry);
    for (const [i, route] of routes.entries()) {
      try {
        // A step that cannot be tried (e.g. an unusable mounted CA) fails like an unreachable one.
        if (route.unusable) throw route.unusable;
        const meta = await this.resolveVia({ ref, image, route, credentials, signal }, platform);
        transport.succeeded(ref.registry, route);
        this.steps.set(meta, route.step);
        return meta;
      } catch (e) {
        // Only a failure to reach the registry moves on; any registry answer is final.
        if (!(e instanceof TransportError)) throw e;
        attempts.push({ step: `${route.step} (${route.scheme})`, cause: e.message });
        // A cut mid-body or a timeout is the real cause: trying another scheme would only hide it.
        const next = fallsBack(e) ? routes[i + 1] : undefined;
        if (next) {
          transport.fellBack?.(ref.registry, route, next);
          this.log[next.expected ? "debug" : "warn"]("registry transport step failed, falling back", {
            image,
            registry: ref.registry,
            step: route.step,
            next: next.step,
            reason: e.message,
          });
          continue;
        }
        if (attempts.length === 1) {
          throw new RunnerError(e.code, `cannot reach registry ${ref.registry} for ${image}: ${e.message}`, { cause: e, retryable: e.retryable });
        }
        const listed = attempts.map((a, n) => `(${n + 1}) ${a.step}: ${a.cause}`).join("; ");
        throw new RunnerError(e.code, `cannot reach registry ${ref.registry} for ${image}; tried ${listed}`, { cause: e, retryable: e.retryable });
      }
    }
    throw new RunnerError("NETWORK", `no transport configured for registry ${ref.registry}`);
  }

  /** The transport step that fetched this record (also for records served from the cache). */
  transportStep(meta: ImageMetadata): RouteStep | undefined {
    return this.steps.get(meta);
  }

  private async resolveVia(t: Target, platform: Platform): Promise<ImageMetadata> {
    const { ref, image } = t;
    const wanted = ref.digest ?? ref.tag ?? "latest";
    const top = await this.fetchManifest(t, wanted, `manifest of ${image}`);
    const pinned = ref.digest;
    if (pinned) {
      verifyDigest(top, { digest: pinned }, "refuse", () => `manifest of ${image} from registry ${ref.registry} hashes to ${top.digest}, not the pinned ${pinned}`);
    }
    let parsed = classifyManifest(top.bytes, top.contentType);
    const mediaType = parsed.mediaType;
    let platformDigest = top.digest;
    if (parsed.kind === "index") {
      const child = selectPlatform(parsed.index, platform);
      const got = await this.fetchManifest(t, child.digest, `${formatPlatform(platform)} manifest of ${image}`);
      verifyDigest(got, child, "refuse", () =>
        `index of ${image} on registry ${ref.registry} lists ${child.digest} for ${formatPlatform(platform)}, but the manifest served hashes to ${got.digest}`,
      );
      parsed = classifyManifest(got.bytes, got.contentType);
      if (parsed.kind !== "image") {
        throw new RunnerError("UNSUPPORTED_MEDIA_TYPE", `index of ${image} on registry ${ref.registry} points to another index for ${formatPlatform(platform)}`);
      }
      platformDigest = got.digest;
    }
    const configDigest = parsed.manifest.config.digest;
    const configBytes = await this.fetchBlob(t, configDigest, `config of ${image}`);
    const actual = { digest: sha256Digest(configBytes), size: configBytes.byteLength };
    verifyDigest(actual, { digest: configDigest }, "trust", () => `config of ${image} from registry ${ref.registry} hashes to ${actual.digest}, not ${configDigest}`);
    const config = parseImageConfig(configBytes, `${image} from registry ${ref.registry}`);
    let entry: ReturnType<typeof extractEntrypoint>;
    try {
      entry = extractEntrypoint(config);
    } catch (e) {
      if (e instanceof RunnerError) throw new RunnerError(e.code, `${image}: ${e.message}`);
      throw e;
    }
    return {
      reference: image,
      registry: ref.registry,
      repository: ref.repository,
      digest: top.digest,
      platformDigest,
      platform: formatPlatform({ os: config.os ?? platform.os, architecture: config.architecture ?? platform.architecture, variant: config.variant }),
      entrypoint: entry.entrypoint,
      configEntrypoint: entry.configEntrypoint,
      configCmd: entry.configCmd,
      mediaType,
    };
  }

  private async fetchManifest(t: Target, reference: string, what: string) {
    const res = await this.get(t, `manifests/${reference}`, "manifest", what, { accept: MANIFEST_ACCEPT });
    const content = { digest: sha256Digest(res.body), size: res.body.byteLength };
    // A registry that names a sha256 digest other than the bytes it sent is lying or tampered with.
    const claimed = res.headers["docker-content-digest"];
    if (claimed !== undefined) {
      verifyDigest(content, { digest: claimed }, "trust", () => `${what}: registry ${t.ref.registry} claims ${claimed} but the bytes hash to ${content.digest}`);
    }
    return { bytes: res.body, ...content, contentType: res.headers["content-type"] };
  }

  private async fetchBlob(t: Target, digest: string, what: string): Promise<Uint8Array> {
    return (await this.get(t, `blobs/${digest}`, "blob", what, {})).body;
  }

  /**
   * GET under /v2/<repository>/ with authentication: learns the challenge on
   * the first 401, refreshes a cached token once on a later 401, and never
   * loops on a wrong password.
   */
  private async get(t: Target, path: string, kind: RequestKind, what: string, opts: { accept?: string }): Promise<HttpResponse> {
    const { ref, route } = t;
    const url = `${route.scheme}://${ref.registry}/v2/${ref.repository}/${path}`;
    let learned = false;
    let refreshed = false;
    let waited = false;
    let reseeded = false;
    for (;;) {
      const authz = await this.auth.authorize(ref.registry, ref.repository, route, t.credentials, t.signal);
      // Concurrent first callers share one 401: wait (once) for the request already learning the challenge.
      const discovery = authz === undefined && !waited ? this.auth.discover(ref.registry) : undefined;
      if (discovery !== undefined && "wait" in discovery) {
        waited = true;
        await untilAborted(discovery.wait, t.signal);
        continue;
      }
      const res = await this.requests.get(url, kind, route, ref.registry, authz, opts.accept, t.signal).catch((e: unknown) => {
        discovery?.settle();
        throw e;
      });
      discovery?.settle(res);
      if (res.status >= 200 && res.status < 300) return res;
      if (route.scheme === "http" && isTlsPortAnswer(res.status, res.body)) {
        // Wrong scheme, not a registry answer: the next step may still work.
        throw new TransportError("TLS", `plain HTTP refused: ${ref.registry} answered ${res.status}, it expects TLS`, false);
      }
      if (res.status === 401) {
        const known = this.auth.challenge(ref.registry) !== undefined;
        const changed = this.auth.remember(ref.registry, res.headers["www-authenticate"]);
        if (!authz && changed && !learned) {
          learned = true;
          continue;
        }
        // A seeded challenge (docs/registry.md) the registry rejects: once more with what the registry says now.
        if (authz?.seeded && !reseeded) {
          reseeded = true;
          this.auth.forgetSeed(ref.registry);
          continue;
        }
        if (authz?.tokenKey && !authz.fresh && !refreshed && known) {
          refreshed = true;
          this.auth.reject(authz);
          continue;
        }
      }
      throw registryAnswerError(res.status, res.body, what, ref.registry);
    }
  }
}
