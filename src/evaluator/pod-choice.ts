/**
 * Which pod serves the next request for an image: upstream's rule. The
 * least-loaded slot (round-robin among equals); a new pod is started when
 * there is none, or when even the best one carries `maxWaitlist` or more
 * and the pool has fewer than `maxParallel` pods; requests waiting for
 * starting pods beyond `maxPending` are refused. Pure.
 */
import { type Choice, load, type PodSlot } from "./pod-slot.ts";

export interface ChoiceLimits {
  maxParallel: number;
  maxWaitlist: number;
  maxPending: number;
}

/** The choice, and where the round-robin starts next time (`rr` unchanged when no slot was picked). */
export function choosePod(slotsByPostfix: ReadonlyMap<string, PodSlot>, rr: number, limits: ChoiceLimits): { choice: Choice; rr: number } {
  const slots = [...slotsByPostfix.values()];
  if (slots.length > 0) {
    const pending = slots.reduce((n, s) => n + (s.state === "starting" ? s.waiting : 0), 0);
    let min = Number.POSITIVE_INFINITY;
    for (const s of slots) min = Math.min(min, load(s));
    let best: PodSlot | undefined;
    for (let i = 0; i < slots.length; i++) {
      const idx = (rr + i) % slots.length;
      const s = slots[idx];
      if (s !== undefined && load(s) === min) {
        best = s;
        rr = (idx + 1) % slots.length;
        break;
      }
    }
    const scale = best === undefined || (min >= limits.maxWaitlist && slots.length < limits.maxParallel);
    if (!scale && best !== undefined) {
      if (best.state === "starting" && pending >= limits.maxPending) return { choice: { kind: "full", waiting: pending }, rr };
      return { choice: { kind: "use", slot: best }, rr };
    }
  }
  const postfix = freePostfix(slotsByPostfix, limits.maxParallel);
  return { choice: postfix === undefined ? { kind: "full", waiting: 0 } : { kind: "create", postfix }, rr };
}

/** The lowest ordinal 1..maxParallel without a slot. */
function freePostfix(slots: ReadonlyMap<string, PodSlot>, maxParallel: number): string | undefined {
  for (let i = 1; i <= maxParallel; i++) {
    const p = String(i);
    if (!slots.has(p)) return p;
  }
  return undefined;
}
