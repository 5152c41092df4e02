// Fault injection: rules matched against each authenticated request before it
// is served. A rule delays the request, answers it with an error Status (the
// ones the runner's client must tell apart: retry, conflict, refusal), or
// drops the connection without an answer.
import { type ApiError, conflict, forbidden, internalError, notFound, serviceUnavailable, tooManyRequests } from "./status.ts";
import type { RequestInfo, Verb } from "./types.ts";

export interface FaultMatch {
  verb?: Verb | Verb[];
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export type FaultStatus = 403 | 404 | 409 | 429 | 500 | 503;

export type FaultAction =
  | { latencyMs: number }
  | {
      status: FaultStatus;
      retryAfterSeconds?: number;
      message?: string;
      latencyMs?: number;
      /** Plain text as Go's http.Error, which the real flow control (APF) sends with its 429s. */
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
  /** Requests this rule has applied to so far. */
  readonly hits: number;
  /** Not exhausted, not removed. */
  readonly active: boolean;
  remove(): void;
}

export type FaultDecision =
  | { kind: "none"; latencyMs: number }
  | { kind: "error"; error: ApiError; latencyMs: number; plainText: boolean }
  | { kind: "drop"; latencyMs: number };

interface Entry {
  rule: FaultRule;
  hits: number;
  removed: boolean;
}

function matches(match: FaultMatch | undefined, info: RequestInfo): boolean {
  if (!match) return true;
  const verbs = match.verb === undefined ? undefined : [match.verb].flat();
  if (verbs !== undefined && (info.verb === undefined || !verbs.includes(info.verb))) return false;
  return (["resource", "subresource", "namespace", "name"] as const).every((k) => match[k] === undefined || match[k] === info[k]);
}

/** The Status a fault answers with, as the real server words it. */
function faultError(status: FaultStatus, info: RequestInfo, retryAfterSeconds: number | undefined, message: string | undefined): ApiError {
  const resource = info.resource ?? "";
  const name = info.name ?? "";
  switch (status) {
    case 403:
      return forbidden(resource, name, message ?? "injected fault");
    case 404:
      return notFound(resource, name);
    case 409:
      return conflict(resource, name, message);
    case 429:
      return tooManyRequests(retryAfterSeconds ?? 1);
    case 500:
      return internalError(message ?? "injected fault");
    case 503:
      return serviceUnavailable(message ?? "the server is currently unable to handle the request", retryAfterSeconds);
  }
}

export class FaultInjector {
  private readonly entries: Entry[] = [];

  /** Adds a rule; rules are tried in the order they were added, the first live match wins. */
  add(rule: FaultRule): FaultHandle {
    const entry: Entry = { rule, hits: 0, removed: false };
    this.entries.push(entry);
    return {
      get hits() {
        return entry.hits;
      },
      get active() {
        return !entry.removed && (rule.times === undefined || entry.hits < rule.times);
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

  /** Consumes the first matching rule and says what to do with the request. */
  decide(info: RequestInfo): FaultDecision {
    const entry = this.entries.find((e) => !e.removed && (e.rule.times === undefined || e.hits < e.rule.times) && matches(e.rule.match, info));
    if (entry === undefined) return { kind: "none", latencyMs: 0 };
    entry.hits++;
    const action = entry.rule.action;
    const latencyMs = action.latencyMs ?? 0;
    if ("dropConnection" in action) return { kind: "drop", latencyMs };
    if ("status" in action) {
      return { kind: "error", error: faultError(action.status, info, action.retryAfterSeconds, action.message), latencyMs, plainText: action.plainText === true };
    }
    return { kind: "none", latencyMs };
  }
}
