// A simulated scheduler + kubelet for one node: binds new pods, reports them
// Pending/ContainerCreating, then Running and Ready with a pod IP. A hook can
// start a real process per pod and report its address; graceful deletions
// are confirmed after a short delay.
import { createHash, randomBytes } from "node:crypto";
import type { Registry } from "./registry.ts";
import type { StoreEvent } from "./store.ts";
import { type JsonObject, type KubeObject, type WirePod, clone, isRecord, rfc3339 } from "./types.ts";

export interface PodRunningResult {
  /** The address the pod is reachable at (default: the kubelet's pod IP allocator). */
  podIP?: string;
  /** Whether the pod becomes Ready at once (default: KubeletOptions.readyOnStart). */
  ready?: boolean;
}

export interface PodRunningContext {
  /** The IP the allocator picked for this pod (bind the pod's process to it). */
  podIP: string;
  nodeName: string;
}

export interface KubeletOptions {
  /** Delay between a pod being scheduled and running (default 0). */
  startDelayMs?: number;
  nodeName?: string;
  hostIP?: string;
  /** A fixed pod IP or an allocator (default "127.0.0.1"). */
  podIP?: string | ((pod: WirePod) => string);
  /** Pods become Ready as soon as they run (default true). */
  readyOnStart?: boolean;
  /** After a graceful DELETE, how long until the pod object disappears (default 0). */
  terminationDelayMs?: number;
  /**
   * Called when a pod is about to run. Start something real here and report
   * its address. A rejection fails the pod (phase Failed, container
   * terminated with reason Error and the error's message).
   */
  onPodRunning?: (pod: WirePod, context: PodRunningContext) => Promise<PodRunningResult | void> | PodRunningResult | void;
  /** Called once when a pod that was started is deleted (or starts terminating). */
  onPodDeleted?: (pod: WirePod) => Promise<void> | void;
}

