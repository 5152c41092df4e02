// In-memory "etcd": objects per resource keyed by namespace/name, one global
// increasing resourceVersion, and an event history for watches.
import { type KubeObject, clone } from "./types.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: WatchEventType;
  resource: string;
  /** The object after the change (for DELETED: its last state, with the deletion's resourceVersion). */
  object: KubeObject;
  /** The object before the change (MODIFIED and DELETED). */
  oldObject: KubeObject | undefined;
  resourceVersion: number;
}

export type StoreListener = (event: StoreEvent) => void;

const META_ORDER = [
  "name",
  "generateName",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
];

/** Field order as the Go structs serialize: kind, apiVersion, metadata (ordered), ..., status. */
function canonical(obj: KubeObject): KubeObject {
  const { kind, apiVersion, metadata, status, ...rest } = obj;
  const meta: Record<string, unknown> = {};
  const source = metadata as Record<string, unknown>;
  for (const k of META_ORDER) if (source[k] !== undefined) meta[k] = source[k];
  for (const [k, v] of Object.entries(source)) if (!(k in meta) && v !== undefined) meta[k] = v;
  const out: KubeObject = { kind, apiVersion, metadata: meta as KubeObject["metadata"], ...rest };
  if (status !== undefined) out.status = status;
  return out;
}

function key(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

export class ObjectStore {
  private revision = 0;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<StoreListener>();

  /** How many events are kept for watches that resume from a resourceVersion. */
  constructor(private readonly historyLimit = 2000) {}

  /** The resourceVersion of the last write. */
  currentRevision(): number {
    return this.revision;
  }

  private bucket(resource: string): Map<string, KubeObject> {
    let b = this.data.get(resource);
    if (!b) {
      b = new Map();
      this.data.set(resource, b);
    }
    return b;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.bucket(resource).get(key(namespace, name));
    return obj ? clone(obj) : undefined;
  }

  has(resource: string, namespace: string | undefined, name: string): boolean {
    return this.bucket(resource).has(key(namespace, name));
  }

  /** Objects of a resource (all namespaces when `namespace` is undefined), in key order like etcd. */
  list(resource: string, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    const entries = [...this.bucket(resource).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [, obj] of entries) {
      if (namespace === undefined || obj.metadata.namespace === namespace) out.push(clone(obj));
    }
    return out;
  }

  /** Writes (creates or replaces) an object, stamping a new resourceVersion. Returns the stored copy. */
  write(resource: string, obj: KubeObject): KubeObject {
    const k = key(obj.metadata.namespace, obj.metadata.name ?? "");
    const bucket = this.bucket(resource);
    const old = bucket.get(k);
    this.revision++;
    const stored = canonical(clone(obj));
    stored.metadata.resourceVersion = String(this.revision);
    bucket.set(k, stored);
    this.emit({
      type: old ? "MODIFIED" : "ADDED",
      resource,
      object: clone(stored),
      oldObject: old ? clone(old) : undefined,
      resourceVersion: this.revision,
    });
    return clone(stored);
  }

  /** Removes an object; the DELETED event carries a new resourceVersion as etcd's does. */
  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const k = key(namespace, name);
    const bucket = this.bucket(resource);
    const old = bucket.get(k);
    if (!old) return undefined;
    bucket.delete(k);
    this.revision++;
    const last = clone(old);
    last.metadata.resourceVersion = String(this.revision);
    this.emit({ type: "DELETED", resource, object: clone(last), oldObject: clone(old), resourceVersion: this.revision });
    return last;
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // a listener's failure must not break the write
      }
    }
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Events after `revision` (exclusive), or "expired" when the history no
   * longer reaches back that far (a watch must then answer 410 Gone).
   */
  eventsSince(revision: number): StoreEvent[] | "expired" {
    const oldest = this.history[0];
    if (oldest && revision < oldest.resourceVersion - 1) return "expired";
    if (!oldest && revision < this.revision) return "expired";
    return this.history.filter((e) => e.resourceVersion > revision).map((e) => ({ ...e, object: clone(e.object) }));
  }

  /** The oldest resourceVersion a watch can resume from. */
  oldestRevision(): number {
    return this.history[0] ? this.history[0].resourceVersion - 1 : this.revision;
  }
}
