// The REST semantics of the generic registry (k8s.io/apiserver genericregistry.Store
// and the create/update/patch/delete handlers) over the in-memory store:
// system metadata, optimistic concurrency, defaulting, admission, validation,
// graceful deletion and finalizers.
import { randomInt, randomUUID } from "node:crypto";
import type { V1Status } from "@kubernetes/client-node";
import { decodeBody } from "./decode.ts";
import { type PatchType, applyPatch } from "./patch.ts";
import { type ResourceDef, resourceDef } from "./resources.ts";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  fieldErr,
  forbidden,
  generateNameConflict,
  internalError,
  invalid,
  notFound,
  successStatus,
} from "./status.ts";
import type { ObjectStore } from "./store.ts";
import { type JsonObject, type KubeObject, clone, isRecord, jsonEqual, rfc3339 } from "./types.ts";
import { validateObjectMeta, validateObjectMetaUpdate } from "./validation.ts";

export interface RegistryOptions {
  /**
   * Pods that are scheduled and not terminal get a deletionTimestamp on DELETE
   * and disappear only when the (simulated) kubelet confirms, as in a real
   * cluster. When false (default), DELETE removes pods at once.
   */
  gracefulPodDeletion: boolean;
  /** Delay before a Terminating namespace and its contents disappear. */
  namespaceDeletionDelayMs: number;
  /** ServiceAccount admission: default SA, existence check, token volume. */
  serviceAccountAdmission: boolean;
}

export interface DeleteRequest {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
  dryRun?: boolean;
}

export interface ListRequest {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface ListResult {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: KubeObject[];
}

const GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789";
const IMMORTAL_NAMESPACES = new Set(["default", "kube-system", "kube-public"]);
const SA_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";

function randomSuffix(n = 5): string {
  let out = "";
  for (let i = 0; i < n; i++) out += GENERATE_CHARS[randomInt(GENERATE_CHARS.length)];
  return out;
}

export function requireDef(resource: string): ResourceDef {
  const def = resourceDef(resource);
  if (!def) throw notFound(resource, "");
  return def;
}

/** A list item is served without kind/apiVersion, as the real server encodes lists. */
function asListItem(obj: KubeObject): KubeObject {
  const copy = clone(obj);
  const { apiVersion: _a, kind: _k, ...rest } = copy;
  return rest as KubeObject;
}

function encodeContinue(revision: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: revision, start: lastKey })).toString("base64");
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64").toString("utf8"));
    if (isRecord(parsed) && typeof parsed.start === "string" && typeof parsed.rv === "number") {
      return { rv: parsed.rv, start: parsed.start };
    }
  } catch {
    // fall through
  }
  throw badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
}

