import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseCommandLine } from "../../src/config/config.ts";
import type { FunctionEvaluator } from "../../src/evaluator/types.ts";
import { memoryLogger } from "../../src/log.ts";
import { createRunner, type Runner } from "../../src/runner.ts";
import { startService, type Service } from "../../src/server/service.ts";

export const ROOT = join(import.meta.dir, "..", "..");
export const BINARY = join(ROOT, "dist", "function-runner");

export interface InProcess {
  runner: Runner;
  service: Service;
  logger: ReturnType<typeof memoryLogger>;
  /** http://127.0.0.1:PORT */
  base: string;
  grpcAddress: string;
  stop(): Promise<void>;
}

/** The real service in this process, on loopback with free ports. */
export async function startInProcess(args: string[] = [], opts: { evaluator?: FunctionEvaluator } = {}): Promise<InProcess> {
  const { config } = parseCommandLine(["--port", "0", "--http-port", "0", "--listen-address", "127.0.0.1", ...args]);
  const logger = memoryLogger();
  // No Kubernetes whatever the machine has (in-cluster env, ~/.kube/config): these tests are about the service.
  const runner = createRunner(config, logger, { kube: { env: {}, homeDir: "/nonexistent" } });
  if (opts.evaluator) runner.evaluator = opts.evaluator;
  const service = await startService(runner);
  return {
    runner,
    service,
    logger,
    base: `http://127.0.0.1:${service.httpPort}`,
    grpcAddress: `127.0.0.1:${service.grpcPort}`,
    stop: async () => {
      await service.stop(2_000);
      await runner.close();
    },
  };
}

export const postJson = (url: string, body: unknown, init: RequestInit = {}): Promise<Response> =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), ...init });

/** Builds dist/function-runner when a test runs without `npm test` having built it. */
export function ensureBinary(): string {
  if (!existsSync(BINARY)) {
    const r = spawnSync(join(ROOT, "node_modules", ".bin", "bun"), ["run", "build"], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  }
  return BINARY;
}

export interface Spawned {
  proc: ChildProcess;
  httpPort: number;
  grpcPort: number;
  /** Everything written to stderr so far (the JSON log). */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a command that serves, and waits for its "listening" log line to learn the ports. */
export async function spawnServing(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Spawned> {
  const proc = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => (err += d.toString("utf8")));
  proc.stdout?.on("data", (d: Buffer) => (err += d.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    const m = /"msg":"function-runner listening","httpPort":(\d+),"grpcPort":(\d+)/.exec(err);
    if (m) return { proc, httpPort: Number(m[1]), grpcPort: Number(m[2]), stderr: () => err, exited };
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`${cmd} did not start serving:\n${err}`);
    }
    await Bun.sleep(20);
  }
}

/** JSON log lines of a process or memory logger. */
export const logLines = (text: string | string[]): Array<Record<string, unknown>> =>
  (Array.isArray(text) ? text : text.split("\n"))
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
