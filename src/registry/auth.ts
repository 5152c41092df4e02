import { createHash } from "node:crypto";
import { BoundedMap, MEMO_MAX_ENTRIES } from "./bounded-map.ts";
import { Buffer } from "node:buffer";
import { z } from "zod";
import { anonymous, type Credential, type CredentialProvider } from "./credential.ts";
import { secrets } from "./secrets.ts";
import { RunnerError } from "../errors.ts";
import { isLoopbackRegistry } from "../image/reference.ts";
import { parseChallenges, pickChallenge, repositoryScope, scopeKey } from "./challenge.ts";
import { httpRequest, TransportError } from "../http/request.ts";
import { isRetryableStatus, parseRetryAfter, retrying, type RetryPolicy } from "../http/retry.ts";
import { abortReason, type ConnectionLimiter } from "../http/limiter.ts";
import type { RequestStats } from "./stats.ts";
import { TokenCache, tokenExpiry } from "./token-cache.ts";
import type { Route } from "./transport.ts";

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Token endpoint answer (distribution token spec; OAuth2 form uses access_token). */
const TokenResponse = z.object({
  token: z.string().min(1).optional(),
  access_token: z.string().min(1).optional(),
  expires_in: z.number().positive().optional(),
});

/** Token and error bodies are capped at 1 MiB (docs/limits.md). */
export const TOKEN_BODY_LIMIT = 1 << 20;

export interface AuthDeps {
  retry: RetryPolicy;
  stats: RequestStats;
  insecureRegistries: ReadonlySet<string>;
  tokens?: TokenCache;
  limiter?: ConnectionLimiter;
  requestTimeoutMs?: number;
}

/** The Authorization header for one request, and whether it was minted by this call. */
export interface Authorization {
  header: string;
  /** Cache key and value to invalidate when the registry rejects it. */
  tokenKey?: string;
  fresh: boolean;
  /** Built from a seeded challenge (the challenge cache file) the registry has not confirmed to this process. */
  seeded?: boolean;
}

const basicHeader = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;

/** Distinguishes tokens minted for different credentials without keeping the secret in the key. */
function credentialFingerprint(c: Credential): string {
  if (c.kind === "anonymous") return "anon";
  return createHash("sha256").update(JSON.stringify(c)).digest("hex").slice(0, 16);
}

/**
 * One request sent without Authorization to learn a registry's challenge
 * (`settle` with its answer, or with nothing when it failed), or the wait for
 * such a request that another caller already sent.
 */
export type Discovery = { settle(answer?: { status: number; headers: Record<string, string> }): void } | { wait: Promise<void> };

/**
 * How long a caller waits for another's discovery before sending its own
 * request: a few round trips to a near registry. A registry that is slow or
 * never answers costs each caller this much, never the leader's whole timeout.
 */
export const DISCOVERY_WAIT_MS = 100;

/** `p`, or nothing after `ms`. */
function atMost(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([p, elapsed]).finally(() => clearTimeout(timer));
}

/** Waits for `p` unless `signal` ends first (then rejects with its reason, as a request would). */
export function untilAborted(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}

/**
 * Per-registry authentication without a `/v2/` ping: the challenge a registry
 * sent once is remembered, so later repositories go straight to the token
 * realm (token + manifest + config). Concurrent first callers share one
 * discovery: one request learns the challenge, the others wait for its answer.
 */
export class RegistryAuth {
  private readonly challenges = new BoundedMap<string, Challenge>(MEMO_MAX_ENTRIES);
  /** Registries whose challenge a request in flight is learning. */
  private readonly discovering = new Map<string, Promise<void>>();
  /** Registries that answered a request without Authorization with success: no challenge to wait for. */
  private readonly open = new BoundedMap<string, true>(MEMO_MAX_ENTRIES);
  /** Challenges given by `seed` (the challenge cache file) and not since sent by the registry itself. */
  private readonly seeded = new Set<string>();
  /** Seeded challenges that did not work and were dropped. */
  private readonly dropped = new Set<string>();
  readonly tokens: TokenCache;

