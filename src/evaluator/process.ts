/**
 * Runs one function process: the ResourceList on stdin, stdout and stderr
 * collected, a deadline and a cancel signal. The process leads its own
 * process group so that ending a call also ends whatever the function
 * started (a shell script's `sleep`, a pipeline): the whole group is killed,
 * and killed again when the main process exits, however it exits.
 */
import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";

export interface RunOptions {
  /** The program and its arguments. */
  argv: readonly string[];
  stdin: Uint8Array;
  /** Epoch milliseconds; the process group is killed when it passes. */
  deadline?: number;
  /** Aborting kills the process group (the caller went away). */
  signal?: AbortSignal;
  /** More stdout than this kills the process group: the answer could not be sent anyway. */
  maxStdoutBytes: number;
  /** stderr beyond this is dropped (with a marker): it is a log for humans. */
  maxStderrBytes: number;
  cwd?: string;
}

export type RunOutcome =
  | { kind: "exited"; code: number | null; signal: string | null; stdout: Uint8Array; stderr: string; ms: number }
  | { kind: "spawn-failed"; error: string; stderr: string; ms: number }
  | { kind: "deadline"; stderr: string; ms: number }
  | { kind: "aborted"; stderr: string; ms: number }
  | { kind: "stdout-too-large"; limit: number; stderr: string; ms: number };

/** After the process exits, how long its pipes may stay open (a grandchild that kept them) before the group is killed. */
const WAIT_DELAY_MS = 500;
/** setTimeout's largest delay; a later deadline needs no timer at all. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function killGroup(child: ChildProcess, leaderGone = false): void {
  if (child.pid === undefined) return;
  try {
    // Negative pid: the process group the child leads (spawned detached).
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // An empty group once the leader has exited: nothing left, and its pid is no longer ours to signal.
    if (leaderGone) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Function processes of one evaluator; `killAll` ends every one still running (shutdown). */
export class FunctionProcesses {
  readonly #running = new Set<ChildProcess>();

  get size(): number {
    return this.#running.size;
  }

  killAll(): void {
    for (const child of this.#running) killGroup(child);
  }

  run(opts: RunOptions): Promise<RunOutcome> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    const [program, ...args] = opts.argv;
    if (program === undefined) return Promise.resolve({ kind: "spawn-failed", error: "no command to run", stderr: "", ms: 0 });
    if (opts.signal?.aborted) return Promise.resolve({ kind: "aborted", stderr: "", ms: 0 });
    const budget = opts.deadline === undefined ? undefined : opts.deadline - Date.now();
    if (budget !== undefined && budget <= 0) return Promise.resolve({ kind: "deadline", stderr: "", ms: 0 });

    return new Promise<RunOutcome>((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(program, args, { detached: true, stdio: ["pipe", "pipe", "pipe"], cwd: opts.cwd });
      } catch (e) {
        resolve({ kind: "spawn-failed", error: e instanceof Error ? e.message : String(e), stderr: "", ms: elapsed() });
        return;
      }
      this.#running.add(child);

      const stdout: Buffer[] = [];
      let stdoutBytes = 0;
      const stderr: Buffer[] = [];
      let stderrBytes = 0;
      let stderrDropped = 0;
      let killedFor: "deadline" | "aborted" | "stdout-too-large" | undefined;
      let exit: { code: number | null; signal: string | null } | undefined;
      let spawnError: string | undefined;
      let done = false;
      let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
      let waitTimer: ReturnType<typeof setTimeout> | undefined;

      const stderrText = (): string => {
        const text = Buffer.concat(stderr).toString("utf8");
        return stderrDropped > 0 ? `${text}\n[${stderrDropped} more bytes of stderr dropped]` : text;
      };
      const kill = (why: NonNullable<typeof killedFor>): void => {
        killedFor ??= why;
        killGroup(child);
      };
      // gRPC servers cancel a call when its deadline passes, racing our own timer: name it after the cause.
      const onAbort = (): void => kill(opts.deadline !== undefined && Date.now() >= opts.deadline - 5 ? "deadline" : "aborted");

      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(deadlineTimer);
        clearTimeout(waitTimer);
        opts.signal?.removeEventListener("abort", onAbort);
        this.#running.delete(child);
        const ms = elapsed();
        if (spawnError !== undefined) resolve({ kind: "spawn-failed", error: spawnError, stderr: stderrText(), ms });
        else if (killedFor === "stdout-too-large") resolve({ kind: killedFor, limit: opts.maxStdoutBytes, stderr: stderrText(), ms });
        else if (killedFor !== undefined) resolve({ kind: killedFor, stderr: stderrText(), ms });
        else resolve({ kind: "exited", code: exit?.code ?? null, signal: exit?.signal ?? null, stdout: Buffer.concat(stdout), stderr: stderrText(), ms });
      };

      child.stdout?.on("data", (chunk: Buffer) => {
        if (killedFor !== undefined) return;
        stdoutBytes += chunk.length;
        if (stdoutBytes > opts.maxStdoutBytes) kill("stdout-too-large");
        else stdout.push(chunk);
      });
      child.stderr?.on("data", (chunk: Buffer) => {
        const room = opts.maxStderrBytes - stderrBytes;
        if (room >= chunk.length) {
          stderr.push(chunk);
          stderrBytes += chunk.length;
        } else {
          if (room > 0) stderr.push(chunk.subarray(0, room));
          stderrBytes += Math.max(room, 0);
          stderrDropped += chunk.length - Math.max(room, 0);
        }
      });
      child.on("error", (e: Error) => {
        // Without a pid the program never started (ENOENT, EACCES); later errors are failed kills.
        if (child.pid === undefined) {
          spawnError = e.message;
          finish();
        }
      });
      child.on("exit", (code, signal) => {
        exit = { code, signal };
        // Whatever the function started dies with it, even on a clean exit: a child that
        // redirected its stdio would otherwise keep running after every call.
        killGroup(child, true);
        // Normally "close" follows at once; a process that left the group but holds the pipes must not hold the call.
        waitTimer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish();
        }, WAIT_DELAY_MS);
      });
      child.on("close", finish);

      // A function may exit without reading its input: EPIPE is not an error of the call.
      child.stdin?.on("error", () => {});
      child.stdin?.end(Buffer.from(opts.stdin.buffer, opts.stdin.byteOffset, opts.stdin.byteLength));

      if (budget !== undefined && budget <= MAX_TIMER_MS) deadlineTimer = setTimeout(() => kill("deadline"), budget);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
