// In-memory "etcd": objects per resource keyed by namespace/name, one global
// increasing resourceVersion, and an event history so a watch can resume
// from a resourceVersion (or be told 410 Expired once it is compacted away).
import { type KubeObject, clone } from "./types.ts";

export interface StoreEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  resource: string;
  /** The object after the change (DELETED: its last state, with the deletion's resourceVersion). */
  object: KubeObject;
  /** The object before the change (MODIFIED). */
  oldObject: KubeObject | undefined;
  resourceVersion: number;
}

const key = (namespace: string | undefined, name: string): string => `${namespace ?? ""}/${name}`;

export class ObjectStore {
  private revision = 0;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  /** `historyLimit`: how many events a watch can resume across. */
  constructor(private readonly historyLimit = 2000) {}

  /** The resourceVersion of the last write. */
  currentRevision(): number {
    return this.revision;
  }

  private bucket(resource: string): Map<string, KubeObject> {
    let b = this.data.get(resource);
    if (!b) this.data.set(resource, (b = new Map()));
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
    return [...this.bucket(resource).entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, obj]) => obj)
      .filter((obj) => namespace === undefined || obj.metadata.namespace === namespace)
      .map(clone);
  }

  /** Creates or replaces an object under a new resourceVersion; answers the stored copy. */
  write(resource: string, obj: KubeObject): KubeObject {
    const k = key(obj.metadata.namespace, obj.metadata.name ?? "");
    const old = this.bucket(resource).get(k);
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.revision);
    this.bucket(resource).set(k, stored);
    this.emit({ type: old ? "MODIFIED" : "ADDED", resource, object: clone(stored), oldObject: old && clone(old), resourceVersion: this.revision });
    return clone(stored);
  }

  /** Removes an object; the DELETED event carries a new resourceVersion, as etcd's does. */
  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const old = this.bucket(resource).get(key(namespace, name));
    if (!old) return undefined;
    this.bucket(resource).delete(key(namespace, name));
    const last = clone(old);
    last.metadata.resourceVersion = String(++this.revision);
    this.emit({ type: "DELETED", resource, object: clone(last), oldObject: undefined, resourceVersion: this.revision });
    return last;
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // a listener's failure must not fail the write
      }
    }
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after `revision`, or "expired" when the history no longer reaches back that far. */
  eventsSince(revision: number): StoreEvent[] | "expired" {
    if (revision < this.oldestRevision()) return "expired";
    return this.history.filter((e) => e.resourceVersion > revision).map((e) => ({ ...e, object: clone(e.object) }));
  }

  /** The oldest resourceVersion a watch can resume from. */
  oldestRevision(): number {
    return this.history[0] ? this.history[0].resourceVersion - 1 : this.revision;
  }
}