  constructor(private readonly deps: AuthDeps) {
    this.tokens = deps.tokens ?? new TokenCache();
  }

  /** Stores the challenge from a 401; false when the header is absent or unusable. */
  remember(registry: string, header: string | undefined): boolean {
    if (!header) return false;
    let picked: Challenge | undefined;
    try {
      picked = pickChallenge(parseChallenges(header));
    } catch {
      return false;
    }
    if (!picked) return false;
    this.challenges.set(registry, picked);
    this.seeded.delete(registry);
    return true;
  }

  /**
   * A challenge learned by an earlier process (docs/registry.md: the
   * challenge cache file), used like one learned here until it fails: then
   * `forgetSeed` drops it and the registry is asked again. One already
   * known here wins.
   */
  seed(registry: string, challenge: Challenge): void {
    if (this.challenges.has(registry)) return;
    this.challenges.set(registry, challenge);
    this.seeded.add(registry);
  }

  /** Drops a seeded challenge (not one the registry sent this process): the next request learns the challenge anew. */
  forgetSeed(registry: string): void {
    if (!this.seeded.delete(registry)) return;
    this.challenges.delete(registry);
    this.dropped.add(registry);
  }

  /** The challenges registries sent to this process (not the seeded ones), and the seeded ones dropped. */
  learned(): { challenges: Array<[string, Challenge]>; dropped: string[] } {
    return {
      challenges: this.challenges.entries().filter(([registry]) => !this.seeded.has(registry)),
      dropped: [...this.dropped].filter((registry) => !this.challenges.has(registry)),
    };
  }

  challenge(registry: string): Challenge | undefined {
    return this.challenges.get(registry);
  }

  /**
   * For a request about to go out without Authorization: undefined when the
   * registry's challenge is known (or it needs none), else this request leads
   * the discovery (`settle` it with the answer) or waits for the one in flight.
   */
  discover(registry: string): Discovery | undefined {
    if (this.challenges.has(registry) || this.open.has(registry)) return undefined;
    const pending = this.discovering.get(registry);
    if (pending !== undefined) return { wait: atMost(pending, DISCOVERY_WAIT_MS) };
    let done: () => void = () => undefined;
    const p = new Promise<void>((resolve) => {
      done = resolve;
    });
    this.discovering.set(registry, p);
    return {
      settle: (answer) => {
        if (this.discovering.get(registry) !== p) return;
        this.discovering.delete(registry);
        if (answer?.status === 401) this.remember(registry, answer.headers["www-authenticate"]);
        else if (answer !== undefined && answer.status < 400) this.open.set(registry, true);
        done();
      },
    };
  }

  /** The header for a pull of `repository`, or undefined when none is due yet. */
  async authorize(registry: string, repository: string, route: Route, credentials: CredentialProvider, signal?: AbortSignal): Promise<Authorization | undefined> {
    // Plain HTTP to a host not listed insecure gets anonymous access only.
    const { credential } = route.credentials ? await credentials.forRegistry(registry) : anonymous;
    secrets.addCredential(credential);
    if (credential.kind === "registryToken") return { header: `Bearer ${credential.token}`, fresh: false };
    const ch = this.challenges.get(registry);
    if (!ch) return undefined;
    const seeded = this.seeded.has(registry) ? { seeded: true } : {};
    if (ch.scheme === "basic") {
      return credential.kind === "basic" ? { header: basicHeader(credential.username, credential.password), fresh: false, ...seeded } : undefined;
    }
    if (ch.scheme !== "bearer") return undefined;
    const realm = ch.params.realm;
    if (!realm) throw new RunnerError("UNAUTHORIZED", `registry ${registry} sent a Bearer challenge without a realm`);
    const service = ch.params.service;
    const scopes = [repositoryScope(repository)];
    const key = `${scopeKey(realm, service, scopes)}|${credentialFingerprint(credential)}`;
    try {
      const { token, fresh } = await this.tokens.get(key, () => this.fetchToken(registry, realm, service, scopes, credential, route, signal));
      return { header: `Bearer ${token.value}`, tokenKey: key, fresh, ...seeded };
    } catch (e) {
      // A seeded realm that fails may be stale: ask the registry instead (its 401 names the current one).
      if (!("seeded" in seeded) || signal?.aborted) throw e;
      this.forgetSeed(registry);
      return undefined;
    }
  }

