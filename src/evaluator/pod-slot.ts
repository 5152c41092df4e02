/**
 * The pod cache's vocabulary (./pod-cache.ts): where a ready pod answers,
 * a slot (one pod instance of an image) and a pool (all slots of one image),
 * as everyone outside the cache sees them: read-only, since only the cache
 * changes them. Pure.
 */

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Where a ready pod answers, and what it was built from. */
export interface PodTarget {
  podName: string;
  podUid: string;
  podIP: string;
  serviceName: string;
  namespace: string;
  /** `fn.kpt.dev/template-version` of the pod. */
  templateVersion: string;
  /** host:port the gRPC client dials. */
  address: string;
  /** Whether the pod had an annotations map (JSON Patch needs to know). */
  hasAnnotations: boolean;
}

export type SlotState = "starting" | "ready";

/** One pod instance of a pool. */
export interface PodSlot {
  /** Pod id: label value and Service name. */
  readonly id: string;
  /** The ordinal in the pod id ("1", "2", ...). */
  readonly postfix: string;
  /** The pool's key. */
  readonly pool: string;
  readonly state: SlotState;
  /** Set once ready. */
  readonly target?: PodTarget;
  /** Requests waiting for the pod to start. */
  readonly waiting: number;
  /** Evaluations in flight on the pod. */
  readonly inFlight: number;
  readonly lastUsedMs: number;
  /** `fn.kpt.dev/reclaim-after` as this runner last wrote (or read) it, in ms. */
  readonly reclaimWrittenMs: number;
  /** When the pod and its Service were last checked against the cluster (-Infinity: never). */
  readonly validatedAtMs: number;
}

/** Everything for one function image. */
export interface FunctionPool {
  readonly key: string;
  /** The image as first requested (for logs). */
  readonly image: string;
  /** Pod id of instance `postfix`. */
  readonly slotId: (postfix: string) => string;
  /** By postfix. */
  readonly slots: ReadonlyMap<string, PodSlot>;
}

export type Choice =
  | { kind: "use"; slot: PodSlot }
  | { kind: "create"; postfix: string }
  | { kind: "full"; waiting: number };

/** A running pod found in the cluster at start-up, before any request asked for its image. */
export interface AdoptedPod {
  slotId: string;
  target: PodTarget;
  reclaimAfterMs: number;
}

/** Upstream's waitlist length: requests waiting for the pod plus evaluations on it. */
export const load = (s: PodSlot): number => s.waiting + s.inFlight;