/**
 * Pod IPs on the loopback network: every pod gets its own 127.a.b.c (Linux
 * routes all of 127.0.0.0/8 to lo), so a real process per pod can listen on
 * podIP:9446 like a container would. Starts at a random /16 to keep parallel
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

export interface PodRef {
  namespace?: string;
}

function asPod(obj: KubeObject): WirePod {
  return obj as unknown as WirePod;
}

function containerID(): string {
  return `containerd://${randomBytes(32).toString("hex")}`;
}

function imageID(image: string): string {
  if (image.includes("@")) return image;
  const digest = createHash("sha256").update(image).digest("hex");
  const repo = image.replace(/:[^/:]+$/, "");
  return `${repo}@sha256:${digest}`;
}

function condition(type: string, status: boolean, now: string, reason?: string): JsonObject {
  const c: JsonObject = { type, status: status ? "True" : "False", lastProbeTime: null, lastTransitionTime: now };
  if (reason) c.reason = reason;
  return c;
}

export class SimulatedKubelet {
  private opts: KubeletOptions = {};
  private on = false;
  private readonly pending = new Set<Promise<void>>();
  private readonly started = new Map<string, WirePod>(); // uid → pod as started
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly registry: Registry) {
    this.unsubscribe = registry.store.subscribe((e) => this.onEvent(e));
  }

  get enabled(): boolean {
    return this.on;
  }

  /** Turns the node on; pods already waiting to be scheduled are picked up. */
  enable(options: KubeletOptions = {}): void {
    this.opts = { ...this.opts, ...options };
    this.on = true;
    for (const pod of this.registry.store.list("pods")) {
      const spec = isRecord(pod.spec) ? pod.spec : {};
      if (!spec.nodeName && !pod.metadata.deletionTimestamp) this.track(this.run(pod));
    }
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
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Resolves when no pod start is in flight. */
  async whenIdle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private onEvent(e: StoreEvent): void {
    if (e.resource !== "pods") return;
    const pod = e.object;
    const uid = pod.metadata.uid ?? "";
    if (e.type === "ADDED") {
      if (this.on && !pod.metadata.deletionTimestamp) this.track(this.run(pod));
      return;
    }
    if (e.type === "MODIFIED" && pod.metadata.deletionTimestamp && !e.oldObject?.metadata.deletionTimestamp) {
      this.terminate(pod);
      return;
    }
    if (e.type === "DELETED") this.stopped(uid);
  }

  private stopped(uid: string): void {
    const pod = this.started.get(uid);
    if (!pod) return;
    this.started.delete(uid);
    const hook = this.opts.onPodDeleted;
    if (hook) this.track(Promise.resolve().then(() => hook(pod)).catch(() => undefined));
  }

  /** A graceful deletion: stop the containers, then remove the pod object. */
  private terminate(pod: KubeObject): void {
    const uid = pod.metadata.uid ?? "";
    const ns = pod.metadata.namespace;
    const name = pod.metadata.name ?? "";
    this.stopped(uid);
    const finish = async (): Promise<void> => {
      await this.sleep(this.opts.terminationDelayMs ?? 0);
      const current = this.registry.store.get("pods", ns, name);
      if (current && current.metadata.uid === uid && (current.metadata.finalizers ?? []).length === 0) {
        this.registry.finalize("pods", ns, name);
      }
    };
    this.track(finish());
  }

  private alive(ns: string | undefined, name: string, uid: string): KubeObject | undefined {
    const current = this.registry.store.get("pods", ns, name);
    if (!current || current.metadata.uid !== uid || current.metadata.deletionTimestamp) return undefined;
    return current;
  }

  private async run(created: KubeObject): Promise<void> {
    const ns = created.metadata.namespace;
    const name = created.metadata.name ?? "";
    const uid = created.metadata.uid ?? "";
    await Promise.resolve();
    if (!this.on || !this.alive(ns, name, uid)) return;
    const nodeName = this.opts.nodeName ?? "kube-test-node";
    const hostIP = this.opts.hostIP ?? "127.0.0.1";
    // Scheduler: bind to the node.
    this.registry.mutate("pods", ns, name, (pod) => {
      const spec: JsonObject = isRecord(pod.spec) ? pod.spec : {};
      spec.nodeName = nodeName;
      pod.spec = spec;
      const status: JsonObject = isRecord(pod.status) ? pod.status : {};
      status.conditions = [condition("PodScheduled", true, rfc3339())];
      pod.status = status;
    });
    // Kubelet: pod accepted, containers being created.
    const now = rfc3339();
    this.registry.mutate("pods", ns, name, (pod) => {
      const spec: JsonObject = isRecord(pod.spec) ? pod.spec : {};
      const hasInit = Array.isArray(spec.initContainers) && spec.initContainers.length > 0;
      const status: JsonObject = isRecord(pod.status) ? pod.status : {};
      status.phase = "Pending";
      status.hostIP = hostIP;
      status.hostIPs = [{ ip: hostIP }];
      status.startTime = now;
      status.conditions = [
        condition("PodReadyToStartContainers", true, now),
        hasInit ? condition("Initialized", false, now, "ContainersNotInitialized") : condition("Initialized", true, now),
        condition("Ready", false, now, "ContainersNotReady"),
        condition("ContainersReady", false, now, "ContainersNotReady"),
        condition("PodScheduled", true, now),
      ];
      const waiting = (c: unknown, reason: string): JsonObject => {
        const rec = isRecord(c) ? c : {};
        return {
          name: rec.name,
          image: rec.image,
          imageID: "",
          ready: false,
          restartCount: 0,
          started: false,
          state: { waiting: { reason } },
        };
      };
      if (hasInit && Array.isArray(spec.initContainers)) {
        status.initContainerStatuses = spec.initContainers.map((c) => waiting(c, "PodInitializing"));
      }
      status.containerStatuses = (Array.isArray(spec.containers) ? spec.containers : []).map((c) =>
        waiting(c, hasInit ? "PodInitializing" : "ContainerCreating"),
      );
      pod.status = status;
    });
    await this.sleep(this.opts.startDelayMs ?? 0);
    const current = this.alive(ns, name, uid);
    if (!current || !this.on) return;
    const allocator = this.opts.podIP ?? "127.0.0.1";
    const allocatedIP = typeof allocator === "function" ? allocator(asPod(current)) : allocator;
    let result: PodRunningResult = {};
    try {
      result = (await this.opts.onPodRunning?.(clone(asPod(current)), { podIP: allocatedIP, nodeName })) ?? {};
    } catch (e) {
      if (this.alive(ns, name, uid)) this.fail(ns, name, "Error", e instanceof Error ? e.message : String(e));
      return;
    }
    if (!this.alive(ns, name, uid)) {
      // Deleted while starting: whatever the hook started must be stopped.
      this.started.set(uid, asPod(current));
      this.stopped(uid);
      return;
    }
    const podIP = result.podIP ?? allocatedIP;
    const ready = result.ready ?? this.opts.readyOnStart ?? true;
    const running = this.registry.mutate("pods", ns, name, (pod) => {
      const spec: JsonObject = isRecord(pod.spec) ? pod.spec : {};
      const status: JsonObject = isRecord(pod.status) ? pod.status : {};
      const at = rfc3339();
      status.phase = "Running";
      status.podIP = podIP;
      status.podIPs = [{ ip: podIP }];
      status.conditions = [
        condition("PodReadyToStartContainers", true, at),
        condition("Initialized", true, at),
        condition("Ready", ready, at, ready ? undefined : "ContainersNotReady"),
        condition("ContainersReady", ready, at, ready ? undefined : "ContainersNotReady"),
        condition("PodScheduled", true, at),
      ];
      const base = (c: unknown): JsonObject => {
        const rec = isRecord(c) ? c : {};
        const image = typeof rec.image === "string" ? rec.image : "";
        return { name: rec.name, image, imageID: imageID(image), containerID: containerID(), restartCount: 0 };
      };
      if (Array.isArray(spec.initContainers) && spec.initContainers.length > 0) {
        status.initContainerStatuses = spec.initContainers.map((c) => ({
          ...base(c),
          ready: true,
          started: false,
          state: { terminated: { exitCode: 0, reason: "Completed", startedAt: at, finishedAt: at } },
        }));
      }
      status.containerStatuses = (Array.isArray(spec.containers) ? spec.containers : []).map((c) => ({
        ...base(c),
        ready,
        started: true,
        state: { running: { startedAt: at } },
      }));
      pod.status = status;
    });
    if (running) this.started.set(uid, asPod(running));
  }

  private find(name: string, ref: PodRef): KubeObject {
    const matches = this.registry.store.list("pods", ref.namespace).filter((p) => p.metadata.name === name);
    const first = matches[0];
    if (!first) throw new Error(`pod ${ref.namespace ? `${ref.namespace}/` : ""}${name} not found`);
    if (matches.length > 1) throw new Error(`pod name ${name} is ambiguous: give its namespace`);
    return first;
  }

  private fail(ns: string | undefined, name: string, reason: string, message: string): KubeObject | undefined {
    return this.registry.mutate("pods", ns, name, (pod) => {
      const spec: JsonObject = isRecord(pod.spec) ? pod.spec : {};
      const status: JsonObject = isRecord(pod.status) ? pod.status : {};
      const at = rfc3339();
      status.phase = "Failed";
      status.message = message;
      status.reason = reason;
      status.conditions = [
        condition("PodReadyToStartContainers", false, at),
        condition("Initialized", true, at),
        condition("Ready", false, at, "PodFailed"),
        condition("ContainersReady", false, at, "PodFailed"),
        condition("PodScheduled", true, at),
      ];
      status.containerStatuses = (Array.isArray(spec.containers) ? spec.containers : []).map((c) => {
        const rec = isRecord(c) ? c : {};
        return {
          name: rec.name,
          image: rec.image,
          imageID: typeof rec.image === "string" ? imageID(rec.image) : "",
          containerID: containerID(),
          ready: false,
          started: false,
          restartCount: 0,
          state: { terminated: { exitCode: 1, reason, message, startedAt: at, finishedAt: at } },
        };
      });
      pod.status = status;
    });
  }

  /** Moves a pod to phase Failed (its containers terminated with exit code 1). */
  failPod(name: string, options: PodRef & { reason?: string; message?: string } = {}): WirePod {
    const pod = this.find(name, options);
    const out = this.fail(pod.metadata.namespace, name, options.reason ?? "Error", options.message ?? "container failed");
    if (!out) throw new Error(`pod ${name} vanished`);
    this.stopped(pod.metadata.uid ?? "");
    return asPod(out);
  }

  /** Flips readiness of a running pod (Ready, ContainersReady, containerStatuses[].ready). */
  setPodReady(name: string, ready: boolean, options: PodRef = {}): WirePod {
    const pod = this.find(name, options);
    const out = this.registry.mutate("pods", pod.metadata.namespace, name, (p) => {
      const status: JsonObject = isRecord(p.status) ? p.status : {};
      const at = rfc3339();
      if (Array.isArray(status.conditions)) {
        status.conditions = status.conditions.map((c) =>
          isRecord(c) && (c.type === "Ready" || c.type === "ContainersReady")
            ? condition(String(c.type), ready, at, ready ? undefined : "ContainersNotReady")
            : c,
        );
      }
      if (Array.isArray(status.containerStatuses)) {
        status.containerStatuses = status.containerStatuses.map((c) => (isRecord(c) ? { ...c, ready } : c));
      }
      p.status = status;
    });
    if (!out) throw new Error(`pod ${name} vanished`);
    return asPod(out);
  }

  /** Puts a pod's containers in a waiting state, e.g. ImagePullBackOff or CrashLoopBackOff. */
  setContainerWaiting(name: string, reason: string, message = "", options: PodRef = {}): WirePod {
    const pod = this.find(name, options);
    const out = this.registry.mutate("pods", pod.metadata.namespace, name, (p) => {
      const spec: JsonObject = isRecord(p.spec) ? p.spec : {};
      const status: JsonObject = isRecord(p.status) ? p.status : {};
      const at = rfc3339();
      status.conditions = [
        condition("PodReadyToStartContainers", true, at),
        condition("Initialized", true, at),
        condition("Ready", false, at, "ContainersNotReady"),
        condition("ContainersReady", false, at, "ContainersNotReady"),
        condition("PodScheduled", true, at),
      ];
      status.containerStatuses = (Array.isArray(spec.containers) ? spec.containers : []).map((c) => {
        const rec = isRecord(c) ? c : {};
        const waiting: JsonObject = { reason };
        if (message) waiting.message = message;
        return { name: rec.name, image: rec.image, imageID: "", ready: false, started: false, restartCount: 0, state: { waiting } };
      });
      p.status = status;
    });
    if (!out) throw new Error(`pod ${name} vanished`);
    return asPod(out);
  }
}
