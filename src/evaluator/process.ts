/**
 * Runs one function process: the ResourceList on stdin, stdout and stderr
 * collected, a deadline and a cancel signal. The process leads its own
 * process group so that ending a call also ends whatever the function
 * started (a shell script's `sleep`, a pipeline): the whole group is killed
 * when the call ends for any reason (its main process exited, the deadline,
 * the caller went away, too much output) and on shutdown (`killAll`).
 *
 * Under Bun the process is started with `Bun.spawn`; elsewhere (Deno) with
 * node:child_process. Both start it the same way (its own session, stdio
 * pipes) and feed the same bookkeeping below; `Bun.spawn` costs less per
 * call than node:child_process's stream objects (docs/benchmarks.md,
 * "EvaluateFunction exec path: profile").
 */
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
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

/** What a started process reports, whichever API started it. */
interface ProcessEvents {
  stdout(chunk: Uint8Array): void;
  stderr(chunk: Uint8Array): void;
  exit(code: number | null, signal: string | null): void;
  /** The process exited and both pipes reached their end. */
  closed(): void;
  /** It never started (ENOENT, EACCES); reported once, instead of exit. */
  failed(message: string): void;
}

/** A started process. */
interface Started {
  /** Undefined when it never started. */
  readonly pid: number | undefined;
  /** Signals the process itself: the fallback when its group cannot be signalled. */
  killLeader(): void;
  /** Stops reading stdout and stderr: a process that left the group still holds them. */
  abandonPipes(): void;
}

/** Starts `program` in its own session and process group (setsid) with piped stdio; `stdin` is written and closed. */
export type Launcher = (program: string, args: readonly string[], stdin: Uint8Array, cwd: string | undefined, on: ProcessEvents) => Started;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** node:child_process: the portable way (Deno). */
export const nodeLauncher: Launcher = (program, args, stdin, cwd, on) => {
  const child = spawn(program, args, { detached: true, stdio: ["pipe", "pipe", "pipe"], cwd });
  child.stdout.on("data", (chunk: Buffer) => on.stdout(chunk));
  child.stderr.on("data", (chunk: Buffer) => on.stderr(chunk));
  child.on("error", (e: Error) => {
    // Without a pid the program never started (ENOENT, EACCES); later errors are failed kills.
    if (child.pid === undefined) on.failed(e.message);
  });
  child.on("exit", (code, signal) => on.exit(code, signal));
  child.on("close", () => on.closed());
  // A function may exit without reading its input: EPIPE is not an error of the call.
  child.stdin.on("error", () => {});
  child.stdin.end(Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength));
  return {
    get pid() {
      return child.pid;
    },
    killLeader: () => child.kill("SIGKILL"),
    abandonPipes: () => {
      child.stdout.destroy();
      child.stderr.destroy();
    },
  };
};

/** The part of Bun's API used here, typed locally: main.ts also type-checks without Bun's types (Deno). */
interface BunSubprocess {
  readonly pid: number;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  kill(signal?: number | string): void;
}
interface BunSpawnApi {
  spawn(opts: {
    cmd: string[];
    cwd?: string;
    stdin: Uint8Array;
    stdout: "pipe";
    stderr: "pipe";
    detached: boolean;
    onExit(proc: unknown, exitCode: number | null, signalCode: string | number | null): void;
  }): BunSubprocess;
}

/** Reads a pipe to its end, chunk by chunk; a cancelled reader ends it early. */
async function drain(stream: ReadableStream<Uint8Array>, onChunk: (chunk: Uint8Array) => void, readers: Set<ReadableStreamDefaultReader<Uint8Array>>): Promise<void> {
  const reader = stream.getReader();
  readers.add(reader);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onChunk(value);
    }
  } catch {
    // A pipe read error ends that pipe; the exit status still decides the call.
  } finally {
    readers.delete(reader);
  }
}

/** Bun.spawn: stdin written natively, no stream objects per pipe. */
export function bunLauncher(bun: BunSpawnApi): Launcher {
  return (program, args, stdin, cwd, on) => {
    let exited = false;
    let open = 2;
    const readers = new Set<ReadableStreamDefaultReader<Uint8Array>>();
    const maybeClosed = (): void => {
      if (exited && open === 0) on.closed();
    };
    let proc: BunSubprocess;
    try {
      proc = bun.spawn({
        cmd: [program, ...args],
        cwd,
        stdin,
        stdout: "pipe",
        stderr: "pipe",
        detached: true,
        onExit: (_p, code, signal) => {
          exited = true;
          on.exit(code, signal === null ? null : String(signal));
          maybeClosed();
        },
      });
    } catch (e) {
      // Bun throws at once when the program cannot start, with node:child_process's message.
      queueMicrotask(() => on.failed(message(e)));
      return { pid: undefined, killLeader: () => {}, abandonPipes: () => {} };
    }
    const pipeDone = (): void => {
      open--;
      maybeClosed();
    };
    void drain(proc.stdout, on.stdout, readers).then(pipeDone);
    void drain(proc.stderr, on.stderr, readers).then(pipeDone);
    return {
      pid: proc.pid,
      killLeader: () => proc.kill("SIGKILL"),
      abandonPipes: () => {
        for (const r of readers) void r.cancel().catch(() => {});
      },
    };
  };
}

