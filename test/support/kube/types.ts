// Shared types of the test Kubernetes API server. Objects are kept as they
// travel on the wire (JSON): `Wire<V1Pod>` is the JSON form of client-node's
// V1Pod (its `Date` fields are RFC 3339 strings on the wire).
import type { V1Endpoints, V1ObjectMeta, V1Pod, V1PodTemplate, V1Secret, V1Service } from "@kubernetes/client-node";

export type Wire<T> = T extends Date ? string : T extends (infer U)[] ? Wire<U>[] : T extends object ? { [K in keyof T]: Wire<T[K]> } : T;

export type WirePod = Wire<V1Pod>;
export type WireSecret = Wire<V1Secret>;
export type WireService = Wire<V1Service>;
export type WireEndpoints = Wire<V1Endpoints>;
export type WirePodTemplate = Wire<V1PodTemplate>;

/** Any stored object: apiVersion/kind/metadata plus kind-specific fields. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: Wire<V1ObjectMeta>;
  [field: string]: unknown;
}

export type JsonObject = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep copy (objects handed out never alias the store). */
export const clone = <T>(value: T): T => structuredClone(value);

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (!isRecord(a) || !isRecord(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
}

/** RFC 3339 with second precision, as metav1.Time marshals. */
export const rfc3339 = (date: Date = new Date()): string => date.toISOString().replace(/\.\d{3}Z$/, "Z");

/** The Kubernetes verbs the server answers (as RBAC names them). */
export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

/** What a request addresses, parsed from its URL. */
export interface RequestInfo {
  verb: Verb | undefined;
  /** Plural resource name, e.g. "pods"; undefined for non-resource URLs. */
  resource: string | undefined;
  subresource: string | undefined;
  namespace: string | undefined;
  name: string | undefined;
}
