import { z } from "zod";

/** Stable error codes (docs/errors.md). Clients switch on these, so never rename one. */
export const ErrorCode = z.enum([
  "INVALID_REFERENCE",
  "UNAUTHORIZED",
  "DENIED",
  "MANIFEST_UNKNOWN",
  "NAME_UNKNOWN",
  "TOO_MANY_REQUESTS",
  "NETWORK",
  "TLS",
  "TIMEOUT",
  "DIGEST_MISMATCH",
  "TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "NO_MATCHING_PLATFORM",
  "NO_ENTRYPOINT",
  "AUTH_CONFIG_INVALID",
  "SECRET_SYNC_FAILED",
  "KUBE_UNAVAILABLE",
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  // A port the runner was told to listen on is taken (start-up only).
  "ADDRESS_IN_USE",
  "INTERNAL",
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "TOO_MANY_REQUESTS",
  "NETWORK",
  "TIMEOUT",
  "KUBE_UNAVAILABLE",
  "SECRET_SYNC_FAILED",
]);

/**
 * The one error type the runner raises. Messages name the image and registry
 * but never a credential: callers must not interpolate secrets into `message`.
 */
export class RunnerError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** HTTP status of the upstream answer that caused this, when there was one. */
  readonly status?: number;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; status?: number; retryable?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "RunnerError";
    this.code = code;
    this.status = opts.status;
    this.retryable = opts.retryable ?? RETRYABLE.has(code);
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

export const isRunnerError = (e: unknown): e is RunnerError => e instanceof RunnerError;
