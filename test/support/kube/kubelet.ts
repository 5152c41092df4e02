// A simulated scheduler + kubelet for one node: binds each new pod, reports
// it Pending/ContainerCreating, then Running (Ready unless told otherwise)
// with a pod IP. A hook can start a real process per pod and report its
// address; another stops it when the pod is deleted. Tests fail pods by hand.
import { createHash, randomBytes } from "node:crypto";
import type { Registry } from "./registry.ts";
import type { StoreEvent } from "./store.ts";
import { type JsonObject, type KubeObject, type WirePod, clone, isRecord, rfc3339 } from "./types.ts";

export interface PodRunningResult {
  /** The address the pod is reachable at (default: the allocated pod IP). */
  podIP?: string;
  /** Whether the pod becomes Ready (default: KubeletOptions.readyOnStart). */
  ready?: boolean;
}

export interface PodRunningContext {
  /** The IP allocated to this pod (bind the pod's process to it). */
  podIP: string;
  nodeName: string;
}

export interface KubeletOptions {
  /** Delay between a pod being scheduled and running (default 0). */
  startDelayMs?: number;
  /** A fixed pod IP or an allocator (default "127.0.0.1"). */
  podIP?: string | ((pod: WirePod) => string);
  /** Pods become Ready as soon as they run (default true). */
  readyOnStart?: boolean;
  /** Called when a pod is about to run; a rejection fails the pod with the error's message. */
  onPodRunning?: (pod: WirePod, context: PodRunningContext) => Promise<PodRunningResult | void> | PodRunningResult | void;
  /** Called once when a pod that was started is deleted or failed. */
  onPodDeleted?: (pod: WirePod) => Promise<void> | void;
}

export const NODE_NAME = "kube-test-node";

/**
 * Pod IPs on the loopback network: every pod gets its own 127.a.b.c (Linux
 * routes all of 127.0.0.0/8 to lo), so a real process per pod can listen on
 * podIP:9446 as a container would. Starts at a random /16 to keep parallel
 * test files apart.
 */
export function loopbackIPAllocator(): (pod: WirePod) => string {
  let next = (16 + Math.floor(Math.random() * 200)) * 65536 + 2;
  return () => {
    while ((next & 255) === 0 || (next & 255) === 255) next++;
    const n = next++;
    return `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  };
}

const asPod = (obj: KubeObject): WirePod => obj as unknown as WirePod;
const containersOf = (pod: KubeObject): JsonObject[] => (isRecord(pod.spec) && Array.isArray(pod.spec.containers) ? pod.spec.containers.filter(isRecord) : []);
const imageID = (image: string): string => (image.includes("@") ? image : `${image.replace(/:[^/:]+$/, "")}@sha256:${createHash("sha256").update(image).digest("hex")}`);

/** The five pod conditions, Ready and ContainersReady as given. */
function conditions(ready: boolean, why: string | undefined, at: string): JsonObject[] {
  const c = (type: string, status: boolean, reason?: string): JsonObject => ({
    type,
    status: status ? "True" : "False",
    lastProbeTime: null,
    lastTransitionTime: at,
    ...(reason ? { reason } : {}),
  });
  return [c("PodReadyToStartContainers", true), c("Initialized", true), c("Ready", ready, why), c("ContainersReady", ready, why), c("PodScheduled", true)];
}

/** Container statuses in one state (`waiting`, `running`, `terminated`). */
function containerStatuses(pod: KubeObject, ready: boolean, state: JsonObject, started: boolean): JsonObject[] {
  return containersOf(pod).map((c) => {
    const image = typeof c.image === "string" ? c.image : "";
    const live = !("waiting" in state);
    return {
      name: c.name,
      image,
      imageID: live ? imageID(image) : "",
      ...(live ? { containerID: `containerd://${randomBytes(32).toString("hex")}` } : {}),
      ready,
      started,
      restartCount: 0,
      state,
    };
  });
}

export class SimulatedKubelet {
  private opts: KubeletOptions = {};
  private on = false;
  private readonly pending = new Set<Promise<void>>();
  /** uid → the pod as started (for onPodDeleted). */
  private readonly started = new Map<string, WirePod>();
  private readonly unsubscribe: () => void;

  constructor(private readonly registry: Registry) {
    this.unsubscribe = registry.store.subscribe((e) => this.onEvent(e));
  }

  /** Turns the node on; pods already waiting to be scheduled are picked up. */
  enable(options: KubeletOptions = {}): void {
    this.configure(options);
    this.on = true;
    for (const pod of this.registry.store.list("pods")) if (!(isRecord(pod.spec) && pod.spec.nodeName)) this.track(this.run(pod));
  }

