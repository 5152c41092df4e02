/**
 * Client-side rate limit for Kubernetes API calls: a token bucket like
 * client-go's default (flowcontrol.NewTokenBucketRateLimiter, QPS 30 / burst
 * 45 as Porch's function runner configures it), so a burst of pod creations
 * or a retry storm cannot flood the API server and trip its priority and
 * fairness 429s for every other client.
 *
 * The bucket itself is pure (state in, state and wait out) so it is tested
 * with a fake clock; `RateLimiter` is the small shell that sleeps.
 */

export interface RateLimit {
  /** Sustained requests per second; 0 or less disables the limit. */
  qps: number;
  /** Requests allowed at once after an idle period. */
  burst: number;
}

/** Upstream's settings for the function runner's client. */
export const DEFAULT_RATE_LIMIT: RateLimit = { qps: 30, burst: 45 };

export interface BucketState {
  /** Tokens available; negative when callers are queued on future tokens. */
  tokens: number;
  /** Clock reading (ms) at which `tokens` was computed. */
  at: number;
}

/** A full bucket at `now`: a fresh client may send `burst` requests at once. */
export const fullBucket = (limit: RateLimit, now: number): BucketState => ({ tokens: Math.max(1, limit.burst), at: now });

/**
 * Takes one token at `now`. The token is reserved even when it is not there
 * yet (tokens go negative): each later caller waits behind the ones already
 * queued, in arrival order, as golang.org/x/time/rate's Reserve does. Pure.
 */
export function reserve(state: BucketState, now: number, limit: RateLimit): { state: BucketState; waitMs: number } {
  if (limit.qps <= 0) return { state: { tokens: state.tokens, at: now }, waitMs: 0 };
  const burst = Math.max(1, limit.burst);
  // A clock that steps backwards must not mint tokens.
  const elapsed = Math.max(0, now - state.at);
  const refilled = Math.min(burst, state.tokens + (elapsed * limit.qps) / 1000);
  const tokens = refilled - 1;
  const waitMs = tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / limit.qps);
  return { state: { tokens, at: Math.max(now, state.at) }, waitMs };
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The shell around `reserve`: `acquire()` resolves when the caller may send. */
export class RateLimiter {
  private state: BucketState;

  constructor(
    readonly limit: RateLimit = DEFAULT_RATE_LIMIT,
    private readonly clock: Clock = realClock,
  ) {
    this.state = fullBucket(limit, clock.now());
  }

  /** Resolves after the wait this caller's token needs (at once while tokens remain). */
  async acquire(): Promise<number> {
    const { state, waitMs } = reserve(this.state, this.clock.now(), this.limit);
    this.state = state;
    if (waitMs > 0) await this.clock.sleep(waitMs);
    return waitMs;
  }
}
