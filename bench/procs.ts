// Child processes the benchmarks measure: a server started on free ports, its
// RSS, and start → ready polling.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { PorchClient, SERVING } from "../test/evaluator/helpers.ts";
import { liveChildren } from "./util.ts";
import { freePort } from "../test/support/free-port.ts";
export { freePort };


/** Resident set size of a process in MB (VmRSS), NaN when it is gone. */
export function rssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export interface Server {
  child: ChildProcess;
  httpPort: number;
  grpcPort: number;
  base: string;
  /** Everything the process wrote to stderr (capped), for the start-up milestones. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `bin` with `args` plus free --http-port/--port on 127.0.0.1; does not wait. */
export async function startServer(bin: string, args: string[], opts: { env?: NodeJS.ProcessEnv; keepStderr?: boolean } = {}): Promise<Server> {
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const child = spawn(bin, [...args, "--http-port", String(httpPort), "--port", String(grpcPort), "--listen-address", "127.0.0.1"], {
    stdio: ["ignore", "ignore", opts.keepStderr ? "pipe" : "ignore"],
    env: opts.env ?? process.env,
  });
  liveChildren.add(child);
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    if (err.length < 1 << 20) err += c.toString("utf8");
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    httpPort,
    grpcPort,
    base: `http://127.0.0.1:${httpPort}`,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await Promise.race([exited, Bun.sleep(5_000).then(() => child.kill("SIGKILL"))]);
      liveChildren.delete(child);
    },
  };
}

/** Polls GET `url` until 200, as fast as connections are refused. Returns ms since `started`. */
export async function until200(url: string, child: ChildProcess, started: number, timeoutMs = 15_000): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - started;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`${url}: the process exited ${child.exitCode} first`);
    if (performance.now() - started > timeoutMs) throw new Error(`${url}: no 200 within ${timeoutMs} ms`);
    await Bun.sleep(1);
  }
}

/** One grpc.health.v1 Check of the whole server: true when it answers SERVING. */
export async function healthServing(port: number): Promise<boolean> {
  const client = new PorchClient(`127.0.0.1:${port}`);
  try {
    return (await client.check("", 2_000)) === SERVING;
  } catch {
    return false;
  } finally {
    client.close();
  }
}