  reject(auth: Authorization): void {
    if (auth.tokenKey) this.tokens.invalidate(auth.tokenKey, auth.header.slice("Bearer ".length));
  }

  private async fetchToken(
    registry: string,
    realm: string,
    service: string | undefined,
    scopes: string[],
    credential: Credential,
    route: Route,
    signal: AbortSignal | undefined,
  ) {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RunnerError("UNAUTHORIZED", `registry ${registry} named an invalid token realm`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new RunnerError("UNAUTHORIZED", `registry ${registry} named a token realm with scheme ${url.protocol}`);
    }
    // Credentials go to a realm only over https, or to loopback / listed-insecure hosts.
    const realmSafe = url.protocol === "https:" || isLoopbackRegistry(url.host) || this.deps.insecureRegistries.has(url.host);
    const cred: Credential = realmSafe ? credential : { kind: "anonymous" };
    const headers: Record<string, string> = { "user-agent": USER_AGENT };
    let method: "GET" | "POST" = "GET";
    let body: string | undefined;
    if (cred.kind === "identityToken") {
      method = "POST";
      headers["content-type"] = "application/x-www-form-urlencoded";
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: cred.token, client_id: "function-runner" });
      if (service) form.set("service", service);
      form.set("scope", scopes.join(" "));
      body = form.toString();
    } else {
      if (service) url.searchParams.set("service", service);
      for (const s of scopes) url.searchParams.append("scope", s);
      if (cred.kind === "basic") headers.authorization = basicHeader(cred.username, cred.password);
    }
    const receivedAt = Date.now();
    const res = await retrying(
      this.deps.retry,
      () =>
        httpRequest({
          url: url.toString(),
          method,
          headers,
          body,
          maxBytes: TOKEN_BODY_LIMIT,
          dispatcher: route.dispatcher,
          signal,
          timeoutMs: this.deps.requestTimeoutMs,
          limiter: this.deps.limiter,
        }),
      (o) => {
        if ("error" in o) {
          this.deps.stats.record("token", o.error instanceof TransportError ? o.error.code : "error");
          return { retry: o.error instanceof TransportError && o.error.retryable };
        }
        this.deps.stats.record("token", o.value.status);
        return { retry: isRetryableStatus(o.value.status), retryAfterMs: parseRetryAfter(o.value.headers["retry-after"]) };
      },
      undefined,
      signal,
    );
    if (res.status === 401) throw new RunnerError("UNAUTHORIZED", `token service ${url.host} rejected the credentials for registry ${registry}`, { status: 401 });
    if (res.status === 403) throw new RunnerError("DENIED", `token service ${url.host} denied access for registry ${registry}`, { status: 403 });
    if (res.status === 429) throw new RunnerError("TOO_MANY_REQUESTS", `token service ${url.host} is rate limiting`, { status: 429 });
    if (res.status < 200 || res.status > 299) {
      throw new RunnerError("NETWORK", `token service ${url.host} answered ${res.status} for registry ${registry}`, { status: res.status, retryable: res.status >= 500 });
    }
    let parsed: z.infer<typeof TokenResponse>;
    try {
      parsed = TokenResponse.parse(JSON.parse(new TextDecoder().decode(res.body)));
    } catch {
      throw new RunnerError("UNAUTHORIZED", `token service ${url.host} returned an invalid token response for registry ${registry}`);
    }
    const value = parsed.token ?? parsed.access_token;
    if (!value) throw new RunnerError("UNAUTHORIZED", `token service ${url.host} returned no token for registry ${registry}`);
    secrets.add(value);
    return { value, expiresAt: tokenExpiry(receivedAt, parsed.expires_in) };
  }
}

export const USER_AGENT = "kpt-function-runner/0.1";