const bunApi = (globalThis as { Bun?: BunSpawnApi }).Bun;
/** The launcher this runtime uses. */
export const defaultLauncher: Launcher = bunApi !== undefined ? bunLauncher(bunApi) : nodeLauncher;

function killGroup(child: Started, leaderGone = false): void {
  if (child.pid === undefined) return;
  try {
    // Negative pid: the process group the child leads (started in its own session).
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // An empty group once the leader has exited: nothing left, and its pid is no longer ours to signal.
    if (leaderGone) return;
    try {
      child.killLeader();
    } catch {
      // Already gone.
    }
  }
}

/** Function processes of one evaluator; `killAll` ends every one still running (shutdown). */
export class FunctionProcesses {
  readonly #running = new Set<Started>();
  readonly #launch: Launcher;

  constructor(launch: Launcher = defaultLauncher) {
    this.#launch = launch;
  }

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
      const stdout: Uint8Array[] = [];
      let stdoutBytes = 0;
      const stderr: Uint8Array[] = [];
      let stderrBytes = 0;
      let stderrDropped = 0;
      let killedFor: "deadline" | "aborted" | "stdout-too-large" | undefined;
      let exit: { code: number | null; signal: string | null } | undefined;
      let spawnError: string | undefined;
      let done = false;
      let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
      let waitTimer: ReturnType<typeof setTimeout> | undefined;
      // Set before any event can arrive: the launcher reports asynchronously.
      let child: Started | undefined;

      const stderrText = (): string => {
        const text = Buffer.concat(stderr).toString("utf8");
        return stderrDropped > 0 ? `${text}\n[${stderrDropped} more bytes of stderr dropped]` : text;
      };
      const kill = (why: NonNullable<typeof killedFor>): void => {
        killedFor ??= why;
        if (child !== undefined) killGroup(child);
      };
      // gRPC servers cancel a call when its deadline passes, racing our own timer: name it after the cause.
      const onAbort = (): void => kill(opts.deadline !== undefined && Date.now() >= opts.deadline - 5 ? "deadline" : "aborted");

      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(deadlineTimer);
        clearTimeout(waitTimer);
        opts.signal?.removeEventListener("abort", onAbort);
        if (child !== undefined) this.#running.delete(child);
        const ms = elapsed();
        if (spawnError !== undefined) resolve({ kind: "spawn-failed", error: spawnError, stderr: stderrText(), ms });
        else if (killedFor === "stdout-too-large") resolve({ kind: killedFor, limit: opts.maxStdoutBytes, stderr: stderrText(), ms });
        else if (killedFor !== undefined) resolve({ kind: killedFor, stderr: stderrText(), ms });
        else resolve({ kind: "exited", code: exit?.code ?? null, signal: exit?.signal ?? null, stdout: stdout.length === 1 ? (stdout[0] as Uint8Array) : Buffer.concat(stdout), stderr: stderrText(), ms });
      };

      const events: ProcessEvents = {
        stdout: (chunk) => {
          if (killedFor !== undefined) return;
          stdoutBytes += chunk.length;
          if (stdoutBytes > opts.maxStdoutBytes) kill("stdout-too-large");
          else stdout.push(chunk);
        },
        stderr: (chunk) => {
          const room = opts.maxStderrBytes - stderrBytes;
          if (room >= chunk.length) {
            stderr.push(chunk);
            stderrBytes += chunk.length;
          } else {
            if (room > 0) stderr.push(chunk.subarray(0, room));
            stderrBytes += Math.max(room, 0);
            stderrDropped += chunk.length - Math.max(room, 0);
          }
        },
        exit: (code, signal) => {
          exit = { code, signal };
          // Whatever the function started dies with it, even on a clean exit: a child that
          // redirected its stdio would otherwise keep running after every call.
          if (child !== undefined) killGroup(child, true);
          // Normally the pipes end at once; a process that left the group but holds them must not hold the call.
          waitTimer = setTimeout(() => {
            child?.abandonPipes();
            finish();
          }, WAIT_DELAY_MS);
        },
        closed: finish,
        failed: (error) => {
          spawnError = error;
          finish();
        },
      };

      try {
        child = this.#launch(program, args, opts.stdin, opts.cwd, events);
      } catch (e) {
        resolve({ kind: "spawn-failed", error: message(e), stderr: "", ms: elapsed() });
        return;
      }
      if (child.pid !== undefined) this.#running.add(child);

      if (budget !== undefined && budget <= MAX_TIMER_MS) deadlineTimer = setTimeout(() => kill("deadline"), budget);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
