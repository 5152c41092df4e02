// The endpoints controller (pkg/controller/endpoint): for every Service with a
// selector it keeps an Endpoints object of the same name listing the matching
// pods' IPs (ready ones under `addresses`, the others under
// `notReadyAddresses`) with the Service ports resolved to target ports.
import type { Registry } from "./registry.ts";
import { selectorFromMap, matchesLabels } from "./selectors.ts";
import type { StoreEvent } from "./store.ts";
import { type JsonObject, type KubeObject, type WirePod, type WireService, isRecord, jsonEqual, rfc3339 } from "./types.ts";

interface EndpointPort {
  name?: string;
  port: number;
  protocol: string;
}

function podReady(pod: WirePod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

/** Resolves a service port's targetPort against a pod's container ports. */
function resolveTargetPort(pod: WirePod, targetPort: number | string | undefined, port: number): number | undefined {
  if (targetPort === undefined) return port;
  if (typeof targetPort === "number") return targetPort;
  if (/^\d+$/.test(targetPort)) return Number(targetPort);
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === targetPort) return p.containerPort;
  }
  return undefined;
}

export class EndpointsController {
  private readonly dirty = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private idleWaiters: (() => void)[] = [];
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly registry: Registry) {}

  start(): void {
    this.unsubscribe = this.registry.store.subscribe((e) => this.onEvent(e));
    for (const svc of this.registry.store.list("services")) this.markDirty(svc.metadata.namespace ?? "");
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    this.flushWaiters();
  }

  private onEvent(e: StoreEvent): void {
    if (e.resource === "pods") this.markDirty(e.object.metadata.namespace ?? "");
    if (e.resource === "services") {
      const ns = e.object.metadata.namespace ?? "";
      if (e.type === "DELETED") {
        // The Endpoints of a deleted Service go with it.
        const name = e.object.metadata.name ?? "";
        if (this.registry.store.has("endpoints", ns, name)) this.registry.finalize("endpoints", ns, name);
      } else this.markDirty(ns);
    }
  }

  private markDirty(namespace: string): void {
    this.dirty.add(namespace);
    if (!this.timer) this.timer = setTimeout(() => this.sync(), 0);
  }

  /** Resolves once every pending change has been reflected in Endpoints. */
  whenIdle(): Promise<void> {
    if (!this.timer && this.dirty.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private flushWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private sync(): void {
    this.timer = undefined;
    const namespaces = [...this.dirty];
    this.dirty.clear();
    for (const ns of namespaces) this.syncNamespace(ns);
    if (!this.timer && this.dirty.size === 0) this.flushWaiters();
  }

  private syncNamespace(namespace: string): void {
    const nsObj = this.registry.store.get("namespaces", undefined, namespace);
    if (!nsObj || nsObj.metadata.deletionTimestamp) return;
    const pods = this.registry.store.list("pods", namespace) as unknown as WirePod[];
    for (const raw of this.registry.store.list("services", namespace)) {
      const svc = raw as unknown as WireService;
      const selector = svc.spec?.selector;
      if (!selector || Object.keys(selector).length === 0) continue; // user-managed Endpoints
      this.syncService(svc, pods.filter((p) => matchesLabels(selectorFromMap(selector), p.metadata?.labels)));
    }
  }

  private syncService(svc: WireService, pods: WirePod[]): void {
    const name = svc.metadata?.name ?? "";
    const namespace = svc.metadata?.namespace ?? "";
    const subsetsByPorts = new Map<string, { ports: EndpointPort[]; addresses: JsonObject[]; notReady: JsonObject[] }>();
    for (const pod of pods) {
      const ip = pod.status?.podIP;
      const phase = pod.status?.phase;
      if (!ip || pod.metadata?.deletionTimestamp || phase === "Succeeded" || phase === "Failed") continue;
      const ports: EndpointPort[] = [];
      for (const sp of svc.spec?.ports ?? []) {
        const port = resolveTargetPort(pod, sp.targetPort, sp.port);
        if (port === undefined) continue;
        const entry: EndpointPort = { port, protocol: sp.protocol ?? "TCP" };
        if (sp.name) entry.name = sp.name;
        ports.push(entry);
      }
      const key = JSON.stringify(ports);
      let subset = subsetsByPorts.get(key);
      if (!subset) {
        subset = { ports, addresses: [], notReady: [] };
        subsetsByPorts.set(key, subset);
      }
      const address: JsonObject = {
        ip,
        targetRef: { kind: "Pod", namespace, name: pod.metadata?.name ?? "", uid: pod.metadata?.uid ?? "" },
      };
      if (pod.spec?.nodeName) address.nodeName = pod.spec.nodeName;
      (podReady(pod) ? subset.addresses : subset.notReady).push(address);
    }
    const byIP = (a: JsonObject, b: JsonObject): number => String(a.ip).localeCompare(String(b.ip)) || String(isRecord(a.targetRef) ? a.targetRef.name : "").localeCompare(String(isRecord(b.targetRef) ? b.targetRef.name : ""));
    const subsets: JsonObject[] = [...subsetsByPorts.values()].map((s) => {
      const subset: JsonObject = {};
      if (s.addresses.length > 0) subset.addresses = s.addresses.sort(byIP);
      if (s.notReady.length > 0) subset.notReadyAddresses = s.notReady.sort(byIP);
      if (s.ports.length > 0) subset.ports = s.ports;
      return subset;
    });
    const labels = { ...(svc.metadata?.labels ?? {}) };
    const existing = this.registry.store.get("endpoints", namespace, name);
    const existingSubsets = existing && Array.isArray(existing.subsets) ? existing.subsets : [];
    if (existing && jsonEqual(existingSubsets, subsets) && jsonEqual(existing.metadata.labels ?? {}, labels)) return;
    const ep: KubeObject = {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: {
        name,
        namespace,
        labels,
        annotations: { "endpoints.kubernetes.io/last-change-trigger-time": rfc3339() },
      },
    };
    if (Object.keys(labels).length === 0) delete ep.metadata.labels;
    if (subsets.length > 0) ep.subsets = subsets;
    this.registry.upsert("endpoints", ep);
  }
}
