import { spawn, type ChildProcess } from "node:child_process";
import { EvaluatorClient, HealthClient, type Msg } from "../support/porch-grpc.ts";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { stringify } from "yaml";

export const ROOT = join(import.meta.dir, "..", "..");
export const FIXTURES = join(ROOT, "test", "fixtures", "functions");
export const BUN = join(ROOT, "node_modules", ".bin", "bun");
export const fixture = (name: string): string => join(FIXTURES, name);

/** The ResourceList Porch would send to a set-namespace function (kpt's YAML layout). */
export const RESOURCE_LIST = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: app-config
    namespace: old
  data:
    namespace: not-metadata
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: app
  spec:
    replicas: 5
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: fn-config
  data:
    namespace: prod
`;

export const encode = (s: string): Uint8Array => new TextEncoder().encode(s);
export const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

export function tempDir(prefix = "fr-eval-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface ConfigEntry {
  image: string;
  binary: string;
  args?: string[];
}

/** Writes DIR/config.yaml and returns DIR. */
export function writeFunctionsConfig(dir: string, functions: ReadonlyArray<ConfigEntry | Record<string, unknown>>): string {
  writeFileSync(join(dir, "config.yaml"), stringify({ functions }));
  return dir;
}

export { NOT_SERVING, SERVING } from "../support/porch-grpc.ts";

type Unary = (r: Msg, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: Msg) => void) => void;

/** A Porch-like client: insecure channel, unary EvaluateFunction with a deadline, health Check. */
export class PorchClient {
  readonly #evaluator: grpc.Client;
  readonly #health: grpc.Client;

  constructor(address: string) {
    const insecure = grpc.credentials.createInsecure();
    // Porch raises the client's message limit to --max-request-body-size as well.
    const options = { "grpc.max_receive_message_length": 6 * 1024 * 1024, "grpc.max_send_message_length": 6 * 1024 * 1024 };
    this.#evaluator = new EvaluatorClient(address, insecure, options);
    this.#health = new HealthClient(address, insecure);
  }

  async evaluate(image: string, resourceList: string, deadlineMs = 10_000): Promise<{ resourceList: string; log: string }> {
    const res = await this.#call(this.#evaluator, "EvaluateFunction", { image, resource_list: Buffer.from(resourceList) }, deadlineMs);
    return { resourceList: decode(res.resource_list as Uint8Array), log: decode(res.log as Uint8Array) };
  }

  /** Starts a call the test can cancel, as Porch does when its own caller goes away. */
  evaluateCancellable(image: string, resourceList: string): { done: Promise<unknown>; cancel: () => void } {
    const fn = (this.#evaluator as unknown as Record<string, (req: Msg, opts: object, cb: (err: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall>).EvaluateFunction;
    if (!fn) throw new Error("no method EvaluateFunction");
    let call: grpc.ClientUnaryCall | undefined;
    const done = new Promise((resolve) => {
      call = fn.call(this.#evaluator, { image, resource_list: Buffer.from(resourceList) }, { deadline: Date.now() + 30_000 }, (err) => resolve(err));
    });
    return { done, cancel: () => call?.cancel() };
  }

  async check(service = "", deadlineMs = 5_000): Promise<number> {
    const res = await this.#call(this.#health, "Check", { service }, deadlineMs);
    return res.status as number;
  }

  close(): void {
    this.#evaluator.close();
    this.#health.close();
  }

  #call(client: grpc.Client, name: string, req: Msg, deadlineMs: number): Promise<Msg> {
    const fn = (client as unknown as Record<string, Unary>)[name];
    if (!fn) throw new Error(`no method ${name}`);
    return new Promise((resolve, reject) => {
      fn.call(client, req, { deadline: Date.now() + deadlineMs }, (err, value) => (err ? reject(err) : resolve(value ?? {})));
    });
  }
}

export async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

export interface SpawnedWrapper {
  proc: ChildProcess;
  port: number;
  address: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/** Starts a wrapper server process and learns its port from the "listening" log line. */
export async function spawnWrapper(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<SpawnedWrapper> {
  const proc = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString("utf8")));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    const m = /"msg":"wrapper-server listening","port":(\d+)/.exec(out);
    if (m) {
      const port = Number(m[1]);
      return {
        proc,
        port,
        address: `127.0.0.1:${port}`,
        output: () => out,
        exited,
        stop: async () => {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
          await exited;
        },
      };
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`${cmd} ${args.join(" ")} did not start serving:\n${out}`);
    }
    await Bun.sleep(20);
  }
}

/** True while a process with this pid runs; a zombie (killed, not yet reaped by init) counts as gone. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Format: "pid (comm) STATE ..."; comm may contain spaces, so read after the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (cond()) return true;
    await Bun.sleep(20);
  }
  return cond();
}
