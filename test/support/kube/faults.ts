// Fault injection: rules matched against each authenticated request before it
// is served. A rule can delay the request, answer it with an error Status, or
// drop the connection without an answer.
import type { V1Status } from "@kubernetes/client-node";
import {
  ApiError,
  conflict,
  forbidden,
  internalError,
  notFound,
  serviceUnavailable,
  timeout,
  tooManyRequests,
  unauthorized,
} from "./status.ts";
import type { RequestInfo, Verb } from "./types.ts";

export interface FaultMatch {
  verb?: Verb | Verb[];
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** Any other condition on the request. */
  when?: (info: RequestInfo & { method: string; path: string }) => boolean;
}

export type FaultStatus = 401 | 403 | 404 | 409 | 429 | 500 | 503 | 504;

export type FaultAction =
  | { latencyMs: number }
  | {
      status: FaultStatus;
      retryAfterSeconds?: number;
      message?: string;
      latencyMs?: number;
      /**
       * Answer as Go's http.Error does (text/plain message), not with a Status.
       * This is what the real server's flow control (APF / max-in-flight)
       * sends with its 429s: "Too many requests, please try again later."
       */
      plainText?: boolean;
    }
  | { dropConnection: true; latencyMs?: number };

export interface FaultRule {
  match?: FaultMatch;
  /** How many matching requests the rule applies to; unlimited when omitted. */
  times?: number;
  action: FaultAction;
}

export interface FaultHandle {
  readonly id: number;
  /** Requests this rule has applied to so far. */
  readonly hits: number;
  /** Whether the rule still applies (not exhausted, not removed). */
  readonly active: boolean;
  remove(): void;
}

export type FaultDecision =
  | { kind: "none"; latencyMs: number }
  | { kind: "error"; error: ApiError; latencyMs: number; plainText: boolean }
  | { kind: "drop"; latencyMs: number };

interface Entry {
  id: number;
  rule: FaultRule;
  hits: number;
  removed: boolean;
}

function matches(match: FaultMatch | undefined, info: RequestInfo & { method: string; path: string }): boolean {
  if (!match) return true;
  if (match.verb !== undefined) {
    const verbs = Array.isArray(match.verb) ? match.verb : [match.verb];
    if (info.verb === undefined || !verbs.includes(info.verb)) return false;
  }
  if (match.resource !== undefined && match.resource !== info.resource) return false;
  if (match.subresource !== undefined && match.subresource !== info.subresource) return false;
  if (match.namespace !== undefined && match.namespace !== info.namespace) return false;
  if (match.name !== undefined && match.name !== info.name) return false;
  if (match.when && !match.when(info)) return false;
  return true;
}

/** The Status body a fault answers with, shaped as the real server's. */
export function faultError(
  status: FaultStatus,
  info: RequestInfo,
  options: { retryAfterSeconds?: number; message?: string } = {},
): ApiError {
  const resource = info.resource ?? "";
  const name = info.name ?? "";
  const message = options.message;
  let error: ApiError;
  switch (status) {
    case 401:
      error = unauthorized();
      break;
    case 403:
      error = forbidden(resource, name, message ?? "injected fault");
      break;
    case 404:
      error = notFound(resource, name);
      break;
    case 409:
      error = conflict(resource, name, message);
      break;
    case 429:
      error = tooManyRequests(options.retryAfterSeconds ?? 1);
      break;
    case 500:
      error = internalError(message ?? "injected fault");
      break;
    case 503:
      error = serviceUnavailable(message ?? "the server is currently unable to handle the request", options.retryAfterSeconds);
      break;
    case 504:
      error = timeout(message ?? "the server was unable to return a response in the time allotted, but may still be processing the request");
      break;
  }
  if (options.retryAfterSeconds !== undefined && status !== 429 && status !== 503) {
    const body: V1Status = { ...error.status, details: { ...(error.status.details ?? {}), retryAfterSeconds: options.retryAfterSeconds } };
    return new ApiError(body, { ...error.headers, "Retry-After": String(options.retryAfterSeconds) });
  }
  return error;
}

export class FaultInjector {
  private readonly entries: Entry[] = [];
  private nextId = 1;

  /** Adds a rule; rules are tried in the order they were added, the first live match wins. */
  add(rule: FaultRule): FaultHandle {
    const entry: Entry = { id: this.nextId++, rule, hits: 0, removed: false };
    this.entries.push(entry);
    const exhausted = (): boolean => rule.times !== undefined && entry.hits >= rule.times;
    return {
      id: entry.id,
      get hits() {
        return entry.hits;
      },
      get active() {
        return !entry.removed && !exhausted();
      },
      remove: () => {
        entry.removed = true;
      },
    };
  }

  clear(): void {
    for (const e of this.entries) e.removed = true;
    this.entries.length = 0;
  }

  /** Rules still in force. */
  list(): FaultRule[] {
    return this.entries.filter((e) => !e.removed && (e.rule.times === undefined || e.hits < e.rule.times)).map((e) => e.rule);
  }

  /** Consumes the first matching rule and says what to do with the request. */
  decide(info: RequestInfo & { method: string; path: string }): FaultDecision {
    for (const entry of this.entries) {
      if (entry.removed) continue;
      if (entry.rule.times !== undefined && entry.hits >= entry.rule.times) continue;
      if (!matches(entry.rule.match, info)) continue;
      entry.hits++;
      const action = entry.rule.action;
      const latencyMs = action.latencyMs ?? 0;
      if ("dropConnection" in action) return { kind: "drop", latencyMs };
      if ("status" in action) {
        const options: { retryAfterSeconds?: number; message?: string } = {};
        if (action.retryAfterSeconds !== undefined) options.retryAfterSeconds = action.retryAfterSeconds;
        if (action.message !== undefined) options.message = action.message;
        return { kind: "error", error: faultError(action.status, info, options), latencyMs, plainText: action.plainText === true };
      }
      return { kind: "none", latencyMs };
    }
    return { kind: "none", latencyMs: 0 };
  }
}
