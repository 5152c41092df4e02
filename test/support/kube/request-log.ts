// A record of every request the test API server saw: tests assert on the
// calls the runner makes (verb, resource, status), not only on outcomes.
import type { Verb } from "./types.ts";

export interface RequestLogEntry {
  /** When the request arrived. */
  time: Date;
  durationMs: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Kubernetes verb; undefined for non-resource URLs (/version, /api, ...). */
  verb: Verb | undefined;
  resource: string | undefined;
  subresource: string | undefined;
  namespace: string | undefined;
  name: string | undefined;
  /** HTTP status answered; 0 when the connection was dropped on purpose. */
  status: number;
  /** The Status reason for failures (NotFound, Conflict, ...). */
  reason: string | undefined;
  /** Authenticated user, if any. */
  user: string | undefined;
  contentType: string | undefined;
  /** Parsed JSON request body (undefined when empty or not JSON). */
  body: unknown;
  /** Which fault rule acted, if any. */
  fault: "latency" | "status" | "drop" | undefined;
  userAgent: string | undefined;
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private waiters: { predicate: (e: RequestLogEntry) => boolean; resolve: (e: RequestLogEntry) => void }[] = [];

  push(entry: RequestLogEntry): void {
    this.entries.push(entry);
    const remaining: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.predicate(entry)) w.resolve(entry);
      else remaining.push(w);
    }
    this.waiters = remaining;
  }

  all(): RequestLogEntry[] {
    return [...this.entries];
  }

  clear(): void {
    this.entries = [];
  }

  /** Resolves with the first entry (already logged or future) that matches. */
  waitFor(predicate: (e: RequestLogEntry) => boolean, timeoutMs = 5000): Promise<RequestLogEntry> {
    const found = this.entries.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no matching request within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (e: RequestLogEntry): void => {
        clearTimeout(timer);
        resolve(e);
      };
      this.waiters.push({ predicate, resolve: done });
    });
  }
}
