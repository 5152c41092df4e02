// Shared types of the test Kubernetes API server.
//
// Objects are kept exactly as they travel on the wire (JSON). The
// @kubernetes/client-node model classes describe the same shapes, except that
// timestamps are `Date` in the models and RFC 3339 strings on the wire:
// `Wire<V1Pod>` is the JSON form of a V1Pod.
import type {
  V1Endpoints,
  V1Namespace,
  V1ObjectMeta,
  V1Pod,
  V1PodTemplate,
  V1Secret,
  V1Service,
  V1ServiceAccount,
} from "@kubernetes/client-node";

/** JSON form of a client-node model: `Date` fields become RFC 3339 strings. */
export type Wire<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

export type WireMeta = Wire<V1ObjectMeta>;
export type WirePod = Wire<V1Pod>;
export type WireSecret = Wire<V1Secret>;
export type WireService = Wire<V1Service>;
export type WireEndpoints = Wire<V1Endpoints>;
export type WireNamespace = Wire<V1Namespace>;
export type WirePodTemplate = Wire<V1PodTemplate>;
export type WireServiceAccount = Wire<V1ServiceAccount>;

/** Any stored object: apiVersion/kind/metadata plus kind-specific fields. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: WireMeta;
  [field: string]: unknown;
}

export type JsonObject = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep copy of a JSON value (objects handed out never alias the store). */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 3339 with second precision, as metav1.Time marshals. */
export function rfc3339(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The Kubernetes verbs (as RBAC and audit name them). */
export type Verb =
  | "get"
  | "list"
  | "watch"
  | "create"
  | "update"
  | "patch"
  | "delete"
  | "deletecollection";

/** What a request addresses, parsed from its URL (like RequestInfo). */
export interface RequestInfo {
  verb: Verb | undefined;
  /** Plural resource name, e.g. "pods"; undefined for non-resource URLs. */
  resource: string | undefined;
  subresource: string | undefined;
  namespace: string | undefined;
  name: string | undefined;
}
