import type { Dispatcher } from "undici-real";
import { request, type HttpDispatcher } from "./undici.ts";
import { RunnerError, type ErrorCode } from "../errors.ts";
import { isLinkLocal } from "./link-local.ts";
import { abortReason, type ConnectionLimiter } from "./limiter.ts";

/** A fully read response: registry documents are small and must be hashed whole. */
export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Uint8Array;
  url: string;
}

export interface HttpRequest {
  url: string;
  method?: "GET" | "POST" | "HEAD";
  headers?: Record<string, string>;
  body?: string;
  /** Bodies larger than this fail with TOO_LARGE instead of being truncated; may depend on the status. */
  maxBytes: number | ((status: number) => number);
  dispatcher: HttpDispatcher;
  /** The caller's (or the whole resolve's) cancellation: never retried, its reason is rethrown. */
  signal?: AbortSignal;
  /** Total time for this exchange, headers and the whole body (not idle time between chunks). */
  timeoutMs?: number;
  /** Waits for a free slot (per host and in total) before connecting. */
  limiter?: ConnectionLimiter;
}

/**
 * When a transport failure happened: before any response (connecting, the
 * TLS handshake, sending, waiting for headers) or while reading the body.
 * Only the first kind can mean "wrong scheme or CA", so only it may move the
 * client on to another transport step.
 */
export type TransportStage = "connect" | "body";

/** Transport-level failure (no HTTP answer), classified for the retry and TLS-fallback decisions. */
export class TransportError extends Error {
  constructor(
    readonly code: Extract<ErrorCode, "NETWORK" | "TLS" | "TIMEOUT">,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown; stage?: TransportStage },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TransportError";
    this.stage = options?.stage ?? "connect";
  }
  readonly stage: TransportStage;
}

const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_UNSUPPORTED_PROTOCOL",
  "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
  "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
  "EPROTO",
]);
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"]);
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "ECONNABORTED", "UND_ERR_CLOSED"]);
/** The process (not the registry) ran out of something: worth retrying later, never a config problem. */
export const EXHAUSTION_CODES: ReadonlySet<string> = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "EAGAIN", "EADDRNOTAVAIL"]);
// Phrases of TLS failures that carry no error code; matched only then, never against host names.
const TLS_TEXT = /certificate|ssl routines|secure TLS connection|TLS handshake|handshake failure/i;

function errorCode(e: unknown): string {
  let cur: unknown = e;
  for (let depth = 0; depth < 4 && cur instanceof Error; depth++) {
    const code = (cur as Error & { code?: unknown }).code;
    if (typeof code === "string" && code !== "UND_ERR_SOCKET") return code;
    if (code === "UND_ERR_SOCKET" && !(cur.cause instanceof Error)) return code;
    cur = cur.cause;
  }
  return "";
}

function describe(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; depth < 4 && cur instanceof Error; depth++) {
    if (cur.message && !parts.includes(cur.message)) parts.push(cur.message);
    cur = cur.cause;
  }
  return parts.join(": ") || String(e);
}

/**
 * Maps a thrown fetch error to NETWORK / TLS / TIMEOUT. TLS failures are never
 * retried, and only happen before a response: a connection cut while the body
 * streams is NETWORK, whatever its text says.
 */
export function classifyTransportError(e: unknown, stage: TransportStage = "connect"): TransportError {
  if (e instanceof TransportError) return e;
  const code = errorCode(e);
  const text = describe(e);
  const name = e instanceof Error ? e.name : "";
  if (name === "TimeoutError" || TIMEOUT_CODES.has(code)) return new TransportError("TIMEOUT", `timed out (${code || name}): ${text}`, true, { cause: e, stage });
  if (EXHAUSTION_CODES.has(code)) {
    return new TransportError("NETWORK", `local resources exhausted (${code}), try again later: ${text}`, true, { cause: e, stage });
  }
  const tls = TLS_CODES.has(code) || code.startsWith("ERR_SSL") || code.startsWith("ERR_TLS") || (code === "" && TLS_TEXT.test(text));
  if (stage === "connect" && tls) {
    return new TransportError("TLS", `TLS handshake failed (${code || "tls"}): ${text}`, false, { cause: e, stage });
  }
  if (name === "AbortError") return new TransportError("TIMEOUT", `aborted: ${text}`, false, { cause: e, stage });
  const what = stage === "body" ? "connection lost while reading the response" : "connection failed";
  return new TransportError("NETWORK", `${what} (${code || "network"}): ${text}`, RESET_CODES.has(code) || code === "ECONNREFUSED" || code === "", { cause: e, stage });
}

function flatten(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

/** One HTTP exchange, body read fully but never past `maxBytes`. */
export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const target = new URL(req.url);
  // Link-local addresses (cloud metadata services among them) are never registries.
  if (isLinkLocal(target.hostname)) {
    throw new RunnerError("NETWORK", `refusing to connect to ${target.host}: link-local addresses are never registries`, { retryable: false });
  }
  const release = req.limiter === undefined ? undefined : await req.limiter.acquire(target.host, req.signal);
  const timer = req.timeoutMs === undefined ? undefined : new AbortController();
  const timeout = timer === undefined ? undefined : setTimeout(() => timer.abort(), req.timeoutMs);
  const signals = [req.signal, timer?.signal].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
  // The caller's own abort wins over any error it caused; our timeout is TIMEOUT, retryable.
  const failure = (e: unknown, stage: TransportStage): unknown => {
    if (req.signal?.aborted) return abortReason(req.signal);
    if (timer?.signal.aborted) {
      return new TransportError("TIMEOUT", `no complete answer from ${target.host} within ${req.timeoutMs} ms`, true, { cause: e, stage });
    }
    return e instanceof RunnerError ? e : classifyTransportError(e, stage);
  };
  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(req.url, { method: req.method ?? "GET", headers: req.headers, body: req.body, dispatcher: req.dispatcher, signal });
    } catch (e) {
      throw failure(e, "connect");
    }
    const headers = flatten(res.headers);
    const maxBytes = typeof req.maxBytes === "number" ? req.maxBytes : req.maxBytes(res.statusCode);
    const declared = Number(headers["content-length"] ?? "NaN");
    if (Number.isFinite(declared) && declared > maxBytes) {
      res.body.destroy();
      throw new RunnerError("TOO_LARGE", `response from ${target.host} declares ${declared} bytes, over the ${maxBytes}-byte limit`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        const bytes = chunk instanceof Uint8Array ? chunk : new TextEncoder().encode(String(chunk));
        size += bytes.byteLength;
        if (size > maxBytes) {
          res.body.destroy();
          throw new RunnerError("TOO_LARGE", `response from ${target.host} exceeds the ${maxBytes}-byte limit`);
        }
        chunks.push(bytes);
      }
    } catch (e) {
      if (e instanceof RunnerError && e.code === "TOO_LARGE") throw e;
      throw failure(e, "body");
    }
    const body = new Uint8Array(size);
    let offset = 0;
    for (const c of chunks) {
      body.set(c, offset);
      offset += c.byteLength;
    }
    return { status: res.statusCode, headers, body, url: req.url };
  } finally {
    if (timeout !== undefined) clearTimeout(timeout);
    release?.();
  }
}
