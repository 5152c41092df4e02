/**
 * Optional bearer token for the HTTP API (`--http-auth-token-file`). The
 * probes and metrics stay open: the kubelet and Prometheus call them without
 * credentials. Tokens are compared as SHA-256 digests with timingSafeEqual,
 * so neither the content nor the length of the real token leaks through
 * timing. The file is re-read when it changes (a rotated Kubernetes secret),
 * checked at most once a second so the request path pays one clock read.
 * See docs/security.md.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { RunnerError } from "../errors.ts";
import { fileStamp } from "../files/file-stamp.ts";
import type { Logger } from "../log.ts";
import { pathOf } from "./front.ts";
import type { FetchHandler } from "./listen.ts";
import type { ServiceMetrics } from "../metrics/metrics.ts";

/** Paths answered without a token: liveness, readiness, metrics. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"]);
/** A token is a line of text; anything bigger is the wrong file. */
const MAX_TOKEN_FILE_BYTES = 4096;
/** Shortest token accepted: a guessable one is worse than none, because it looks safe. */
const MIN_TOKEN_LENGTH = 16;
/** How often the file's identity is looked at. */
const RECHECK_MS = 1_000;

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/** The token in `text` (surrounding whitespace and the trailing newline dropped), or why it is unusable. */
export function parseTokenFile(text: string): { token: string } | { problem: string } {
  const token = text.trim();
  if (token === "") return { problem: "is empty" };
  if (/\s/.test(token)) return { problem: "holds whitespace inside the token (one token, one line)" };
  if (token.length < MIN_TOKEN_LENGTH) return { problem: `holds a token shorter than ${MIN_TOKEN_LENGTH} characters` };
  return { token };
}

/** The credentials an Authorization header presents as `Bearer TOKEN` (scheme case-insensitive), or undefined. */
export function bearerOf(header: string | null): string | undefined {
  if (header === null) return undefined;
  const m = /^bearer +(\S+) *$/i.exec(header);
  return m?.[1];
}

/** The token file, its digest kept in memory; a change to a broken state keeps the last good token and warns. */
export class TokenFile {
  #digest: Buffer;
  #stamp: string;
  #checkedAt = 0;
  #warned: string | undefined;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    // At start-up a bad file stops the server: running open when a token was asked for would be worse.
    const first = this.#load();
    if ("problem" in first) throw new RunnerError("INVALID_ARGUMENT", `--http-auth-token-file ${path} ${first.problem}`);
    this.#digest = first.digest;
    this.#stamp = first.stamp;
    this.#checkedAt = this.now();
  }

  /** True when `presented` is the current token. */
  matches(presented: string | undefined): boolean {
    this.#refresh();
    // Always hash and compare, also for a missing token: the answer takes the same path either way.
    const ok = timingSafeEqual(digest(presented ?? ""), this.#digest);
    return ok && presented !== undefined;
  }

  #refresh(): void {
    const now = this.now();
    if (now - this.#checkedAt < RECHECK_MS) return;
    this.#checkedAt = now;
    const stamp = this.#stat();
    if (stamp !== undefined && stamp === this.#stamp) return;
    const next = this.#load();
    if ("problem" in next) {
      if (this.#warned !== next.problem) {
        this.#warned = next.problem;
        this.logger.warn("HTTP auth token file unusable: the previous token stays in force", { file: this.path, problem: next.problem });
      }
      return;
    }
    this.#warned = undefined;
    if (!next.digest.equals(this.#digest)) this.logger.info("HTTP auth token reloaded", { file: this.path });
    this.#digest = next.digest;
    this.#stamp = next.stamp;
  }

  #stat(): string | undefined {
    try {
      // Follows symlinks: a Kubernetes secret swap re-points `..data`, giving the path a new inode.
      const st = statSync(this.path);
      return fileStamp(st);
    } catch {
      return undefined;
    }
  }

  #load(): { digest: Buffer; stamp: string } | { problem: string } {
    const stamp = this.#stat();
    if (stamp === undefined) return { problem: "cannot be read (missing or not accessible)" };
    let text: string;
    try {
      const buf = readFileSync(this.path);
      if (buf.byteLength > MAX_TOKEN_FILE_BYTES) return { problem: `is larger than ${MAX_TOKEN_FILE_BYTES} bytes` };
      text = buf.toString("utf8");
    } catch (e) {
      return { problem: `cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})` };
    }
    const parsed = parseTokenFile(text);
    return "problem" in parsed ? parsed : { digest: digest(parsed.token), stamp };
  }
}

export interface BearerGuardOptions {
  token: TokenFile;
  logger: Logger;
  metrics: ServiceMetrics;
  /** --access-log: refused requests are logged at info like every other request; otherwise at debug. */
  accessLog?: boolean;
}

const refusal = (): Response =>
  Response.json(
    { error: { code: "UNAUTHORIZED", message: "this API needs an Authorization: Bearer token (--http-auth-token-file)", retryable: false } },
    { status: 401, headers: { "www-authenticate": 'Bearer realm="function-runner"' } },
  );

/**
 * `next` behind the token, except for OPEN_PATHS. A refused request is
 * answered before its body is read, logged and counted like any other.
 */
export function bearerGuard(next: FetchHandler, opts: BearerGuardOptions): FetchHandler {
  const { token, logger, metrics } = opts;
  const log = opts.accessLog === true ? logger.info : logger.debug;
  return (req) => {
    const path = pathOf(req.url);
    if (OPEN_PATHS.has(path) || token.matches(bearerOf(req.headers.get("authorization")))) return next(req);
    // Method and path only (never the header): the route label is fixed so refused probes cannot grow the metrics.
    metrics.httpDuration.labels(req.method === "POST" || req.method === "GET" || req.method === "DELETE" ? req.method : "other", "unauthorized", "401").observe(0);
    log("request", { method: req.method.slice(0, 16), path: path.slice(0, 256), status: 401, ms: 0 });
    return refusal();
  };
}
