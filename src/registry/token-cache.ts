import { BoundedMap, MEMO_MAX_ENTRIES } from "./bounded-map.ts";

/** A bearer token and when to stop using it. */
export interface CachedToken {
  value: string;
  expiresAt: number;
}

/** Tokens without expires_in live 60 s (distribution spec default). */
export const DEFAULT_TOKEN_LIFETIME_S = 60;

/** Expiry with a safety margin (a tenth of the lifetime, at most 30 s) so a token never dies in flight. */
export function tokenExpiry(receivedAt: number, expiresInSeconds: number | undefined): number {
  const lifetimeMs = Math.max(1, expiresInSeconds ?? DEFAULT_TOKEN_LIFETIME_S) * 1000;
  return receivedAt + lifetimeMs - Math.min(30_000, lifetimeMs / 10);
}

/**
 * Tokens per (realm, service, scope set, credential) with single-flight:
 * concurrent misses share one fetch. Failed fetches are never cached
 * (containerd caches them, so one bad moment locks a repository out).
 */
export class TokenCache {
  private readonly tokens = new BoundedMap<string, CachedToken>(MEMO_MAX_ENTRIES);
  private readonly inflight = new Map<string, Promise<CachedToken>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** `fresh` is true when this call (or one it joined) fetched the token just now. */
  async get(key: string, fetch: () => Promise<CachedToken>): Promise<{ token: CachedToken; fresh: boolean }> {
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > this.now()) return { token: cached, fresh: false };
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = fetch().then(
        (token) => {
          this.tokens.set(key, token);
          return token;
        },
      ).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return { token: await pending, fresh: true };
  }

  /** Drops a token the registry rejected, unless a newer one already replaced it. */
  invalidate(key: string, value: string): void {
    if (this.tokens.get(key)?.value === value) this.tokens.delete(key);
  }

  get size(): number {
    return this.tokens.size;
  }
}
