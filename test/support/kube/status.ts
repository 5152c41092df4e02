// metav1.Status bodies shaped exactly like k8s.io/apimachinery/pkg/api/errors
// builds them (NewNotFound, NewAlreadyExists, NewConflict, NewInvalid, ...).
import type { V1Status, V1StatusCause, V1StatusDetails } from "@kubernetes/client-node";

/** field.ErrorType values and the CauseType each one becomes. */
export type FieldErrorType =
  | "FieldValueRequired"
  | "FieldValueInvalid"
  | "FieldValueForbidden"
  | "FieldValueNotSupported"
  | "FieldValueDuplicate"
  | "FieldValueNotFound"
  | "FieldValueTooLong"
  | "FieldValueTypeInvalid";

/** One field.Error. `body` is field.Error.ErrorBody() (without the field). */
export interface FieldError {
  type: FieldErrorType;
  field: string;
  body: string;
}

function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

export const fieldErr = {
  required(field: string, detail = ""): FieldError {
    return { type: "FieldValueRequired", field, body: detail ? `Required value: ${detail}` : "Required value" };
  },
  invalid(field: string, value: unknown, detail: string): FieldError {
    return { type: "FieldValueInvalid", field, body: `Invalid value: ${quote(value)}: ${detail}` };
  },
  forbidden(field: string, detail: string): FieldError {
    return { type: "FieldValueForbidden", field, body: `Forbidden: ${detail}` };
  },
  notSupported(field: string, value: unknown, supported: readonly string[]): FieldError {
    return {
      type: "FieldValueNotSupported",
      field,
      body: `Unsupported value: ${quote(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}`,
    };
  },
  duplicate(field: string, value: unknown): FieldError {
    return { type: "FieldValueDuplicate", field, body: `Duplicate value: ${quote(value)}` };
  },
  notFound(field: string, value: unknown): FieldError {
    return { type: "FieldValueNotFound", field, body: `Not found: ${quote(value)}` };
  },
  tooLong(field: string, max: number): FieldError {
    return { type: "FieldValueTooLong", field, body: `Too long: may not be more than ${max} bytes` };
  },
};

/** An error answered as a metav1.Status with the given HTTP code. */
export class ApiError extends Error {
  readonly status: V1Status;
  readonly code: number;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Record<string, string>;

  constructor(status: V1Status, headers: Record<string, string> = {}) {
    super(status.message ?? status.reason ?? "error");
    this.status = status;
    this.code = status.code ?? 500;
    this.headers = headers;
  }
}

function failure(code: number, reason: string, message: string, details?: V1StatusDetails): V1Status {
  const status: V1Status = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason };
  if (details !== undefined) status.details = details;
  status.code = code;
  return status;
}

export function successStatus(details: V1StatusDetails): V1Status {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details };
}

/** `pods "x" not found` (404 NotFound; details.kind is the resource). */
export function notFound(resource: string, name: string): ApiError {
  return new ApiError(failure(404, "NotFound", `${resource} ${JSON.stringify(name)} not found`, { name, kind: resource }));
}

/** `secrets "x" already exists` (409 AlreadyExists). */
export function alreadyExists(resource: string, name: string): ApiError {
  return new ApiError(
    failure(409, "AlreadyExists", `${resource} ${JSON.stringify(name)} already exists`, { name, kind: resource }),
  );
}

/** NewGenerateNameConflict: the server could not pick a free generated name. */
export function generateNameConflict(resource: string, name: string): ApiError {
  return new ApiError(
    failure(
      409,
      "AlreadyExists",
      `${resource} ${JSON.stringify(name)} already exists, the server was not able to generate a unique name for the object`,
      { name, kind: resource, retryAfterSeconds: 1 },
    ),
  );
}

export const MODIFIED_MESSAGE =
  "the object has been modified; please apply your changes to the latest version and try again";

