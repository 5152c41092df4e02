// The REST semantics (k8s.io/apiserver's generic registry) over the store,
// as far as the runner relies on them: server-set metadata (uid,
// resourceVersion, creationTimestamp, generation), generateName,
// AlreadyExists, optimistic concurrency (a stale resourceVersion is 409),
// status only through /status, delete preconditions, and finalizers holding
// a deleted object until they are removed.
import { randomInt, randomUUID } from "node:crypto";
import type { V1Status } from "@kubernetes/client-node";
import { type PatchType, applyPatch } from "./patch.ts";
import { type ResourceDef, resourceDef } from "./resources.ts";
import { matchesLabels, parseLabelSelector } from "./selectors.ts";
import { alreadyExists, badRequest, conflict, internalError, invalid, notFound, successStatus } from "./status.ts";
import type { ObjectStore } from "./store.ts";
import { type KubeObject, clone, isRecord, jsonEqual, rfc3339 } from "./types.ts";
import { validateObjectMeta, validateObjectMetaUpdate } from "./validation.ts";

export interface ListResult {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string };
  items: KubeObject[];
}

export interface DeleteRequest {
  preconditions?: { uid?: string; resourceVersion?: string };
}

const GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789";

function requireDef(resource: string): ResourceDef {
  const def = resourceDef(resource);
  if (!def) throw notFound(resource, "");
  return def;
}

