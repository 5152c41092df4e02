/**
 * Caps outbound registry requests (each holds at most one connection) per
 * host and in total; requests beyond wait in a queue instead of opening more
 * sockets. A host that never answers can so take at most its own share of
 * descriptors, never all of them.
 */
import { RunnerError } from "../errors.ts";

export interface ConnectionLimits {
  /** Most requests in flight to one host (`host:port`). */
  perHost: number;
  /** Most requests in flight to all registries and token services together. */
  total: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { perHost: 16, total: 128 };

interface Waiter {
  host: string;
  grant: (release: () => void) => void;
  fail: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export interface LimiterStats {
  active: number;
  queued: number;
  /** Hosts with a request in flight. */
  hosts: number;
}

export class ConnectionLimiter {
  private active = 0;
  private readonly byHost = new Map<string, number>();
  private readonly queue: Waiter[] = [];

  constructor(private readonly limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS) {}

  /** Resolves with a release function once `host` and the total have room; `signal` gives up waiting. */
  acquire(host: string, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    // Every queued waiter is waiting for room it does not have (drain runs on each release), so a
    // request that fits now overtakes nobody who could go.
    if (this.fits(host)) return Promise.resolve(this.take(host));
    return new Promise((grant, fail) => {
      const w: Waiter = { host, grant, fail, signal };
      if (signal !== undefined) {
        w.onAbort = () => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          fail(abortReason(signal));
        };
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      this.queue.push(w);
    });
  }

  stats(): LimiterStats {
    return { active: this.active, queued: this.queue.length, hosts: this.byHost.size };
  }

  private fits(host: string): boolean {
    return this.active < this.limits.total && (this.byHost.get(host) ?? 0) < this.limits.perHost;
  }

  private take(host: string): () => void {
    this.active++;
    this.byHost.set(host, (this.byHost.get(host) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      const n = (this.byHost.get(host) ?? 1) - 1;
      if (n <= 0) this.byHost.delete(host);
      else this.byHost.set(host, n);
      this.drain();
    };
  }

  /** Oldest waiter first, skipping those whose host is still full (no head-of-line blocking across hosts). */
  private drain(): void {
    for (let i = 0; i < this.queue.length && this.active < this.limits.total; ) {
      const w = this.queue[i];
      if (w === undefined || !this.fits(w.host)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      if (w.onAbort !== undefined) w.signal?.removeEventListener("abort", w.onAbort);
      w.grant(this.take(w.host));
    }
  }
}

/** What an aborted wait rejects with: the signal's own reason when it is ours, else a TIMEOUT. */
export function abortReason(signal: AbortSignal): unknown {
  const r: unknown = signal.reason;
  if (r instanceof RunnerError) return r;
  return new RunnerError("TIMEOUT", "the request was cancelled before the registry answered");
}
