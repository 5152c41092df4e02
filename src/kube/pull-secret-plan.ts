/**
 * The pull Secret's desired state and what it takes to get there
 * (docs/kubernetes.md, "The pull Secret"). Pure: the Secret as read (or undefined) and the mounted file's
 * bytes come in, an action comes out; ./pull-secret.ts carries it out.
 */
import { Buffer } from "node:buffer";
import type { V1Secret } from "@kubernetes/client-node";

export const DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson";
export const DOCKER_CONFIG_JSON_TYPE = "kubernetes.io/dockerconfigjson";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "kpt-function-runner";

export interface PullSecretTarget {
  namespace: string;
  name: string;
  /** The mounted Docker config, byte for byte. */
  bytes: Uint8Array;
}

export type PullSecretPlan =
  | { action: "create"; body: V1Secret }
  | { action: "update"; body: V1Secret; reason: "content" | "label" }
  | { action: "unchanged" }
  /** Cannot be fixed by an update (type and immutability are fixed at creation): an operator must act. */
  | { action: "incompatible"; why: string };

/** The Secret to create: only our key, our type, our label. */
export function desiredSecret(target: PullSecretTarget): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: target.name, namespace: target.namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
    type: DOCKER_CONFIG_JSON_TYPE,
    data: { [DOCKER_CONFIG_JSON_KEY]: Buffer.from(target.bytes).toString("base64") },
  };
}

/** Whether the Secret's `.dockerconfigjson` is exactly `bytes` (decoded, so base64 spelling does not matter). */
export function holdsBytes(secret: V1Secret, bytes: Uint8Array): boolean {
  const encoded = secret.data?.[DOCKER_CONFIG_JSON_KEY];
  if (encoded === undefined) return false;
  return Buffer.from(encoded, "base64").equals(Buffer.from(bytes));
}

export function planPullSecret(existing: V1Secret | undefined, target: PullSecretTarget): PullSecretPlan {
  if (existing === undefined) return { action: "create", body: desiredSecret(target) };
  const type = existing.type ?? "Opaque";
  const where = `Secret ${target.namespace}/${target.name}`;
  if (type !== DOCKER_CONFIG_JSON_TYPE) {
    return { action: "incompatible", why: `${where} exists with type ${type}, not ${DOCKER_CONFIG_JSON_TYPE} (the type cannot be changed: delete the Secret)` };
  }
  const sameBytes = holdsBytes(existing, target.bytes);
  const labelled = existing.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
  if (sameBytes && labelled) return { action: "unchanged" };
  if (existing.immutable === true) {
    // An immutable Secret with the right bytes is fine as it is; only a content change needs a write.
    if (sameBytes) return { action: "unchanged" };
    return { action: "incompatible", why: `${where} is immutable and holds other credentials (delete it to let the runner recreate it)` };
  }
  // Replace with the read resourceVersion: a concurrent writer makes this a 409, never a lost update.
  const { managedFields: _managedFields, ...metadata } = existing.metadata ?? {};
  const body: V1Secret = {
    ...existing,
    apiVersion: "v1",
    kind: "Secret",
    metadata: { ...metadata, labels: { ...metadata.labels, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
    // Other keys an operator added are kept: only ours is managed.
    data: { ...existing.data, [DOCKER_CONFIG_JSON_KEY]: Buffer.from(target.bytes).toString("base64") },
  };
  delete body.stringData;
  return { action: "update", body, reason: sameBytes ? "label" : "content" };
}
