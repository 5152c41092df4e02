import { z } from "zod";
import { secrets } from "./secrets.ts";
import { RunnerError, type ErrorCode } from "../errors.ts";

/** The distribution spec's error body. */
const RegistryErrorBody = z.object({
  errors: z.array(z.object({ code: z.string(), message: z.string().optional() }).passthrough()).min(1),
});

const FROM_REGISTRY_CODE: Record<string, ErrorCode> = {
  MANIFEST_UNKNOWN: "MANIFEST_UNKNOWN",
  BLOB_UNKNOWN: "MANIFEST_UNKNOWN",
  NAME_UNKNOWN: "NAME_UNKNOWN",
  NAME_INVALID: "INVALID_REFERENCE",
  TAG_INVALID: "INVALID_REFERENCE",
  DIGEST_INVALID: "INVALID_REFERENCE",
  UNAUTHORIZED: "UNAUTHORIZED",
  DENIED: "DENIED",
  TOOMANYREQUESTS: "TOO_MANY_REQUESTS",
  UNSUPPORTED: "UNSUPPORTED_MEDIA_TYPE",
  MANIFEST_INVALID: "UNSUPPORTED_MEDIA_TYPE",
};

/** The spec's codes are upper-case words; anything else is not repeated. */
const REGISTRY_CODE = /^[A-Z][A-Z0-9_]{0,39}$/;
/** Characters of a registry's error message kept in our answer. */
export const REGISTRY_MESSAGE_MAX = 120;

function shortMessage(text: string): string {
  const clean = secrets.scrub(text).replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return clean.length > REGISTRY_MESSAGE_MAX ? `${clean.slice(0, REGISTRY_MESSAGE_MAX)}…` : clean;
}

function fromStatus(status: number): ErrorCode {
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "DENIED";
  if (status === 404) return "MANIFEST_UNKNOWN";
  if (status === 406 || status === 415) return "UNSUPPORTED_MEDIA_TYPE";
  if (status === 429) return "TOO_MANY_REQUESTS";
  if (status === 408 || status === 504) return "TIMEOUT";
  return "NETWORK";
}

/** First registry error code and message in a body, if it is the spec's shape. */
export function registryErrorDetail(body: Uint8Array): { code: string; message?: string } | undefined {
  try {
    const parsed = RegistryErrorBody.safeParse(JSON.parse(new TextDecoder().decode(body)));
    return parsed.success ? parsed.data.errors[0] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A non-2xx registry answer as a stable error. The registry's own code wins
 * over the status (a 404 may be NAME_UNKNOWN or MANIFEST_UNKNOWN). `what`
 * names the object and image, e.g. `manifest of ghcr.io/x/y:v1`.
 */
export function registryAnswerError(status: number, body: Uint8Array, what: string, registry: string): RunnerError {
  const detail = registryErrorDetail(body);
  const code = (detail && FROM_REGISTRY_CODE[detail.code]) ?? fromStatus(status);
  // Only the registry's code (if it looks like one) and a short, scrubbed message: whatever answered
  // may not be a registry, and may echo our Authorization header.
  const theirCode = detail !== undefined && REGISTRY_CODE.test(detail.code) ? detail.code : undefined;
  const message = detail?.message === undefined ? "" : shortMessage(detail.message);
  const said = theirCode !== undefined ? `${theirCode}${message ? `: ${message}` : ""}` : `HTTP ${status}`;
  return new RunnerError(code, `${what}: registry ${registry} answered ${status} (${said})`, {
    status,
    retryable: status === 429 || status >= 500,
  });
}
