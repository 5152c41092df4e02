/**
 * The pod runtime's bookkeeping (docs/evaluation.md, "Reuse, TTL and garbage collection"):
 * which function pods this runner knows, how loaded each is, when each may
 * be reclaimed. Pure: no I/O and no timers; time comes from an injectable
 * clock, so TTL and garbage-collection rules are tested by moving a number.
 *
 * Vocabulary, following Porch's podCacheManager:
 * - a **pool** is everything for one function image (one reference pinned
 *   to one digest); its key is the pod id of its first pod;
 * - a **slot** is one pod instance of a pool, identified by its pod id
 *   (ordinal postfix 1..`maxParallel`), which is also the pod's
 *   `fn.kpt.dev/image` label and the name of its Service;
 * - a slot's **load** is the requests waiting for it to start plus the
 *   evaluations in flight on it (upstream's waitlist length).
 *
 * Choosing a pod is upstream's rule (./pod-choice.ts). Everything happens in
 * one synchronous step, so concurrent first requests for an image start
 * exactly one pod.
 *
 * The cache owns its slots and pools: callers see them read-only
 * (./pod-slot.ts) and change them only through its methods.
 */

import { choosePod } from "./pod-choice.ts";
import { type AdoptedPod, type Choice, type Clock, type FunctionPool, type PodSlot, type PodTarget, type SlotState, systemClock } from "./pod-slot.ts";

/** A slot as the cache keeps it: writable here only. */
type SlotRecord = { -readonly [K in keyof PodSlot]: PodSlot[K] };

interface PoolRecord extends FunctionPool {
  readonly slots: Map<string, SlotRecord>;
  /** Where the round-robin among equally loaded slots starts next. */
  rr: number;
}

export interface PodCacheOptions {
  clock?: Clock;
  /** `--pod-ttl`: an idle pod is reclaimed this long after its last use. */
  ttlMs: number;
  /** `--max-parallel-pods-per-function`. */
  maxParallel: number;
  /** `--max-waitlist-length`: load at which another pod is started (Porch's meaning). */
  maxWaitlist: number;
  /** `--max-pending-evaluations`: requests waiting for pods to start, per image; more are refused. */
  maxPending: number;
  /** `fn.kpt.dev/reclaim-after` is rewritten only when it would move by at least this much (default 60 s). */
  patchIntervalMs?: number;
  /** A ready slot is re-checked against the cluster when its last check is older than this (default 1 s). */
  validateAfterMs?: number;
  /**
   * Per-image settings (a FunctionConfig's podExecutor, a pod-cache-config
   * TTL) overriding the three flags above; read at each decision, so a
   * change applies to the next request.
   */
  settings?: (image: string) => ImageSettings | undefined;
}

export interface ImageSettings {
  ttlMs?: number;
  maxParallel?: number;
  maxWaitlist?: number;
}

export const DEFAULT_PATCH_INTERVAL_MS = 60_000;
export const DEFAULT_VALIDATE_AFTER_MS = 1_000;

export class PodCache {
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly maxParallel: number;
  readonly maxWaitlist: number;
  readonly maxPending: number;
  readonly patchIntervalMs: number;
  readonly validateAfterMs: number;
  private readonly pools = new Map<string, PoolRecord>();
  /** Slot id → pool key, for every slot of every pool. */
  private readonly owner = new Map<string, string>();
  /** Running pods found at start-up, waiting for a request for their image. */
  private readonly adopted = new Map<string, AdoptedPod>();
  /** The writable record behind each pool and slot handed out. */
  private readonly poolRecords = new WeakMap<FunctionPool, PoolRecord>();
  private readonly slotRecords = new WeakMap<PodSlot, SlotRecord>();

  private readonly settings: ((image: string) => ImageSettings | undefined) | undefined;

  constructor(opts: PodCacheOptions) {
    this.settings = opts.settings;
    this.clock = opts.clock ?? systemClock;
    this.ttlMs = opts.ttlMs;
    this.maxParallel = Math.max(1, opts.maxParallel);
    this.maxWaitlist = Math.max(0, opts.maxWaitlist);
    this.maxPending = Math.max(1, opts.maxPending);
    this.patchIntervalMs = opts.patchIntervalMs ?? DEFAULT_PATCH_INTERVAL_MS;
    this.validateAfterMs = opts.validateAfterMs ?? DEFAULT_VALIDATE_AFTER_MS;
  }