/** A request body (or a seeded object) as an object of the resource's kind; bad JSON is 400. */
function decode(def: ResourceDef, body: string | KubeObject): KubeObject {
  let parsed: unknown = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      throw badRequest(`couldn't get version/kind; json parse error: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (!isRecord(parsed)) throw badRequest("the object provided is unrecognized");
  if (parsed.kind !== undefined && parsed.kind !== "" && parsed.kind !== def.kind) {
    throw badRequest(`${String(parsed.kind)} in version "${def.apiVersion}" cannot be handled as a ${def.kind}`);
  }
  return clone({ ...parsed, apiVersion: def.apiVersion, kind: def.kind, metadata: isRecord(parsed.metadata) ? parsed.metadata : {} }) as KubeObject;
}

export class Registry {
  /** Namespaces that exist: creating in another is 404, as NamespaceLifecycle admission answers. */
  readonly namespaces = new Set<string>();

  constructor(readonly store: ObjectStore) {}

  get(resource: string, namespace: string | undefined, name: string): KubeObject {
    const obj = this.store.get(requireDef(resource).resource, namespace, name);
    if (!obj) throw notFound(resource, name);
    return obj;
  }

  /** Objects matching a label selector (a malformed one is 400). */
  select(resource: string, namespace: string | undefined, labelSelector = ""): KubeObject[] {
    const selector = parseLabelSelector(labelSelector);
    return this.store.list(requireDef(resource).resource, namespace).filter((o) => matchesLabels(selector, o.metadata.labels));
  }

  /** A list answer: items without kind/apiVersion, the list's resourceVersion to watch from. */
  list(resource: string, namespace: string | undefined, labelSelector?: string): ListResult {
    const def = requireDef(resource);
    const items = this.select(resource, namespace, labelSelector).map(({ apiVersion: _a, kind: _k, ...rest }) => rest as KubeObject);
    return { kind: `${def.kind}List`, apiVersion: def.apiVersion, metadata: { resourceVersion: String(this.store.currentRevision()) }, items };
  }

  /** POST (`body` raw or already an object). */
  create(resource: string, namespace: string, body: string | KubeObject): KubeObject {
    const def = requireDef(resource);
    const obj = decode(def, body);
    const meta = obj.metadata;
    if (meta.namespace && meta.namespace !== namespace) throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    meta.namespace = namespace;
    if (meta.resourceVersion) throw internalError("resourceVersion should not be set on objects to be created");
    if (!this.namespaces.has(namespace)) throw notFound("namespaces", namespace);
    def.applyDefaults(obj);
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339();
    for (const k of ["deletionTimestamp", "deletionGracePeriodSeconds", "generation"] as const) delete meta[k];
    if (def.tracksGeneration) meta.generation = 1;
    if (def.initialStatus) obj.status = def.initialStatus();
    else if (def.hasStatus) delete obj.status;
    const generated = !meta.name && !!meta.generateName;
    const pick = (): void => {
      if (generated) meta.name = (meta.generateName ?? "").slice(0, 58) + Array.from({ length: 5 }, () => GENERATE_CHARS[randomInt(GENERATE_CHARS.length)]).join("");
    };
    pick();
    const errors = [...validateObjectMeta(obj, def.nameValidator), ...def.validate(obj)];
    if (errors.length > 0) throw invalid(def.kind, meta.name ?? "", errors);
    // A generated name that is taken is picked again (RetryGenerateName).
    for (let attempt = 0; this.store.has(resource, namespace, meta.name ?? ""); attempt++) {
      if (!generated || attempt >= 7) throw alreadyExists(resource, meta.name ?? "");
      pick();
    }
    return this.store.write(resource, obj);
  }

  /** PUT: a replace of an existing object (the runner's pull Secret update). */
  update(resource: string, namespace: string, name: string, body: string | KubeObject): KubeObject {
    const def = requireDef(resource);
    const next = decode(def, body);
    if ((next.metadata.name ?? "") !== name) throw badRequest(`the name of the object (${next.metadata.name ?? ""}) does not match the name on the URL (${name})`);
    next.metadata.namespace = namespace;
    return this.applyUpdate(def, this.get(resource, namespace, name), next);
  }

  /** PATCH of the main resource: the patched object goes through the same rules as a PUT. */
  patch(resource: string, namespace: string, name: string, type: PatchType, rawPatch: string): KubeObject {
    const def = requireDef(resource);
    const existing = this.get(resource, namespace, name);
    const next = decode(def, applyPatch(type, existing, rawPatch) as KubeObject);
    if ((next.metadata.name ?? "") !== name) throw badRequest(`the name of the object (${next.metadata.name ?? ""}) does not match the name on the URL (${name})`);
    return this.applyUpdate(def, existing, next);
  }

  /** The tail of PUT and PATCH: concurrency, system fields, generation, validation, write. */
  private applyUpdate(def: ResourceDef, existing: KubeObject, next: KubeObject): KubeObject {
    const meta = next.metadata;
    const old = existing.metadata;
    if (meta.resourceVersion && meta.resourceVersion !== old.resourceVersion) throw conflict(def.resource, old.name ?? "");
    def.applyDefaults(next);
    meta.uid ||= old.uid;
    meta.creationTimestamp = old.creationTimestamp;
    meta.deletionTimestamp = old.deletionTimestamp;
    meta.resourceVersion = old.resourceVersion;
    if (def.hasStatus) next.status = clone(existing.status);
    meta.generation = def.tracksGeneration ? (old.generation ?? 1) + (jsonEqual(next.spec, existing.spec) ? 0 : 1) : old.generation;
    const errors = [...validateObjectMetaUpdate(next, existing), ...def.validateUpdate(next, existing)];
    if (errors.length > 0) throw invalid(def.kind, old.name ?? "", errors);
    // A no-op update is not written: the resourceVersion stays.
    if (jsonEqual(next, existing)) return existing;
    const stored = this.store.write(def.resource, next);
    if (old.deletionTimestamp && (meta.finalizers ?? []).length === 0) this.store.remove(def.resource, meta.namespace, old.name ?? "");
    return stored;
  }

  /** PATCH .../status: only status changes (the runner's FunctionConfig status). */
  patchStatus(resource: string, namespace: string, name: string, type: PatchType, rawPatch: string): KubeObject {
    const def = requireDef(resource);
    const existing = this.get(resource, namespace, name);
    if (!def.hasStatus) throw notFound(resource, name);
    const patched = applyPatch(type, existing, rawPatch);
    const rv = isRecord(patched.metadata) ? patched.metadata.resourceVersion : undefined;
    if (rv && rv !== existing.metadata.resourceVersion) throw conflict(resource, name);
    const next = { ...existing, status: clone(patched.status) };
    return jsonEqual(next, existing) ? existing : this.store.write(resource, next);
  }

  /**
   * DELETE: the object (ReturnDeletedObject) or a Success Status; with
   * finalizers, the object stays with a deletionTimestamp until they are gone.
   */
  delete(resource: string, namespace: string, name: string, req: DeleteRequest = {}): KubeObject | V1Status {
    const def = requireDef(resource);
    const existing = this.get(resource, namespace, name);
    const { uid, resourceVersion } = req.preconditions ?? {};
    if (uid && uid !== existing.metadata.uid) {
      throw conflict(resource, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid ?? ""}`);
    }
    if (resourceVersion && resourceVersion !== existing.metadata.resourceVersion) {
      throw conflict(resource, name, `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion ?? ""}`);
    }
    if ((existing.metadata.finalizers ?? []).length > 0) {
      if (existing.metadata.deletionTimestamp) return existing;
      const pending = clone(existing);
      pending.metadata.deletionTimestamp = rfc3339();
      pending.metadata.deletionGracePeriodSeconds = 0;
      return this.store.write(resource, pending);
    }
    const removed = this.store.remove(resource, namespace, name) ?? existing;
    return def.returnDeletedObject ? removed : successStatus({ name, kind: resource, uid: removed.metadata.uid ?? "" });
  }

  /** A controller's write (status, binding): no admission, no validation. */
  mutate(resource: string, namespace: string | undefined, name: string, fn: (obj: KubeObject) => void): KubeObject | undefined {
    const existing = this.store.get(resource, namespace, name);
    if (!existing) return undefined;
    const next = clone(existing);
    fn(next);
    return jsonEqual(next, existing) ? existing : this.store.write(resource, next);
  }

  /** Creates or replaces a controller-owned object (Endpoints), keeping its identity. */
  upsert(resource: string, obj: KubeObject): KubeObject {
    const existing = this.store.get(resource, obj.metadata.namespace, obj.metadata.name ?? "");
    const next = clone(obj);
    next.metadata.uid = existing?.metadata.uid ?? randomUUID();
    next.metadata.creationTimestamp = existing?.metadata.creationTimestamp ?? rfc3339();
    next.metadata.resourceVersion = existing?.metadata.resourceVersion;
    return existing && jsonEqual(next, existing) ? existing : this.store.write(resource, next);
  }
}