  /** Turns the node off: new pods stay Pending (running pods are left as they are). */
  disable(): void {
    this.on = false;
  }

  configure(options: KubeletOptions): void {
    this.opts = { ...this.opts, ...options };
  }

  dispose(): void {
    this.on = false;
    this.unsubscribe();
  }

  /** Resolves when no pod start or stop is in flight. */
  async whenIdle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private onEvent(e: StoreEvent): void {
    if (e.resource !== "pods") return;
    if (e.type === "ADDED" && this.on) this.track(this.run(e.object));
    if (e.type === "DELETED") this.stopped(e.object.metadata.uid ?? "");
  }

  private stopped(uid: string): void {
    const pod = this.started.get(uid);
    if (!pod) return;
    this.started.delete(uid);
    const hook = this.opts.onPodDeleted;
    if (hook) this.track(Promise.resolve().then(() => hook(pod)).catch(() => undefined));
  }

  /** The pod, unless it was deleted or replaced by another of the same name. */
  private current(ns: string | undefined, name: string, uid: string): KubeObject | undefined {
    const pod = this.registry.store.get("pods", ns, name);
    return pod?.metadata.uid === uid ? pod : undefined;
  }

  private async run(created: KubeObject): Promise<void> {
    const { namespace: ns, name = "", uid = "" } = created.metadata;
    await Promise.resolve();
    if (!this.on || !this.current(ns, name, uid)) return;
    // Scheduler and kubelet: bound to the node, containers being created.
    this.registry.mutate("pods", ns, name, (pod) => {
      pod.spec = { ...(isRecord(pod.spec) ? pod.spec : {}), nodeName: NODE_NAME };
      const at = rfc3339();
      pod.status = {
        phase: "Pending",
        hostIP: "127.0.0.1",
        startTime: at,
        conditions: conditions(false, "ContainersNotReady", at),
        containerStatuses: containerStatuses(pod, false, { waiting: { reason: "ContainerCreating" } }, false),
      };
    });
    if (this.opts.startDelayMs) await new Promise((r) => setTimeout(r, this.opts.startDelayMs));
    const current = this.current(ns, name, uid);
    if (!current || !this.on) return;
    const allocator = this.opts.podIP ?? "127.0.0.1";
    const allocated = typeof allocator === "function" ? allocator(asPod(current)) : allocator;
    let result: PodRunningResult;
    try {
      result = (await this.opts.onPodRunning?.(clone(asPod(current)), { podIP: allocated, nodeName: NODE_NAME })) ?? {};
    } catch (e) {
      this.fail(ns, name, "Error", e instanceof Error ? e.message : String(e));
      return;
    }
    this.started.set(uid, asPod(current));
    // Deleted while starting: whatever the hook started is stopped.
    if (!this.current(ns, name, uid)) return this.stopped(uid);
    const podIP = result.podIP ?? allocated;
    const ready = result.ready ?? this.opts.readyOnStart ?? true;
    this.registry.mutate("pods", ns, name, (pod) => {
      const at = rfc3339();
      pod.status = {
        ...(isRecord(pod.status) ? pod.status : {}),
        phase: "Running",
        podIP,
        podIPs: [{ ip: podIP }],
        conditions: conditions(ready, ready ? undefined : "ContainersNotReady", at),
        containerStatuses: containerStatuses(pod, ready, { running: { startedAt: at } }, true),
      };
    });
  }

  private fail(ns: string | undefined, name: string, reason: string, message: string): KubeObject | undefined {
    return this.registry.mutate("pods", ns, name, (pod) => {
      const at = rfc3339();
      pod.status = {
        ...(isRecord(pod.status) ? pod.status : {}),
        phase: "Failed",
        reason,
        message,
        conditions: conditions(false, "PodFailed", at),
        containerStatuses: containerStatuses(pod, false, { terminated: { exitCode: 1, reason, message, startedAt: at, finishedAt: at } }, false),
      };
    });
  }

  /** Moves a pod to phase Failed (its container terminated with exit code 1); its process is stopped. */
  failPod(name: string, options: { namespace?: string; reason?: string; message?: string } = {}): WirePod {
    const [pod, ...more] = this.registry.store.list("pods", options.namespace).filter((p) => p.metadata.name === name);
    if (!pod || more.length > 0) throw new Error(`pod ${name}: ${pod ? "ambiguous, give its namespace" : "not found"}`);
    const out = this.fail(pod.metadata.namespace, name, options.reason ?? "Error", options.message ?? "container failed");
    this.stopped(pod.metadata.uid ?? "");
    return asPod(out ?? pod);
  }
}
