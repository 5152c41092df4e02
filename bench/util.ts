// Small helpers for the resolve benchmark: statistics, bounded child processes, formatting.
import { spawn, type ChildProcess } from "node:child_process";

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  min: number;
  max: number;
}

export function summarize(xs: readonly number[]): Summary {
  if (xs.length === 0) return { n: 0, mean: Number.NaN, p50: Number.NaN, p90: Number.NaN, min: Number.NaN, max: Number.NaN };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
  return {
    n: s.length,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    p50: s.length % 2 === 1 ? (s[(s.length - 1) / 2] ?? Number.NaN) : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2,
    p90: at(0.9),
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
  };
}

export const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

export const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : "n/a");

export function fmtSummary(s: Summary): string {
  if (s.n === 0) return "no samples";
  return `mean ${ms(s.mean)}  p50 ${ms(s.p50)}  p90 ${ms(s.p90)}  min ${ms(s.min)}  max ${ms(s.max)}  (n=${s.n})`;
}

/** "4.2× faster" (theirs / ours), or "0.8× (slower)". */
export function speedup(ours: number, theirs: number): { factor: number; text: string } {
  const factor = theirs / ours;
  if (!Number.isFinite(factor)) return { factor, text: "n/a" };
  return { factor, text: factor >= 1 ? `${factor.toFixed(1)}× faster` : `${factor.toFixed(2)}× (slower)` };
}

export const mark = (met: boolean | undefined): string => (met === undefined ? "[n/a]" : met ? "[met]" : "[NOT met]");

export interface ProcResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit with all output read. */
  ms: number;
  timedOut: boolean;
  error?: string;
}

/** Children still running, so the watchdog can kill them. */
export const liveChildren = new Set<ChildProcess>();

const OUTPUT_CAP = 1 << 20;

/** Runs a process with a hard timeout; never rejects. */
export function runProcess(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<ProcResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let error: string | undefined;
    let child: ChildProcess;
    try {
      child = spawn(cmd, [...args], { env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      resolve({ code: null, signal: null, stdout, stderr, ms: 0, timedOut, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    liveChildren.add(child);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs);
    child.stdout?.on("data", (c: Buffer) => {
      if (stdout.length < OUTPUT_CAP) stdout += c.toString("utf8");
    });
    child.stderr?.on("data", (c: Buffer) => {
      if (stderr.length < OUTPUT_CAP) stderr += c.toString("utf8");
    });
    child.on("error", (e) => {
      error = e.message;
    });
    child.on("close", (code, signal) => {
      const elapsed = performance.now() - started;
      clearTimeout(timer);
      liveChildren.delete(child);
      resolve({ code, signal, stdout, stderr, ms: elapsed, timedOut, ...(error !== undefined ? { error } : {}) });
    });
  });
}

/** First non-empty line of a process's stderr (or its failure), for messages. */
export function firstLine(r: ProcResult): string {
  if (r.timedOut) return "timed out";
  if (r.error) return r.error;
  const line = r.stderr.split("\n").find((l) => l.trim() !== "") ?? `exit ${r.code ?? r.signal ?? "?"}`;
  return line.length > 240 ? `${line.slice(0, 240)}…` : line;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