  now(): number {
    return this.clock.now();
  }

  /** TTL, parallel pods and waitlist for an image: its settings, else the flags. */
  paramsFor(image: string | undefined): { ttlMs: number; maxParallel: number; maxWaitlist: number } {
    const s = image === undefined ? undefined : this.settings?.(image);
    return {
      ttlMs: s?.ttlMs !== undefined && s.ttlMs > 0 ? s.ttlMs : this.ttlMs,
      maxParallel: s?.maxParallel !== undefined && s.maxParallel > 0 ? s.maxParallel : this.maxParallel,
      maxWaitlist: s?.maxWaitlist !== undefined && s.maxWaitlist > 0 ? s.maxWaitlist : this.maxWaitlist,
    };
  }

  /** The TTL of a slot's pool (the flag for a slot this runner does not know). */
  ttlOf(slot: PodSlot | undefined): number {
    return this.paramsFor(slot === undefined ? undefined : this.pools.get(slot.pool)?.image).ttlMs;
  }

  /** The pool of an image (created on first use); adopted pods of its slots join it as ready slots. */
  pool(key: string, image: string, slotId: (postfix: string) => string): FunctionPool {
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = { key, image, slotId, slots: new Map(), rr: 0 };
      this.pools.set(key, pool);
      this.poolRecords.set(pool, pool);
    }
    for (let i = 1; i <= this.paramsFor(image).maxParallel; i++) {
      const postfix = String(i);
      if (pool.slots.has(postfix)) continue;
      const id = slotId(postfix);
      const found = this.adopted.get(id);
      if (found === undefined) continue;
      this.adopted.delete(id);
      const slot = this.addSlot(pool, postfix, "starting");
      // Never validated: the first request checks it against the cluster.
      this.markReady(slot, found.target, found.reclaimAfterMs);
      this.invalidate(slot);
    }
    return pool;
  }

  /** Pools with at least one slot (for shutdown and tests). */
  allPools(): FunctionPool[] {
    return [...this.pools.values()];
  }

  /** Records a running pod found in the cluster; replaces an earlier record of the same slot. */
  adopt(pod: AdoptedPod): boolean {
    if (this.owner.has(pod.slotId)) return false;
    this.adopted.set(pod.slotId, pod);
    return true;
  }

  adoptedCount(): number {
    return this.adopted.size;
  }

  /** Upstream's choice: least-loaded pod, or a new one (./pod-choice.ts). */
  choose(of: FunctionPool): Choice {
    const pool = this.poolRecord(of);
    const { choice, rr } = choosePod(pool.slots, pool.rr, { ...this.paramsFor(pool.image), maxPending: this.maxPending });
    pool.rr = rr;
    return choice;
  }

  private addSlot(pool: PoolRecord, postfix: string, state: SlotState): PodSlot {
    const id = pool.slotId(postfix);
    const slot: SlotRecord = {
      id,
      postfix,
      pool: pool.key,
      state,
      waiting: 0,
      inFlight: 0,
      lastUsedMs: this.now(),
      reclaimWrittenMs: 0,
      validatedAtMs: Number.NEGATIVE_INFINITY,
    };
    pool.slots.set(postfix, slot);
    this.slotRecords.set(slot, slot);
    this.owner.set(id, pool.key);
    this.adopted.delete(id);
    return slot;
  }

  /** A slot whose pod is being started. */
  addStarting(pool: FunctionPool, postfix: string): PodSlot {
    return this.addSlot(this.poolRecord(pool), postfix, "starting");
  }

  private poolRecord(pool: FunctionPool): PoolRecord {
    const record = this.poolRecords.get(pool);
    if (record === undefined) throw new Error(`pod cache: pool ${pool.key} was not made by this cache`);
    return record;
  }

  private slotRecord(slot: PodSlot): SlotRecord {
    const record = this.slotRecords.get(slot);
    if (record === undefined) throw new Error(`pod cache: slot ${slot.id} was not made by this cache`);
    return record;
  }

  /** The pod answers: `reclaimAfterMs` is what its annotation says now. */
  markReady(slot: PodSlot, target: PodTarget, reclaimAfterMs: number): void {
    const s = this.slotRecord(slot);
    s.state = "ready";
    s.target = target;
    s.reclaimWrittenMs = reclaimAfterMs;
    s.validatedAtMs = this.now();
  }

  /**
   * Forgets a slot (its pod failed, vanished, is being replaced or was
   * reclaimed). An emptied pool goes too: callers fetch the pool with
   * `pool()` in the same synchronous step in which they choose from it.
   */
  remove(slot: PodSlot): void {
    const pool = this.pools.get(slot.pool);
    if (pool === undefined || pool.slots.get(slot.postfix) !== slot) return;
    pool.slots.delete(slot.postfix);
    this.owner.delete(slot.id);
    if (pool.slots.size === 0) this.pools.delete(pool.key);
  }

  /** The slot currently holding pod id `id`, if any. */
  slotById(id: string): PodSlot | undefined {
    const key = this.owner.get(id);
    if (key === undefined) return undefined;
    for (const s of this.pools.get(key)?.slots.values() ?? []) if (s.id === id) return s;
    return undefined;
  }

  isCurrent(slot: PodSlot): boolean {
    return this.pools.get(slot.pool)?.slots.get(slot.postfix) === slot;
  }

  needsValidation(slot: PodSlot): boolean {
    return this.now() - slot.validatedAtMs >= this.validateAfterMs;
  }

  validated(slot: PodSlot): void {
    this.slotRecord(slot).validatedAtMs = this.now();
  }

  /** Makes the next use check the pod against the cluster first (a call could not reach it). */
  invalidate(slot: PodSlot): void {
    this.slotRecord(slot).validatedAtMs = Number.NEGATIVE_INFINITY;
  }

  /** A request waits for the slot's pod to start. */
  queue(slot: PodSlot): void {
    this.slotRecord(slot).waiting++;
  }

  /** A request stopped waiting for the slot's pod (it started, failed, or the caller gave up). */
  dequeue(slot: PodSlot): void {
    this.slotRecord(slot).waiting--;
  }

  /** An evaluation starts on a ready slot. */
  begin(slot: PodSlot): void {
    const s = this.slotRecord(slot);
    s.inFlight++;
    s.lastUsedMs = this.now();
  }

  /**
   * An evaluation ended. Returns the reclaim-after (ms) to write to the pod
   * when the annotation lags the TTL by `patchIntervalMs` or more; the caller
   * writes it and reports back with `reclaimWritten`.
   */
  end(slot: PodSlot): number | undefined {
    const s = this.slotRecord(slot);
    s.inFlight = Math.max(0, s.inFlight - 1);
    s.lastUsedMs = this.now();
    return this.reclaimPatch(slot);
  }

  /** The reclaim-after to write now, if the annotation lags far enough behind the last use. */
  reclaimPatch(slot: PodSlot): number | undefined {
    if (slot.state !== "ready") return undefined;
    const wanted = this.desiredReclaimAfter(slot);
    return wanted - slot.reclaimWrittenMs >= this.patchIntervalMs ? wanted : undefined;
  }

  /** `ms` was written to the pod (or is being: callers record it first, so concurrent ends do not patch twice). */
  reclaimWritten(slot: PodSlot, ms: number): void {
    const s = this.slotRecord(slot);
    s.reclaimWrittenMs = Math.max(s.reclaimWrittenMs, ms);
  }

  /** Writing reclaim-after failed: the pod still says `previousMs`, so a later end patches again. */
  reclaimWriteFailed(slot: PodSlot, previousMs: number): void {
    this.slotRecord(slot).reclaimWrittenMs = previousMs;
  }

  /** Last use + TTL. */
  desiredReclaimAfter(slot: PodSlot): number {
    return slot.lastUsedMs + this.ttlOf(slot);
  }

  /** Reclaim-after for a newly created pod of `image` (now + its TTL). */
  newReclaimAfter(image?: string): number {
    return this.now() + this.paramsFor(image).ttlMs;
  }

  /** Whether the slot (by pod id) is busy here: requests waiting or evaluations running. */
  busy(id: string): boolean {
    const s = this.slotById(id);
    return s !== undefined && (s.inFlight > 0 || s.waiting > 0 || s.state === "starting");
  }
}
