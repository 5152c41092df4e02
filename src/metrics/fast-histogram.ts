/**
 * A Prometheus histogram for the per-request HTTP latency. prom-client's
 * Histogram hashes its label object on every observe, which measured as the
 * largest single cost the metrics add to a cache-hit request; this one keeps
 * one counter array per label set and renders the text format at scrape time.
 */

interface Series {
  labels: string;
  counts: Float64Array;
  sum: number;
  count: number;
}

export interface Observer {
  observe(value: number): void;
}

const escapeLabel = (v: string): string => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export class FastHistogram {
  private readonly series = new Map<string, Series>();
  private readonly bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    this.bounds = [...buckets].sort((a, b) => a - b);
  }

  /** The observer for one label set (values in `labelNames` order); cheap to call repeatedly. */
  labels(...values: string[]): Observer {
    const key = values.join("\u0000");
    let s = this.series.get(key);
    if (s === undefined) {
      const labels = this.labelNames.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`).join(",");
      s = { labels, counts: new Float64Array(this.bounds.length), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    const series = s;
    const bounds = this.bounds;
    return {
      observe(value: number): void {
        series.sum += value;
        series.count++;
        // Counts are per bucket here and made cumulative when rendered.
        for (let i = 0; i < bounds.length; i++) {
          if (value <= (bounds[i] ?? Infinity)) {
            series.counts[i] = (series.counts[i] ?? 0) + 1;
            return;
          }
        }
      },
    };
  }

  /** Prometheus text exposition (version 0.0.4), as prom-client renders histograms. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i] ?? 0;
        lines.push(`${this.name}_bucket{${s.labels},le="${this.bounds[i]}"} ${acc}`);
      }
      lines.push(`${this.name}_bucket{${s.labels},le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum{${s.labels}} ${s.sum}`);
      lines.push(`${this.name}_count{${s.labels}} ${s.count}`);
    }
    return lines.join("\n");
  }
}
