/**
 * One registry GET as the wire sees it: redirects followed with
 * Authorization kept to the registry's own origin and never downgraded to
 * plain HTTP, retries per the policy (408/429/5xx, resets, Retry-After), body
 * caps, and the request counts. Authentication lives in ./client.ts and
 * ./auth.ts (docs/registry.md).
 */
import { RunnerError } from "../errors.ts";
import type { ConnectionLimiter } from "../http/limiter.ts";
import { httpRequest, TransportError, type HttpResponse } from "../http/request.ts";
import { isRetryableStatus, parseRetryAfter, retrying, type RetryPolicy } from "../http/retry.ts";
import type { Logger } from "../log.ts";
import { USER_AGENT, type Authorization } from "./auth.ts";
import type { RequestKind, RequestStats } from "./stats.ts";
import type { Route } from "./transport.ts";

/** Manifests and configs: 4 MiB, like containers/image. Never truncated. */
export const MANIFEST_LIMIT = 4 << 20;
export const ERROR_BODY_LIMIT = 1 << 20;
const MAX_REDIRECTS = 10;

export interface RegistryRequestsDeps {
  retry: RetryPolicy;
  stats: RequestStats;
  limiter: ConnectionLimiter;
  /** Total time for one request, headers and body. */
  requestTimeoutMs: number;
  manifestLimit: number;
  log: Logger;
}

/** `registry` as URL would spell its host under `protocol` (default ports dropped). */
function originHost(registry: string, protocol: string): string {
  try {
    return new URL(`${protocol}//${registry}`).host;
  } catch {
    return registry;
  }
}

export class RegistryRequests {
  constructor(private readonly deps: RegistryRequestsDeps) {}

  /** One GET, following up to 10 redirects; Authorization goes to the registry host only. */
  async get(
    start: string,
    kind: RequestKind,
    route: Route,
    registry: string,
    authz: Authorization | undefined,
    accept: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    let url = start;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const target = new URL(url);
      const headers: Record<string, string> = { "user-agent": USER_AGENT };
      if (accept) headers.accept = accept;
      // Both sides are lower case (parseReference normalises the registry, URL the target).
      const sameOrigin = target.host === originHost(registry, target.protocol) && (target.protocol === `${route.scheme}:` || target.protocol === "https:");
      if (authz && sameOrigin) headers.authorization = authz.header;
      const res = await this.send(url, kind, route, headers, signal);
      const location = res.headers.location;
      if (res.status >= 300 && res.status < 400 && location) {
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new RunnerError("NETWORK", `registry ${registry} sent an invalid redirect`, { retryable: false });
        }
        if (next.protocol !== "https:" && next.protocol !== "http:") {
          throw new RunnerError("NETWORK", `registry ${registry} redirected to a ${next.protocol} URL; refused`, { retryable: false });
        }
        // Never downgrade: what was asked over TLS is not fetched in the clear.
        if (target.protocol === "https:" && next.protocol === "http:") {
          throw new RunnerError("NETWORK", `registry ${registry} redirected from https to plain http (${next.host}); refused`, { retryable: false });
        }
        url = next.toString();
        continue;
      }
      return res;
    }
    throw new RunnerError("NETWORK", `more than ${MAX_REDIRECTS} redirects fetching ${new URL(start).pathname} from registry ${registry}`);
  }

  /** One request with the retry policy: 408/429/5xx and resets retried, Retry-After honoured. */
  private async send(url: string, kind: RequestKind, route: Route, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<HttpResponse> {
    const limit = this.deps.manifestLimit;
    return retrying(
      this.deps.retry,
      // Error bodies get 1 MiB: they only carry a code and a message.
      () =>
        httpRequest({
          url,
          headers,
          maxBytes: (status) => (status >= 400 ? ERROR_BODY_LIMIT : limit),
          dispatcher: route.dispatcher,
          signal,
          timeoutMs: this.deps.requestTimeoutMs,
          limiter: this.deps.limiter,
        }),
      (o) => {
        if ("error" in o) {
          const e = o.error;
          this.deps.stats.record(kind, e instanceof TransportError ? e.code : e instanceof RunnerError ? e.code : "error");
          return { retry: e instanceof TransportError && e.retryable };
        }
        this.deps.stats.record(kind, o.value.status);
        return { retry: isRetryableStatus(o.value.status), retryAfterMs: parseRetryAfter(o.value.headers["retry-after"]) };
      },
      (delayMs) => this.deps.log.debug("retrying registry request", { host: new URL(url).host, kind, delayMs }),
      signal,
    );
  }
}
