/**
 * WWW-Authenticate parsing (RFC 7235 §4.1) and token scopes (distribution
 * token spec). Pure.
 *
 * Lenient where real registries are sloppy (unquoted URLs as values, missing
 * commas between params, empty list elements, duplicated params: last wins),
 * strict where the header is unusable: a malformed header throws
 * RunnerError("UNAUTHORIZED") because it only ever arrives on a 401 that we
 * then cannot answer.
 */
import { RunnerError } from "../errors.ts";

export interface Challenge {
  /** Lower-cased auth scheme, e.g. "bearer", "basic". */
  scheme: string;
  /** Lower-cased param names; values unquoted and unescaped. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;
const isWs = (c: string | undefined): boolean => c === " " || c === "\t";

const malformed = (header: string, what: string, at: number): never => {
  const shown = header.length > 200 ? `${header.slice(0, 200)}…` : header;
  throw new RunnerError("UNAUTHORIZED", `malformed WWW-Authenticate header ${JSON.stringify(shown)}: ${what} at offset ${at}`);
};

/** Several challenges, in header order; [] for an empty header. Throws UNAUTHORIZED when malformed. */
export function parseChallenges(header: string): Challenge[] {
  const s = header;
  let i = 0;
  const out: Challenge[] = [];

  const skipWs = (): void => {
    while (isWs(s[i])) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TOKEN_CHAR.test(s[i] ?? "")) i++;
    return s.slice(start, i);
  };
  // token BWS "=" (and not "==", which is token68 padding)
  const paramAhead = (): boolean => {
    let j = i;
    while (j < s.length && TOKEN_CHAR.test(s[j] ?? "")) j++;
    if (j === i) return false;
    while (isWs(s[j])) j++;
    return s[j] === "=" && s[j + 1] !== "=";
  };
  const readValue = (): string => {
    if (s[i] !== '"') {
      // Unquoted: RFC says token, but registries send bare URLs, so take up to a delimiter.
      const start = i;
      while (i < s.length && s[i] !== "," && !isWs(s[i])) i++;
      return s.slice(start, i);
    }
    const open = i++;
    let value = "";
    for (;;) {
      const c = s[i];
      if (c === undefined) return malformed(header, "unterminated quoted string", open);
      i++;
      if (c === '"') return value;
      if (c === "\\") {
        const next = s[i];
        if (next === undefined) return malformed(header, "unterminated quoted string", open);
        value += next;
        i++;
      } else {
        value += c;
      }
    }
  };

  for (;;) {
    while (isWs(s[i]) || s[i] === ",") i++;
    if (i >= s.length) break;
    const schemeAt = i;
    const scheme = readToken();
    if (scheme === "") malformed(header, "expected an auth scheme", schemeAt);
    if (i < s.length && !isWs(s[i]) && s[i] !== ",") malformed(header, `unexpected ${JSON.stringify(s[i])} after the scheme`, i);
    const params = new Map<string, string>();
    skipWs();

    if (i < s.length && s[i] !== "," && !paramAhead()) {
      // token68 form (e.g. "Negotiate abc=="): valid but carries nothing a registry client needs.
      const m = TOKEN68.exec(s.slice(i));
      if (m === null) malformed(header, "expected a parameter or token68", i);
      i += m?.[0].length ?? 0;
      skipWs();
      if (i < s.length && s[i] !== ",") malformed(header, "expected \",\" after token68", i);
    }

    for (;;) {
      skipWs();
      if (i >= s.length) break;
      if (s[i] === ",") {
        while (isWs(s[i]) || s[i] === ",") i++;
        // After a comma either this challenge continues or the next one starts.
        if (i >= s.length || !paramAhead()) break;
        continue;
      }
      if (!paramAhead()) malformed(header, "expected name=value", i);
      const key = readToken().toLowerCase();
      skipWs();
      i++; // "="
      skipWs();
      // Object.fromEntries below defines own properties, so "__proto__" is a plain key.
      params.set(key, readValue());
    }
    out.push({ scheme: scheme.toLowerCase(), params: Object.fromEntries(params) });
  }
  return out;
}

/**
 * The first challenge of the header (callers facing several should use
 * pickChallenge(parseChallenges(h))). Throws UNAUTHORIZED when the header
 * is empty or malformed.
 */
export function parseChallenge(header: string): Challenge {
  const first = parseChallenges(header)[0];
  if (first === undefined) {
    throw new RunnerError("UNAUTHORIZED", "registry sent an empty WWW-Authenticate header: no way to authenticate");
  }
  return first;
}

/** Bearer before Basic; undefined when neither is offered. */
export function pickChallenge(list: readonly Challenge[]): Challenge | undefined {
  return list.find((c) => c.scheme === "bearer") ?? list.find((c) => c.scheme === "basic");
}

/** `repository:NAME:pull[,push…]`, actions deduplicated in the given order. */
export function repositoryScope(repository: string, actions: readonly string[] = ["pull"]): string {
  if (repository === "") throw new RunnerError("INVALID_ARGUMENT", "repository scope needs a repository name");
  const unique = [...new Set(actions)];
  if (unique.length === 0 || unique.some((a) => a === "" || a.includes(",") || a.includes(":"))) {
    throw new RunnerError("INVALID_ARGUMENT", `invalid scope actions ${JSON.stringify(actions)} for ${repository}`);
  }
  return `repository:${repository}:${unique.join(",")}`;
}

// Order of actions within one scope does not change what the token grants.
function normaliseScope(scope: string): string {
  const i = scope.lastIndexOf(":");
  if (i < 0) return scope;
  const actions = [...new Set(scope.slice(i + 1).split(","))].sort();
  return `${scope.slice(0, i)}:${actions.join(",")}`;
}

/**
 * Token-cache key for (realm, service, scope set): order- and duplicate-
 * insensitive, unambiguous (JSON), and an absent service differs from "".
 */
export function scopeKey(realm: string, service: string | undefined, scopes: readonly string[]): string {
  const set = [...new Set(scopes.map(normaliseScope))].sort();
  return JSON.stringify([realm, service ?? null, set]);
}
