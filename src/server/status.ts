/**
 * RunnerError code → HTTP status and → gRPC status code (the table in docs/errors.md).
 * Exhaustive records, so a new error code does not compile until it is mapped.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { ErrorCode } from "../errors.ts";

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  // Bad input from the caller.
  INVALID_REFERENCE: 400,
  INVALID_ARGUMENT: 400,
  // The image (or that platform of it) does not exist where it was looked for.
  MANIFEST_UNKNOWN: 404,
  NAME_UNKNOWN: 404,
  NOT_FOUND: 404,
  NO_MATCHING_PLATFORM: 404,
  // Upstream (registry) failures: the gateway's answer was unusable.
  UNAUTHORIZED: 502,
  DENIED: 502,
  TOO_MANY_REQUESTS: 502,
  NETWORK: 502,
  TLS: 502,
  DIGEST_MISMATCH: 502,
  UNSUPPORTED_MEDIA_TYPE: 502,
  NO_ENTRYPOINT: 502,
  // A registry answer over its limit. Our own body cap answers 413 itself (front.ts).
  TOO_LARGE: 502,
  AUTH_CONFIG_INVALID: 502,
  TIMEOUT: 504,
  // Kubernetes is needed but not there (or not answering).
  KUBE_UNAVAILABLE: 503,
  SECRET_SYNC_FAILED: 503,
  ADDRESS_IN_USE: 503,
  INTERNAL: 500,
};

export const GRPC_STATUS: Readonly<Record<ErrorCode, GrpcStatus>> = {
  // Porch's runtimes pass on an image they cannot parse and its multi-evaluator ends in NOT_FOUND;
  // the trailer x-function-runner-error-code still says INVALID_REFERENCE.
  INVALID_REFERENCE: GrpcStatus.NOT_FOUND,
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  MANIFEST_UNKNOWN: GrpcStatus.NOT_FOUND,
  NAME_UNKNOWN: GrpcStatus.NOT_FOUND,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  NO_MATCHING_PLATFORM: GrpcStatus.NOT_FOUND,
  TOO_LARGE: GrpcStatus.RESOURCE_EXHAUSTED,
  TOO_MANY_REQUESTS: GrpcStatus.RESOURCE_EXHAUSTED,
  // The runner's own registry credentials were refused: the caller cannot fix
  // that by re-authenticating, so this is a failed precondition, not UNAUTHENTICATED.
  UNAUTHORIZED: GrpcStatus.FAILED_PRECONDITION,
  DENIED: GrpcStatus.PERMISSION_DENIED,
  TLS: GrpcStatus.FAILED_PRECONDITION,
  DIGEST_MISMATCH: GrpcStatus.FAILED_PRECONDITION,
  UNSUPPORTED_MEDIA_TYPE: GrpcStatus.FAILED_PRECONDITION,
  NO_ENTRYPOINT: GrpcStatus.FAILED_PRECONDITION,
  AUTH_CONFIG_INVALID: GrpcStatus.FAILED_PRECONDITION,
  NETWORK: GrpcStatus.UNAVAILABLE,
  KUBE_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  SECRET_SYNC_FAILED: GrpcStatus.UNAVAILABLE,
  TIMEOUT: GrpcStatus.DEADLINE_EXCEEDED,
  ADDRESS_IN_USE: GrpcStatus.UNAVAILABLE,
  INTERNAL: GrpcStatus.INTERNAL,
};
