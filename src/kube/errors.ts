/**
 * Typed Kubernetes API errors. Pure: an operation and the server's answer (or
 * a transport failure) come in, a RunnerError subclass comes out.
 *
 * `reason` is the Kubernetes StatusReason callers switch on (NotFound,
 * AlreadyExists, Conflict...); `code` is the runner's stable error code for
 * the HTTP/gRPC answer. Messages name the verb, resource, namespace and
 * object, never a request body: a Secret's data must not end up in a log or
 * an error answer, and for secrets even the server's own message is dropped
 * on validation errors (it may quote a field value).
 */
import { type ErrorCode, RunnerError } from "../errors.ts";

export type KubeVerb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

/** What was attempted: the words of a "cannot VERB RESOURCE in namespace NS" message. */
export interface KubeOperation {
  verb: KubeVerb;
  /** Plural resource name, as in RBAC rules: `secrets`, `podtemplates`. */
  resource: string;
  namespace?: string;
  name?: string;
}

export type KubeReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Forbidden"
  | "Unauthorized"
  | "Invalid"
  | "BadRequest"
  | "TooManyRequests"
  | "ServerError"
  | "Unavailable"
  | "Timeout"
  | "TLS"
  | "Unknown";

export class KubeApiError extends RunnerError {
  readonly reason: KubeReason;
  readonly operation: KubeOperation;

  constructor(
    code: ErrorCode,
    reason: KubeReason,
    operation: KubeOperation,
    message: string,
    opts: { cause?: unknown; status?: number; retryable?: boolean } = {},
  ) {
    super(code, message, opts);
    this.name = "KubeApiError";
    this.reason = reason;
    this.operation = operation;
  }
}

export const isKubeApiError = (e: unknown): e is KubeApiError => e instanceof KubeApiError;
export const isNotFound = (e: unknown): boolean => isKubeApiError(e) && e.reason === "NotFound";
export const isAlreadyExists = (e: unknown): boolean => isKubeApiError(e) && e.reason === "AlreadyExists";
export const isConflict = (e: unknown): boolean => isKubeApiError(e) && e.reason === "Conflict";

/** `create secrets "auth-secret" in namespace porch-fn-system`. */
export function describeOperation(op: KubeOperation): string {
  const name = op.name === undefined ? "" : ` ${JSON.stringify(op.name)}`;
  const ns = op.namespace === undefined ? "" : ` in namespace ${op.namespace}`;
  return `${op.verb} ${op.resource}${name}${ns}`;
}

/** The fields of a metav1.Status body we use; anything else is ignored. */
interface StatusBody {
  reason?: string;
  message?: string;
}

function statusBody(body: unknown): StatusBody {
  if (typeof body === "string") {
    try {
      return statusBody(JSON.parse(body));
    } catch {
      // Flow control answers text/plain: that text is the message.
      return { message: body.trim().slice(0, 300) };
    }
  }
  if (typeof body !== "object" || body === null) return {};
  const b = body as Record<string, unknown>;
  return {
    reason: typeof b.reason === "string" ? b.reason : undefined,
    message: typeof b.message === "string" ? b.message.slice(0, 500) : undefined,
  };
}

const KNOWN_REASONS: ReadonlySet<string> = new Set<KubeReason>([
  "NotFound",
  "AlreadyExists",
  "Conflict",
  "Forbidden",
  "Unauthorized",
  "Invalid",
  "BadRequest",
  "TooManyRequests",
  "Timeout",
]);

function reasonFor(status: number, body: StatusBody): KubeReason {
  if (body.reason !== undefined && KNOWN_REASONS.has(body.reason)) return body.reason as KubeReason;
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 504:
      return "Timeout";
    default:
      return status >= 500 ? (status === 503 ? "Unavailable" : "ServerError") : "Unknown";
  }
}

/** An error HTTP answer from the API server → KubeApiError. */
export function kubeErrorFromStatus(op: KubeOperation, status: number, body: unknown, server: string): KubeApiError {
  const b = statusBody(body);
  const reason = reasonFor(status, b);
  const what = describeOperation(op);
  // Validation messages may quote field values; for secrets those are credentials.
  const detail = b.message === undefined || (op.resource === "secrets" && (reason === "Invalid" || reason === "BadRequest")) ? "" : `: ${b.message}`;
  const opts = { status };
  switch (reason) {
    case "NotFound":
      return new KubeApiError("NOT_FOUND", reason, op, `cannot ${what}: not found`, opts);
    case "AlreadyExists":
      return new KubeApiError("KUBE_UNAVAILABLE", reason, op, `cannot ${what}: it already exists`, { ...opts, retryable: true });
    case "Conflict":
      return new KubeApiError("KUBE_UNAVAILABLE", reason, op, `cannot ${what}: conflict (the object was modified concurrently)${detail}`, {
        ...opts,
        retryable: true,
      });
    case "Forbidden":
      return new KubeApiError(
        "KUBE_UNAVAILABLE",
        reason,
        op,
        `forbidden: the runner may not ${op.verb} ${op.resource}${op.namespace === undefined ? "" : ` in namespace ${op.namespace}`} ` +
          `(grant verb "${op.verb}" on resource "${op.resource}" in its Role)${detail}`,
        { ...opts, retryable: false },
      );
    case "Unauthorized":
      return new KubeApiError("KUBE_UNAVAILABLE", reason, op, `cannot ${what}: the API server at ${server} rejected the runner's credentials (401)`, {
        ...opts,
        retryable: false,
      });
    case "Invalid":
    case "BadRequest":
      return new KubeApiError("INVALID_ARGUMENT", reason, op, `cannot ${what}: the API server refused the object (${status} ${reason})${detail}`, opts);
    case "TooManyRequests":
      return new KubeApiError("KUBE_UNAVAILABLE", reason, op, `cannot ${what}: the API server at ${server} kept answering 429 Too Many Requests`, {
        ...opts,
        retryable: true,
      });
    default:
      return new KubeApiError(
        "KUBE_UNAVAILABLE",
        reason,
        op,
        `cannot ${what}: the API server at ${server} answered ${status}${detail}`,
        { ...opts, retryable: status >= 500 },
      );
  }
}

/** A transport failure (no HTTP answer, retries exhausted) → KubeApiError KUBE_UNAVAILABLE. */
export function kubeErrorFromTransport(op: KubeOperation, server: string, kind: "NETWORK" | "TLS" | "TIMEOUT", detail: string, cause: unknown): KubeApiError {
  const reason: KubeReason = kind === "TLS" ? "TLS" : kind === "TIMEOUT" ? "Timeout" : "Unavailable";
  const why = kind === "TLS" ? "TLS verification failed (check the kubeconfig's certificate-authority)" : kind === "TIMEOUT" ? "timed out" : "cannot connect";
  return new KubeApiError("KUBE_UNAVAILABLE", reason, op, `cannot ${describeOperation(op)}: ${why} to the API server at ${server}: ${detail}`, {
    cause,
    retryable: kind !== "TLS",
  });
}
