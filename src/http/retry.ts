/**
 * Retry policy for registry calls (docs/registry.md, docs/limits.md): 408, 429, 499, 5xx gateway
 * class and connection resets are retried with jittered exponential backoff,
 * bounded in attempts and total time; 401/403/404 never are.
 */
import { abortReason } from "./limiter.ts";

export interface RetryPolicy {
  /** Total attempts, including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** No retry is started once this much time has passed since the first attempt. */
  deadlineMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000, deadlineMs: 30_000 };

const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 499, 500, 502, 503, 504, 522]);

export const isRetryableStatus = (status: number): boolean => RETRYABLE_STATUS.has(status);

/** Full-jitter exponential backoff for the attempt that just failed (0-based). */
export function backoffDelay(policy: RetryPolicy, failedAttempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** failedAttempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Retry-After as delta-seconds or an HTTP date; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait before the next attempt, or undefined when the policy says stop.
 * A Retry-After longer than the remaining deadline stops at once: sleeping
 * past it would only fail later.
 */
export function nextDelay(
  policy: RetryPolicy,
  failedAttempt: number,
  elapsedMs: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  if (failedAttempt + 1 >= policy.attempts) return undefined;
  const delay = retryAfterMs ?? backoffDelay(policy, failedAttempt, random);
  if (elapsedMs + delay > policy.deadlineMs) return undefined;
  return delay;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Sleeps, or rejects with the signal's reason as soon as it aborts. */
function sleepUnless(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return sleep(ms);
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it returns a final result. `verdict` says whether a
 * result (or thrown error) may be retried and what Retry-After it carried.
 */
export async function retrying<T>(
  policy: RetryPolicy,
  attempt: () => Promise<T>,
  verdict: (outcome: { value: T } | { error: unknown }) => { retry: boolean; retryAfterMs?: number },
  onRetry: (delayMs: number, failedAttempt: number) => void = () => {},
  signal?: AbortSignal,
): Promise<T> {
  const started = Date.now();
  for (let n = 0; ; n++) {
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: await attempt() };
    } catch (error) {
      outcome = { error };
    }
    const v = verdict(outcome);
    // A cancelled caller or an expired resolve deadline is final.
    const delay = v.retry && signal?.aborted !== true ? nextDelay(policy, n, Date.now() - started, v.retryAfterMs) : undefined;
    if (delay === undefined) {
      if ("error" in outcome) throw outcome.error;
      return outcome.value;
    }
    onRetry(delay, n);
    await sleepUnless(delay, signal);
  }
}
