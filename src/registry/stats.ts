/** What a registry call was for; the metrics label. */
export type RequestKind = "manifest" | "blob" | "token";

/** Counts registry requests by kind and outcome (HTTP status or transport error code). */
export class RequestStats {
  private readonly counts = new Map<string, number>();

  record(kind: RequestKind, outcome: string | number): void {
    const key = `${kind}:${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** `{ "manifest:200": 3, "token:401": 1, ... }` */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  total(kind?: RequestKind): number {
    let sum = 0;
    for (const [key, n] of this.counts) if (!kind || key.startsWith(`${kind}:`)) sum += n;
    return sum;
  }
}
