// metav1.Status bodies shaped as k8s.io/apimachinery/pkg/api/errors builds
// them: the runner's error mapping (src/kube/errors.ts) reads reason and code.
import type { V1Status, V1StatusCause, V1StatusDetails } from "@kubernetes/client-node";

/** One field.Error: its CauseType, the field path and the ErrorBody text. */
export interface FieldError {
  type: "FieldValueRequired" | "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueNotFound" | "FieldValueDuplicate" | "FieldValueTooLong";
  field: string;
  body: string;
}

export const fieldErr = {
  required: (field: string, detail = ""): FieldError => ({ type: "FieldValueRequired", field, body: detail ? `Required value: ${detail}` : "Required value" }),
  invalid: (field: string, value: unknown, detail: string): FieldError => ({ type: "FieldValueInvalid", field, body: `Invalid value: ${JSON.stringify(value)}: ${detail}` }),
  forbidden: (field: string, detail: string): FieldError => ({ type: "FieldValueForbidden", field, body: `Forbidden: ${detail}` }),
  notFound: (field: string, value: unknown): FieldError => ({ type: "FieldValueNotFound", field, body: `Not found: ${JSON.stringify(value)}` }),
  duplicate: (field: string, value: unknown): FieldError => ({ type: "FieldValueDuplicate", field, body: `Duplicate value: ${JSON.stringify(value)}` }),
};

/** An error answered as a metav1.Status with its HTTP code (and extra headers, e.g. Retry-After). */
export class ApiError extends Error {
  readonly code: number;
  constructor(
    readonly status: V1Status,
    readonly headers: Record<string, string> = {},
  ) {
    super(status.message ?? status.reason ?? "error");
    this.code = status.code ?? 500;
  }
}

function failure(code: number, reason: string, message: string, details?: V1StatusDetails, headers?: Record<string, string>): ApiError {
  return new ApiError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code }, headers);
}

export const successStatus = (details: V1StatusDetails): V1Status => ({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details });

/** `pods "x" not found` (details.kind is the resource). */
export const notFound = (resource: string, name: string): ApiError => failure(404, "NotFound", `${resource} ${JSON.stringify(name)} not found`, { name, kind: resource });

export const alreadyExists = (resource: string, name: string): ApiError =>
  failure(409, "AlreadyExists", `${resource} ${JSON.stringify(name)} already exists`, { name, kind: resource });

export const MODIFIED = "the object has been modified; please apply your changes to the latest version and try again";

export const conflict = (resource: string, name: string, why: string = MODIFIED): ApiError =>
  failure(409, "Conflict", `Operation cannot be fulfilled on ${resource} ${JSON.stringify(name)}: ${why}`, { name, kind: resource });

/** NewInvalid: 422, one cause per field error; details.kind is the Kind. */
export function invalid(kind: string, name: string, errors: readonly FieldError[]): ApiError {
  const causes: V1StatusCause[] = errors.map((e) => ({ reason: e.type, message: e.body, field: e.field }));
  const rendered = errors.map((e) => `${e.field}: ${e.body}`);
  return failure(422, "Invalid", `${kind} ${JSON.stringify(name)} is invalid: ${rendered.length === 1 ? rendered[0] : `[${rendered.join(", ")}]`}`, { name, kind, causes });
}

export const badRequest = (message: string): ApiError => failure(400, "BadRequest", message);
export const unauthorized = (): ApiError => failure(401, "Unauthorized", "Unauthorized");

/** `secrets "x" is forbidden: <why>`. */
export const forbidden = (resource: string, name: string, why: string): ApiError =>
  failure(403, "Forbidden", name ? `${resource} ${JSON.stringify(name)} is forbidden: ${why}` : `${resource} is forbidden: ${why}`, { ...(name ? { name } : {}), kind: resource });

/** The denial an RBAC authorizer words. */
export function rbacForbidden(user: string, verb: string, resource: string, namespace: string | undefined, name: string | undefined): ApiError {
  const where = namespace ? ` in the namespace ${JSON.stringify(namespace)}` : " at the cluster scope";
  return forbidden(resource, name ?? "", `User ${JSON.stringify(user)} cannot ${verb} resource ${JSON.stringify(resource)} in API group ""${where}`);
}

export const unsupportedMediaType = (contentType: string): ApiError =>
  failure(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json", {
    causes: [{ reason: "UnexpectedServerResponse", message: contentType }],
  });

/** A URL no resource answers to. */
export const pathNotFound = (): ApiError => failure(404, "NotFound", "the server could not find the requested resource", {});
export const methodNotAllowed = (): ApiError => failure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});
export const gone = (message: string): ApiError => failure(410, "Expired", message);

export const tooManyRequests = (retryAfterSeconds: number): ApiError =>
  failure(429, "TooManyRequests", "Too many requests, please try again later.", { retryAfterSeconds }, { "Retry-After": String(retryAfterSeconds) });

export const internalError = (message: string): ApiError => failure(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ message }] });

export const serviceUnavailable = (message: string, retryAfterSeconds?: number): ApiError =>
  retryAfterSeconds === undefined
    ? failure(503, "ServiceUnavailable", message)
    : failure(503, "ServiceUnavailable", message, { retryAfterSeconds }, { "Retry-After": String(retryAfterSeconds) });
