// The endpoints controller: for every Service with a selector it keeps an
// Endpoints object of the same name listing the matching pods' IPs (ready
// ones under `addresses`, the others under `notReadyAddresses`). The runner
// waits for its pod to appear there before it calls a Service address.
import type { Registry } from "./registry.ts";
import type { StoreEvent } from "./store.ts";
import { type JsonObject, type KubeObject, type WirePod, type WireService, jsonEqual, rfc3339 } from "./types.ts";

export class EndpointsController {
  private readonly dirty = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly unsubscribe: () => void;

  constructor(private readonly registry: Registry) {
    this.unsubscribe = registry.store.subscribe((e) => this.onEvent(e));
  }

  stop(): void {
    this.unsubscribe();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    this.flushWaiters();
  }

  private onEvent(e: StoreEvent): void {
    const ns = e.object.metadata.namespace ?? "";
    const name = e.object.metadata.name ?? "";
    // The Endpoints of a deleted Service go with it.
    if (e.resource === "services" && e.type === "DELETED") this.registry.store.remove("endpoints", ns, name);
    else if (e.resource === "pods" || e.resource === "services") {
      this.dirty.add(ns);
      this.timer ??= setTimeout(() => this.sync(), 0);
    }
  }

  /** Resolves once every pending change is reflected in Endpoints. */
  whenIdle(): Promise<void> {
    if (this.timer === undefined) return Promise.resolve();
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
    for (const ns of namespaces) {
      const pods = this.registry.store.list("pods", ns) as unknown as WirePod[];
      for (const svc of this.registry.store.list("services", ns) as unknown as WireService[]) {
        const selector = svc.spec?.selector;
        // Without a selector the Endpoints are the user's.
        if (selector && Object.keys(selector).length > 0) this.syncService(svc, pods.filter((p) => Object.entries(selector).every(([k, v]) => p.metadata?.labels?.[k] === v)));
      }
    }
    if (this.timer === undefined) this.flushWaiters();
  }

  private syncService(svc: WireService, pods: WirePod[]): void {
    const name = svc.metadata?.name ?? "";
    const namespace = svc.metadata?.namespace ?? "";
    const addresses: JsonObject[] = [];
    const notReady: JsonObject[] = [];
    for (const pod of pods) {
      const ip = pod.status?.podIP;
      if (!ip || pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") continue;
      const ready = (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
      const address = { ip, nodeName: pod.spec?.nodeName, targetRef: { kind: "Pod", namespace, name: pod.metadata?.name ?? "", uid: pod.metadata?.uid ?? "" } };
      (ready ? addresses : notReady).push(address);
    }
    const ports = (svc.spec?.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      // A named targetPort is not resolved: the runner's Services name the port number.
      port: typeof p.targetPort === "number" ? p.targetPort : p.port,
      protocol: p.protocol ?? "TCP",
    }));
    const subsets =
      addresses.length + notReady.length === 0
        ? undefined
        : [{ ...(addresses.length > 0 ? { addresses } : {}), ...(notReady.length > 0 ? { notReadyAddresses: notReady } : {}), ports }];
    const existing = this.registry.store.get("endpoints", namespace, name);
    if (existing && jsonEqual(existing.subsets, subsets)) return;
    const ep: KubeObject = {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name, namespace, annotations: { "endpoints.kubernetes.io/last-change-trigger-time": rfc3339() } },
      ...(subsets ? { subsets } : {}),
    };
    this.registry.upsert("endpoints", ep);
  }
}
