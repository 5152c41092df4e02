/**
 * client-node's HTTP layer, replaced: every Kubernetes API request goes
 * through the real undici (`undici-real`) with an Agent that carries the
 * kubeconfig's CA and client certificate, through the client-side rate limit,
 * and through bounded retries.
 *
 * Why replace it: client-node 2.x sends with `fetch(url, { dispatcher })`
 * imported from the bare "undici", which Bun resolves to its built-in shim
 * whose fetch ignores `dispatcher`: the cluster CA never reaches TLS and every
 * call to a private-CA cluster fails in the compiled binary
 * (test/support/kube/README.md). Never import the bare "undici" here.
 *
 * Retries (client-go retries 429 and 5xx with Retry-After; we also retry
 * connection failures, bounded): 429, 500, 502, 503, 504 and connection
 * errors, honouring Retry-After, jittered exponential backoff otherwise. A
 * request that may not be sent twice (a POST with `generateName`: two
 * attempts could create two pods) is only resent when the server cannot have
 * acted on it: after a 429 or a refused connection.
 */
import { Buffer } from "node:buffer";
import { type HttpLibrary, type RequestContext, ResponseContext, SelfDecodingBody, wrapHttpLibrary } from "@kubernetes/client-node";
import { type Agent, request } from "undici-real";
import type { Logger } from "../log.ts";
import { TransportError, classifyTransportError } from "../http/request.ts";
import { type RetryPolicy, nextDelay, parseRetryAfter } from "../http/retry.ts";
import type { Clock, RateLimiter } from "./rate-limit.ts";

/** Bounded: a few seconds of backoff, then the caller gets KUBE_UNAVAILABLE. */
export const DEFAULT_KUBE_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5_000, deadlineMs: 30_000 };

const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/** True when sending the request twice could act twice (a create with a server-generated name). */
export function isUnsafeToResend(method: string, body: string | undefined): boolean {
  return method === "POST" && body !== undefined && body.includes('"generateName"');
}

export type AttemptOutcome = { status: number; retryAfter?: string } | { error: TransportError };

/**
 * Whether to try again and after how long (undefined: stop). Pure: the
 * policy, the attempt that just failed (0-based), the time spent so far and
 * whether the request may be resent.
 */
export function retryDelay(
  policy: RetryPolicy,
  outcome: AttemptOutcome,
  failedAttempt: number,
  elapsedMs: number,
  unsafe: boolean,
  random: () => number = Math.random,
): number | undefined {
  if ("error" in outcome) {
    const e = outcome.error;
    if (!e.retryable) return undefined;
    // A refused connection never reached the server: safe even for a generateName create.
    if (unsafe && !/ECONNREFUSED/.test(e.message)) return undefined;
    return nextDelay(policy, failedAttempt, elapsedMs, undefined, random);
  }
  if (!RETRYABLE_STATUS.has(outcome.status)) return undefined;
  if (unsafe && outcome.status !== 429) return undefined;
  // Retry-After comes with 429 and some 503s; without it, our own backoff.
  const retryAfterMs = outcome.status === 429 || outcome.status === 503 ? parseRetryAfter(outcome.retryAfter) : undefined;
  return nextDelay(policy, failedAttempt, elapsedMs, retryAfterMs, random);
}

export interface KubeHttpOptions {
  dispatcher: Agent;
  limiter: RateLimiter;
  retry: RetryPolicy;
  clock: Clock;
  logger?: Logger;
  userAgent: string;
}

function bodyText(ctx: RequestContext): string | undefined {
  const body = ctx.getBody();
  if (body === undefined || typeof body === "string") return body;
  if (body instanceof URLSearchParams) return body.toString();
  // Only the file-upload APIs send multipart bodies; the runner calls none of them.
  throw new TransportError("NETWORK", "multipart request bodies are not supported by the runner's Kubernetes client", false);
}

function flatten(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** The HttpLibrary handed to client-node's createConfiguration. */
export function kubeHttpLibrary(opts: KubeHttpOptions): HttpLibrary {
  return wrapHttpLibrary({
    async send(ctx: RequestContext): Promise<ResponseContext> {
      const method = ctx.getHttpMethod();
      const url = ctx.getUrl();
      const body = bodyText(ctx);
      const headers: Record<string, string> = { ...ctx.getHeaders() };
      if (!Object.keys(headers).some((h) => h.toLowerCase() === "user-agent")) headers["User-Agent"] = opts.userAgent;
      const signal = ctx.getSignal();
      const unsafe = isUnsafeToResend(method, body);
      const started = opts.clock.now();
      for (let attempt = 0; ; attempt++) {
        await opts.limiter.acquire();
        let outcome: AttemptOutcome;
        let response: { status: number; headers: Record<string, string>; bytes: Buffer } | undefined;
        try {
          const res = await request(url, { method, headers, body, dispatcher: opts.dispatcher, ...(signal ? { signal } : {}) });
          const bytes = Buffer.from(await res.body.arrayBuffer());
          response = { status: res.statusCode, headers: flatten(res.headers), bytes };
          outcome = { status: res.statusCode, retryAfter: response.headers["retry-after"] };
        } catch (e) {
          outcome = { error: classifyTransportError(e) };
        }
        const delay = retryDelay(opts.retry, outcome, attempt, opts.clock.now() - started, unsafe);
        if (delay === undefined || signal?.aborted === true) {
          if ("error" in outcome) throw outcome.error;
          const { status, headers: h, bytes } = response as { status: number; headers: Record<string, string>; bytes: Buffer };
          return new ResponseContext(status, h, new SelfDecodingBody(Promise.resolve(bytes)));
        }
        // The path names the object (e.g. a Secret's name), never its content.
        opts.logger?.warn("kubernetes API request retried", {
          method,
          path: new URL(url).pathname,
          outcome: "error" in outcome ? outcome.error.message : String(outcome.status),
          attempt: attempt + 1,
          delayMs: delay,
        });
        await opts.clock.sleep(delay);
      }
    },
  });
}