export class Registry {
  private readonly allocatedIPs = new Set<string>();
  private nextIP = 10;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    readonly store: ObjectStore,
    readonly options: RegistryOptions,
  ) {}

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  // ---------- reads ----------

  get(resource: string, namespace: string | undefined, name: string): KubeObject {
    const def = requireDef(resource);
    const obj = this.store.get(resource, def.namespaced ? namespace : undefined, name);
    if (!obj) throw notFound(resource, name);
    return obj;
  }

  /** Objects matching a list request, in key order, before pagination. */
  select(resource: string, namespace: string | undefined, req: ListRequest): KubeObject[] {
    const def = requireDef(resource);
    const labels = parseLabelSelector(req.labelSelector ?? "");
    const fields = parseFieldSelector(req.fieldSelector ?? "", def.fieldSelectors);
    return this.store
      .list(resource, def.namespaced ? namespace : undefined)
      .filter((o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, def.fieldsOf(o)));
  }

  matches(resource: string, obj: KubeObject, req: ListRequest): boolean {
    const def = requireDef(resource);
    const labels = parseLabelSelector(req.labelSelector ?? "");
    const fields = parseFieldSelector(req.fieldSelector ?? "", def.fieldSelectors);
    return matchesLabels(labels, obj.metadata.labels) && matchesFields(fields, def.fieldsOf(obj));
  }

  list(resource: string, namespace: string | undefined, req: ListRequest): ListResult {
    const def = requireDef(resource);
    let items = this.select(resource, namespace, req);
    const revision = this.store.currentRevision();
    const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`;
    if (req.continue) {
      const { start } = decodeContinue(req.continue);
      items = items.filter((o) => keyOf(o) > start);
    }
    const result: ListResult = {
      kind: def.listKind,
      apiVersion: def.apiVersion,
      metadata: { resourceVersion: String(revision) },
      items: [],
    };
    if (req.limit !== undefined && req.limit > 0 && items.length > req.limit) {
      const page = items.slice(0, req.limit);
      const last = page[page.length - 1];
      result.metadata.continue = encodeContinue(revision, last ? keyOf(last) : "");
      result.metadata.remainingItemCount = items.length - page.length;
      items = page;
    }
    result.items = items.map(asListItem);
    return result;
  }

  // ---------- create ----------

  /** POST: `body` is the raw request body (string) or an already-decoded object. */
  create(resource: string, namespace: string | undefined, body: string | KubeObject, dryRun = false): KubeObject {
    const def = requireDef(resource);
    const obj = decodeBody(typeof body === "string" ? body : JSON.stringify(body), def.kind, def.apiVersion);
    const meta = obj.metadata;
    if (!def.namespaced) {
      // EnsureObjectNamespaceMatchesRequestNamespace: cluster-scoped objects lose any namespace.
      delete meta.namespace;
    } else {
      if (meta.namespace && namespace && meta.namespace !== namespace) {
        throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      meta.namespace = namespace ?? meta.namespace;
    }
    if (meta.resourceVersion) throw internalError("resourceVersion should not be set on objects to be created");

    // Mutating admission: NamespaceLifecycle, then ServiceAccount and friends.
    if (def.namespaced) this.admitNamespace(resource, meta.namespace ?? "", meta.name ?? meta.generateName ?? "");
    def.applyDefaults(obj);
    if (resource === "pods") this.admitPod(obj);

    // FillObjectMetaSystemFields + PrepareForCreate.
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    if (def.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    def.prepareForCreate(obj);

    const generated = !meta.name && !!meta.generateName;
    const pickName = (): void => {
      if (generated) {
        const base = (meta.generateName ?? "").slice(0, 58);
        meta.name = base + randomSuffix();
      }
    };
    pickName();
    const errors = [...def.validate(obj), ...validateObjectMeta(obj, def.namespaced, def.nameValidator)];
    if (errors.length > 0) throw invalid(def.kind, meta.name ?? "", errors);

    // Name generation retries (RetryGenerateName, GA in 1.32) before giving up.
    for (let attempt = 0; this.store.has(resource, meta.namespace, meta.name ?? ""); attempt++) {
      if (!generated) throw alreadyExists(resource, meta.name ?? "");
      if (attempt >= 7) throw generateNameConflict(resource, meta.name ?? "");
      pickName();
    }
    if (resource === "services") this.allocateClusterIP(obj);
    if (dryRun) {
      if (resource === "services") this.releaseClusterIP(obj);
      return obj;
    }
    const stored = this.store.write(resource, obj);
    if (resource === "namespaces") this.afterNamespaceCreated(stored);
    return stored;
  }

  private admitNamespace(resource: string, namespace: string, name: string): void {
    const ns = this.store.get("namespaces", undefined, namespace);
    if (!ns) throw notFound("namespaces", namespace);
    if (ns.metadata.deletionTimestamp || (isRecord(ns.status) && ns.status.phase === "Terminating")) {
      throw forbidden(resource, name, `unable to create new content in namespace ${namespace} because it is being terminated`, [
        { reason: "NamespaceTerminating", message: `namespace ${namespace} is being terminated`, field: "metadata.namespace" },
      ]);
    }
  }

  /** ServiceAccount, DefaultTolerationSeconds and Priority admission for a new Pod. */
  private admitPod(pod: KubeObject): void {
    const spec: JsonObject = isRecord(pod.spec) ? pod.spec : {};
    pod.spec = spec;
    const namespace = pod.metadata.namespace ?? "";
    if (this.options.serviceAccountAdmission) {
      const saName = typeof spec.serviceAccountName === "string" && spec.serviceAccountName ? spec.serviceAccountName : "default";
      spec.serviceAccountName = saName;
      spec.serviceAccount = saName;
      const sa = this.store.get("serviceaccounts", namespace, saName);
      if (!sa) {
        throw forbidden(
          "pods",
          pod.metadata.name ?? "",
          `error looking up service account ${namespace}/${saName}: serviceaccount "${saName}" not found`,
        );
      }
      const automount = spec.automountServiceAccountToken !== false && sa.automountServiceAccountToken !== false;
      const containers = [
        ...(Array.isArray(spec.containers) ? spec.containers : []),
        ...(Array.isArray(spec.initContainers) ? spec.initContainers : []),
      ].filter(isRecord);
      const alreadyMounted = containers.some(
        (c) => Array.isArray(c.volumeMounts) && c.volumeMounts.some((m) => isRecord(m) && m.mountPath === SA_MOUNT_PATH),
      );
      if (automount && !alreadyMounted && containers.length > 0) {
        const volumeName = `kube-api-access-${randomSuffix()}`;
        const volumes = Array.isArray(spec.volumes) ? spec.volumes : [];
        volumes.push({
          name: volumeName,
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
              { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
              {
                downwardAPI: {
                  items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }],
                },
              },
            ],
            defaultMode: 420,
          },
        });
        spec.volumes = volumes;
        for (const c of containers) {
          const mounts = Array.isArray(c.volumeMounts) ? c.volumeMounts : [];
          mounts.push({ name: volumeName, readOnly: true, mountPath: SA_MOUNT_PATH });
          c.volumeMounts = mounts;
        }
      }
    }
    const tolerations = Array.isArray(spec.tolerations) ? spec.tolerations : [];
    for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
      if (!tolerations.some((t) => isRecord(t) && t.key === key)) {
        tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
      }
    }
    spec.tolerations = tolerations;
    if (spec.priority === undefined && spec.priorityClassName === undefined) spec.priority = 0;
    if (spec.preemptionPolicy === undefined) spec.preemptionPolicy = "PreemptLowerPriority";
  }

  private allocateClusterIP(svc: KubeObject): void {
    const spec: JsonObject = isRecord(svc.spec) ? svc.spec : {};
    if (spec.type === "ExternalName") return;
    const requested = typeof spec.clusterIP === "string" ? spec.clusterIP : "";
    if (requested === "None") {
      spec.clusterIPs = ["None"];
      return;
    }
    if (requested) {
      if (this.allocatedIPs.has(requested)) {
        throw invalid("Service", svc.metadata.name ?? "", [
          fieldErr.invalid("spec.clusterIPs", [requested], `failed to allocate IP ${requested}: provided IP is already allocated`),
        ]);
      }
      this.allocatedIPs.add(requested);
      spec.clusterIPs = [requested];
      return;
    }
    let ip = "";
    do {
      const n = this.nextIP++;
      ip = `10.96.${Math.floor(n / 256) % 256}.${n % 256}`;
    } while (this.allocatedIPs.has(ip));
    this.allocatedIPs.add(ip);
    spec.clusterIP = ip;
    spec.clusterIPs = [ip];
  }

  private afterNamespaceCreated(ns: KubeObject): void {
    // The serviceaccounts controller gives every namespace its "default" ServiceAccount.
    const name = ns.metadata.name ?? "";
    if (!this.store.has("serviceaccounts", name, "default")) {
      this.store.write("serviceaccounts", {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: "default", namespace: name, uid: randomUUID(), creationTimestamp: rfc3339() },
      });
    }
  }

  // ---------- update ----------

  /** PUT. Returns the stored object and whether it was created (201). */
  update(
    resource: string,
    namespace: string | undefined,
    name: string,
    body: string | KubeObject,
    dryRun = false,
  ): { object: KubeObject; created: boolean } {
    const def = requireDef(resource);
    const obj = decodeBody(typeof body === "string" ? body : JSON.stringify(body), def.kind, def.apiVersion);
    this.checkName(obj, name, def.namespaced ? namespace : undefined);
    if (def.namespaced) obj.metadata.namespace = namespace;
    const existing = this.store.get(resource, def.namespaced ? namespace : undefined, name);
    if (!existing) {
      if (!def.allowCreateOnUpdate) throw notFound(resource, name);
      const copy = clone(obj);
      delete copy.metadata.resourceVersion;
      return { object: this.create(resource, namespace, copy, dryRun), created: true };
    }
    return { object: this.applyUpdate(def, existing, obj, dryRun), created: false };
  }

  private checkName(obj: KubeObject, name: string, namespace: string | undefined): void {
    const objName = obj.metadata.name ?? "";
    if (objName !== name) {
      throw badRequest(`the name of the object (${objName}) does not match the name on the URL (${name})`);
    }
    if (namespace && obj.metadata.namespace && obj.metadata.namespace !== namespace) {
      throw badRequest(`the namespace of the object (${obj.metadata.namespace}) does not match the namespace on the request (${namespace})`);
    }
  }

  /** The common tail of PUT and PATCH: preconditions, system fields, validation, write. */
  private applyUpdate(def: ResourceDef, existing: KubeObject, next: KubeObject, dryRun: boolean): KubeObject {
    const resource = def.resource;
    const name = existing.metadata.name ?? "";
    const rv = next.metadata.resourceVersion;
    if (rv && rv !== existing.metadata.resourceVersion) throw conflict(resource, name);
    def.applyDefaults(next);
    const meta = next.metadata;
    const old = existing.metadata;
    // BeforeUpdate: system fields come from the stored object.
    if (!meta.uid) meta.uid = old.uid;
    meta.creationTimestamp = old.creationTimestamp;
    if (old.deletionTimestamp) meta.deletionTimestamp = old.deletionTimestamp;
    else delete meta.deletionTimestamp;
    if (old.deletionGracePeriodSeconds !== undefined) meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
    else delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    if (def.hasStatus) {
      if (existing.status === undefined) delete next.status;
      else next.status = clone(existing.status);
    }
    if (resource === "namespaces") next.spec = clone(existing.spec);
    if (resource === "services") this.keepAllocatedValues(next, existing);
    if (def.tracksGeneration) {
      meta.generation = (old.generation ?? 1) + (jsonEqual(next.spec, existing.spec) ? 0 : 1);
    } else if (old.generation !== undefined) {
      meta.generation = old.generation;
    } else delete meta.generation;
    // A Terminating object may only lose finalizers, not gain them (ValidateObjectMetaUpdate).
    const errors = [...validateObjectMetaUpdate(next, existing), ...def.validateUpdate(next, existing)];
    if (old.deletionTimestamp) {
      const added = (meta.finalizers ?? []).filter((f) => !(old.finalizers ?? []).includes(f));
      if (added.length > 0) {
        errors.push(fieldErr.forbidden("metadata.finalizers", `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`));
      }
    }
    if (errors.length > 0) throw invalid(def.kind, name, errors);
    meta.resourceVersion = existing.metadata.resourceVersion;
    // A no-op update is not written: the resourceVersion stays.
    if (jsonEqual(next, existing)) return existing;
    if (dryRun) return next;
    const stored = this.store.write(resource, next);
    if (old.deletionTimestamp && (meta.finalizers ?? []).length === 0 && !this.waitsForKubelet(def, stored)) {
      this.store.remove(resource, meta.namespace, name);
    }
    return stored;
  }

  private keepAllocatedValues(next: KubeObject, existing: KubeObject): void {
    const n: JsonObject = isRecord(next.spec) ? next.spec : {};
    next.spec = n;
    const o: JsonObject = isRecord(existing.spec) ? existing.spec : {};
    // patchAllocatedValues: an update that leaves clusterIP empty keeps the allocation.
    if (!n.clusterIP && o.clusterIP) n.clusterIP = o.clusterIP;
    if (n.clusterIPs === undefined && o.clusterIPs !== undefined) n.clusterIPs = clone(o.clusterIPs);
  }

  // ---------- patch ----------

  patch(
    resource: string,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    rawPatch: string,
    dryRun = false,
  ): KubeObject {
    const def = requireDef(resource);
    const existing = this.store.get(resource, def.namespaced ? namespace : undefined, name);
    if (!existing) throw notFound(resource, name);
    const patched = applyPatch(type, existing, rawPatch);
    if (!isRecord(patched)) throw badRequest("the patched object is not a JSON object");
    const obj = decodeBody(JSON.stringify(patched), def.kind, def.apiVersion);
    this.checkName(obj, name, def.namespaced ? namespace : undefined);
    return this.applyUpdate(def, existing, obj, dryRun);
  }

  // ---------- status subresource ----------

  /** PUT/PATCH .../status: only status changes; the rest comes from the stored object. */
  updateStatus(
    resource: string,
    namespace: string | undefined,
    name: string,
    next: KubeObject,
    dryRun = false,
  ): KubeObject {
    const def = requireDef(resource);
    if (!def.hasStatus) throw notFound(resource, name);
    const existing = this.store.get(resource, def.namespaced ? namespace : undefined, name);
    if (!existing) throw notFound(resource, name);
    this.checkName(next, name, def.namespaced ? namespace : undefined);
    const rv = next.metadata.resourceVersion;
    if (rv && rv !== existing.metadata.resourceVersion) throw conflict(resource, name);
    const updated = clone(existing);
    updated.status = clone(next.status);
    if (jsonEqual(updated, existing)) return existing;
    if (dryRun) return updated;
    return this.store.write(resource, updated);
  }

  patchStatus(
    resource: string,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    rawPatch: string,
    dryRun = false,
  ): KubeObject {
    const def = requireDef(resource);
    const existing = this.store.get(resource, def.namespaced ? namespace : undefined, name);
    if (!existing || !def.hasStatus) throw notFound(resource, name);
    const patched = applyPatch(type, existing, rawPatch);
    if (!isRecord(patched)) throw badRequest("the patched object is not a JSON object");
    const obj = decodeBody(JSON.stringify(patched), def.kind, def.apiVersion);
    return this.updateStatus(resource, namespace, name, obj, dryRun);
  }

  // ---------- delete ----------

  /** Graceful pod deletion waits for the kubelet when the pod runs on a node. */
  private waitsForKubelet(def: ResourceDef, obj: KubeObject): boolean {
    if (def.resource !== "pods" || !this.options.gracefulPodDeletion) return false;
    const spec = isRecord(obj.spec) ? obj.spec : {};
    const status = isRecord(obj.status) ? obj.status : {};
    if (!spec.nodeName) return false;
    return status.phase !== "Succeeded" && status.phase !== "Failed";
  }

  /**
   * DELETE. `body` is what the server answers: the object for types with
   * ReturnDeletedObject, else a Success Status; an object whose deletion is
   * pending (grace period, finalizers) is returned as it now is.
   */
  delete(
    resource: string,
    namespace: string | undefined,
    name: string,
    req: DeleteRequest = {},
  ): { body: KubeObject | V1Status; deleted: boolean } {
    const def = requireDef(resource);
    const ns = def.namespaced ? namespace : undefined;
    const existing = this.store.get(resource, ns, name);
    if (!existing) throw notFound(resource, name);
    const pre = req.preconditions ?? {};
    if (pre.uid && pre.uid !== existing.metadata.uid) {
      throw conflict(resource, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid ?? ""}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion) {
      throw conflict(
        resource,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion ?? ""}`,
      );
    }
    if (resource === "namespaces") return this.deleteNamespace(existing, req);
    const finalizers = existing.metadata.finalizers ?? [];
    let grace = 0;
    if (this.waitsForKubelet(def, existing)) {
      const spec = isRecord(existing.spec) ? existing.spec : {};
      const specGrace = typeof spec.terminationGracePeriodSeconds === "number" ? spec.terminationGracePeriodSeconds : 30;
      grace = req.gracePeriodSeconds ?? specGrace;
    }
    if (grace > 0 || finalizers.length > 0) {
      if (existing.metadata.deletionTimestamp) {
        // Already terminating: a shorter grace period would shorten it; a repeat is a no-op.
        return { body: existing, deleted: false };
      }
      const pending = clone(existing);
      pending.metadata.deletionTimestamp = rfc3339(new Date(Date.now() + grace * 1000));
      pending.metadata.deletionGracePeriodSeconds = grace;
      if (req.dryRun) return { body: pending, deleted: false };
      return { body: this.store.write(resource, pending), deleted: false };
    }
    if (req.dryRun) return { body: this.deletedBody(def, existing), deleted: true };
    const removed = this.store.remove(resource, ns, name) ?? existing;
    if (resource === "services") this.releaseClusterIP(existing);
    return { body: this.deletedBody(def, removed), deleted: true };
  }

  private deletedBody(def: ResourceDef, obj: KubeObject): KubeObject | V1Status {
    if (def.returnDeletedObject) return obj;
    return successStatus({ name: obj.metadata.name ?? "", kind: def.resource, uid: obj.metadata.uid ?? "" });
  }

  private releaseClusterIP(svc: KubeObject): void {
    const spec = isRecord(svc.spec) ? svc.spec : {};
    if (typeof spec.clusterIP === "string") this.allocatedIPs.delete(spec.clusterIP);
  }

  private deleteNamespace(existing: KubeObject, req: DeleteRequest): { body: KubeObject; deleted: boolean } {
    const name = existing.metadata.name ?? "";
    if (IMMORTAL_NAMESPACES.has(name)) throw forbidden("namespaces", name, "this namespace may not be deleted");
    if (existing.metadata.deletionTimestamp) return { body: existing, deleted: false };
    const terminating = clone(existing);
    terminating.metadata.deletionTimestamp = rfc3339();
    terminating.metadata.deletionGracePeriodSeconds = 0;
    terminating.status = { phase: "Terminating" };
    if (req.dryRun) return { body: terminating, deleted: false };
    const stored = this.store.write("namespaces", terminating);
    // The namespace controller empties the namespace, then the finalizer goes and the namespace with it.
    this.later(this.options.namespaceDeletionDelayMs, () => this.finishNamespaceDeletion(name));
    return { body: stored, deleted: false };
  }

  private finishNamespaceDeletion(name: string): void {
    for (const def of ["pods", "services", "endpoints", "secrets", "podtemplates", "serviceaccounts"]) {
      for (const obj of this.store.list(def, name)) {
        if (def === "services") this.releaseClusterIP(obj);
        this.store.remove(def, name, obj.metadata.name ?? "");
      }
    }
    this.store.remove("namespaces", undefined, name);
  }

  /** DELETE on a collection: deletes every match, answers the list of what was deleted. */
  deleteCollection(resource: string, namespace: string | undefined, list: ListRequest, req: DeleteRequest): ListResult {
    const def = requireDef(resource);
    const items: KubeObject[] = [];
    for (const obj of this.select(resource, namespace, list)) {
      try {
        const { body } = this.delete(resource, namespace, obj.metadata.name ?? "", req);
        items.push(isRecord(body) && body.kind === def.kind ? (body as KubeObject) : obj);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    }
    return {
      kind: def.listKind,
      apiVersion: def.apiVersion,
      metadata: { resourceVersion: String(this.store.currentRevision()) },
      items: items.map(asListItem),
    };
  }

  // ---------- controller-side writes (no admission, no validation) ----------

  /** Mutates an object in place as a controller would (status writes, bindings). */
  mutate(
    resource: string,
    namespace: string | undefined,
    name: string,
    fn: (obj: KubeObject) => void,
  ): KubeObject | undefined {
    const def = requireDef(resource);
    const existing = this.store.get(resource, def.namespaced ? namespace : undefined, name);
    if (!existing) return undefined;
    const next = clone(existing);
    fn(next);
    if (jsonEqual(next, existing)) return existing;
    return this.store.write(resource, next);
  }

  /** Removes an object now (the kubelet confirming a graceful pod deletion). */
  finalize(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.remove(resource, namespace, name);
  }

  /** Creates or replaces a controller-owned object, keeping uid/creationTimestamp. */
  upsert(resource: string, obj: KubeObject): KubeObject {
    const def = requireDef(resource);
    const existing = this.store.get(resource, obj.metadata.namespace, obj.metadata.name ?? "");
    const next = clone(obj);
    next.apiVersion = def.apiVersion;
    next.kind = def.kind;
    def.applyDefaults(next);
    if (existing) {
      next.metadata.uid = existing.metadata.uid;
      next.metadata.creationTimestamp = existing.metadata.creationTimestamp;
      next.metadata.resourceVersion = existing.metadata.resourceVersion;
      if (jsonEqual(next, existing)) return existing;
    } else {
      next.metadata.uid = randomUUID();
      next.metadata.creationTimestamp = rfc3339();
    }
    return this.store.write(resource, next);
  }
}
