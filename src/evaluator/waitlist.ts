/**
 * The requests waiting for one function pod to start. The pod is started
 * once; every waiter gets its outcome. A waiter gives up alone at its own
 * deadline or cancellation without disturbing the start or the others (the
 * pod is still wanted by whoever asks next).
 */

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
  cleanup(): void;
}

export interface JoinOptions {
  /** Epoch ms after which this waiter stops waiting. */
  deadline?: number;
  signal?: AbortSignal;
  /** The error a waiter gets at its deadline. */
  onDeadline: () => Error;
  /** The error a waiter gets when its signal aborts. */
  onAbort?: () => Error;
}

export class Waitlist<T> {
  private readonly waiters = new Set<Waiter<T>>();
  private outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;

  /** Waiters still waiting. */
  get size(): number {
    return this.waiters.size;
  }

  get settled(): boolean {
    return this.outcome !== undefined;
  }

  join(opts: JoinOptions): Promise<T> {
    const done = this.outcome;
    if (done !== undefined) return done.ok ? Promise.resolve(done.value) : Promise.reject(done.error);
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => {
        waiter.cleanup();
        reject(opts.onAbort?.() ?? new Error("cancelled"));
      };
      const waiter: Waiter<T> = {
        resolve: (v) => {
          waiter.cleanup();
          resolve(v);
        },
        reject: (e) => {
          waiter.cleanup();
          reject(e);
        },
        cleanup: () => {
          this.waiters.delete(waiter);
          if (timer !== undefined) clearTimeout(timer);
          opts.signal?.removeEventListener("abort", onAbort);
        },
      };
      if (opts.signal?.aborted === true) {
        reject(opts.onAbort?.() ?? new Error("cancelled"));
        return;
      }
      this.waiters.add(waiter);
      if (opts.deadline !== undefined) {
        const ms = opts.deadline - Date.now();
        if (ms <= 0) {
          waiter.cleanup();
          reject(opts.onDeadline());
          return;
        }
        timer = setTimeout(() => {
          waiter.cleanup();
          reject(opts.onDeadline());
        }, ms);
      }
      opts.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  resolve(value: T): void {
    if (this.outcome !== undefined) return;
    this.outcome = { ok: true, value };
    for (const w of [...this.waiters]) w.resolve(value);
  }

  reject(error: unknown): void {
    if (this.outcome !== undefined) return;
    this.outcome = { ok: false, error };
    for (const w of [...this.waiters]) w.reject(error);
  }
}