/** `Operation cannot be fulfilled on secrets "x": ...` (409 Conflict). */
export function conflict(resource: string, name: string, reason: string = MODIFIED_MESSAGE): ApiError {
  return new ApiError(
    failure(409, "Conflict", `Operation cannot be fulfilled on ${resource} ${JSON.stringify(name)}: ${reason}`, {
      name,
      kind: resource,
    }),
  );
}

/** NewInvalid: 422 with one cause per field error; details.kind is the Kind. */
export function invalid(kind: string, name: string, errors: readonly FieldError[]): ApiError {
  const causes: V1StatusCause[] = errors.map((e) => ({ reason: e.type, message: e.body, field: e.field }));
  const rendered = errors.map((e) => `${e.field}: ${e.body}`);
  const aggregate = rendered.length === 1 ? rendered[0] : `[${rendered.join(", ")}]`;
  return new ApiError(
    failure(422, "Invalid", `${kind} ${JSON.stringify(name)} is invalid: ${aggregate}`, { name, kind, causes }),
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(failure(400, "BadRequest", message));
}

export function unauthorized(): ApiError {
  return new ApiError(failure(401, "Unauthorized", "Unauthorized"));
}

/** `secrets "x" is forbidden: <why>` (403 Forbidden). */
export function forbidden(resource: string, name: string, why: string, causes?: V1StatusCause[]): ApiError {
  const message = name ? `${resource} ${JSON.stringify(name)} is forbidden: ${why}` : `${resource} is forbidden: ${why}`;
  const details: V1StatusDetails = { kind: resource };
  if (name) details.name = name;
  if (causes) details.causes = causes;
  return new ApiError(failure(403, "Forbidden", message, details));
}

/** The RBAC denial text an authorizer produces. */
export function rbacForbidden(
  user: string,
  verb: string,
  resource: string,
  namespace: string | undefined,
  name: string | undefined,
): ApiError {
  const where = namespace ? ` in the namespace ${JSON.stringify(namespace)}` : " at the cluster scope";
  return forbidden(
    resource,
    name ?? "",
    `User ${JSON.stringify(user)} cannot ${verb} resource ${JSON.stringify(resource)} in API group ""${where}`,
  );
}

export function methodNotAllowed(action: string, kind: string): ApiError {
  return new ApiError(
    failure(405, "MethodNotAllowed", `${action} is not supported on resources of kind ${JSON.stringify(kind)}`, {
      kind,
    }),
  );
}

export function unsupportedMediaType(contentType: string, accepted: readonly string[]): ApiError {
  return new ApiError(
    failure(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
      { causes: [{ reason: "UnexpectedServerResponse", message: contentType }] },
    ),
  );
}

/** 404 for a URL no resource answers to. */
export function pathNotFound(): ApiError {
  return new ApiError(failure(404, "NotFound", "the server could not find the requested resource", {}));
}

export function gone(message: string): ApiError {
  return new ApiError(failure(410, "Expired", message));
}

export function tooManyRequests(retryAfterSeconds: number): ApiError {
  return new ApiError(
    failure(429, "TooManyRequests", "Too many requests, please try again later.", { retryAfterSeconds }),
    { "Retry-After": String(retryAfterSeconds) },
  );
}

export function internalError(message: string): ApiError {
  return new ApiError(
    failure(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ message }] }),
  );
}

export function serviceUnavailable(message: string, retryAfterSeconds?: number): ApiError {
  const headers: Record<string, string> = {};
  const details: V1StatusDetails | undefined =
    retryAfterSeconds === undefined ? undefined : { retryAfterSeconds };
  if (retryAfterSeconds !== undefined) headers["Retry-After"] = String(retryAfterSeconds);
  return new ApiError(failure(503, "ServiceUnavailable", message, details), headers);
}

export function timeout(message: string, retryAfterSeconds = 0): ApiError {
  const details: V1StatusDetails | undefined = retryAfterSeconds ? { retryAfterSeconds } : undefined;
  return new ApiError(failure(504, "Timeout", message, details));
}

export function requestEntityTooLarge(limit: number): ApiError {
  return new ApiError(failure(413, "RequestEntityTooLarge", `Request entity too large: limit is ${limit}`));
}
