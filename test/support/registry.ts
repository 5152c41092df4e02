// Runs a REAL registry (Debian `docker-registry`, distribution v2.8.2) on 127.0.0.1 for tests.
//
// Modes:  "http"          plain HTTP, no auth
//         "tls-htpasswd"  HTTPS (test CA) + htpasswd/bcrypt Basic auth; any valid user may push/pull anything
//         "tls-token"     HTTPS + bearer-token auth via ./token-server.ts (policy documented there)
//
// Access log: parsed from the registry's own gorilla combined-log lines on stdout, e.g.
//   127.0.0.1 - - [02/Jan/2024:15:04:05 +0000] "GET /v2/x/manifests/latest HTTP/1.1" 200 528 "" "ua"
// The registry writes a line only after its handler returns, so `accessLog()`, `count()` and
// `clearLog()` first call `settle()`: a sentinel request (GET /v2/harness-sentinel/manifests/sN)
// whose line must show up; all sentinel lines are excluded from results.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, copyFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Agent, request } from "undici-real";
import { stringify } from "yaml";
import { makeCA, makeServerCert, makeSigningCert } from "./certs.ts";
import { startTokenServer, type TokenServer } from "./token-server.ts";
import { freePort } from "./free-port.ts";

export type RegistryMode = "http" | "tls-htpasswd" | "tls-token";

export interface StartRegistryOptions {
  mode: RegistryMode;
  /** Extra users (username → password), besides the admin. */
  users?: Record<string, string>;
  /** Admin credentials; default user "admin" with a random password. */
  admin?: { user: string; password: string };
  /** Token mode: `expires_in` / JWT lifetime in seconds (default 300; null omits `expires_in`). */
  tokenExpiresIn?: number | null;
  /** Token mode: refresh/identity token → username. */
  identityTokens?: Record<string, string>;
  /** Deep-merged into the generated registry config (YAML object). */
  extraConfig?: Record<string, unknown>;
}

export interface AccessLogEntry {
  method: string;
  /** Request path without the query string. */
  path: string;
  /** Query string without "?" ("" if none). */
  query: string;
  status: number;
  /** The registry's original log line. */
  raw: string;
}

export interface TestRegistry {
  mode: RegistryMode;
  /** "127.0.0.1:PORT" */
  host: string;
  /** http(s)://host */
  url: string;
  /** TLS modes: the test CA (PEM), a directory holding only `ca.crt`, and that file. */
  caPem?: string;
  caDir?: string;
  caFile?: string;
  adminUser: string;
  adminPassword: string;
  /** All users incl. the admin (username → password). */
  users: Record<string, string>;
  tokenServer?: TokenServer;
  /** undici-real Agent trusting the CA (plain Agent in http mode). */
  dispatcher: Agent;
  /** Temp dir holding config, certs and storage (removed on stop). */
  dir: string;
  /** Waits until every request answered so far is in the access log. */
  settle(): Promise<void>;
  /** Settled access log (sentinel lines excluded). */
  accessLog(): Promise<AccessLogEntry[]>;
  /** Settles, then forgets all lines so far. */
  clearLog(): Promise<void>;
  count(pred: (e: AccessLogEntry) => boolean): Promise<number>;
  stop(): Promise<void>;
}

const SENTINEL_REPO = "harness-sentinel";
const LINE_RE = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) /;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const cur = out[k];
    out[k] = isPlainObject(cur) && isPlainObject(v) ? deepMerge(cur, v) : v;
  }
  return out;
}


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function htpasswdLine(user: string, password: string): string {
  // -B bcrypt, -C 4 minimal cost (fast), -b password from argv, -n print to stdout.
  return execFileSync("htpasswd", ["-B", "-C", "4", "-b", "-n", user, password], { encoding: "utf8" }).trim();
}

export async function startRegistry(opts: StartRegistryOptions): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "regtest-"));
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    return await startIn(dir, opts, cleanups);
  } catch (e) {
    for (const c of cleanups.reverse()) await c();
    throw e;
  }
}

async function startIn(
  dir: string,
  opts: StartRegistryOptions,
  cleanups: Array<() => Promise<void> | void>,
): Promise<TestRegistry> {
  const admin = opts.admin ?? { user: "admin", password: `pw-${randomBytes(8).toString("hex")}` };
  const users: Record<string, string> = { ...(opts.users ?? {}), [admin.user]: admin.password };
  const tls = opts.mode !== "http";

  let caPem: string | undefined;
  let caDir: string | undefined;
  let caFile: string | undefined;
  let serverCert: { certFile: string; keyFile: string; certPem: string; keyPem: string } | undefined;
  if (tls) {
    const pki = join(dir, "pki");
    mkdirSync(pki);
    const ca = makeCA(pki, "Registry Test CA");
    serverCert = makeServerCert(ca, pki, ["127.0.0.1", "localhost", "::1"]);
    caDir = join(dir, "ca");
    mkdirSync(caDir);
    caFile = join(caDir, "ca.crt");
    copyFileSync(ca.certFile, caFile);
    caPem = ca.certPem;
  }
  const dispatcher = caPem !== undefined ? new Agent({ connect: { ca: caPem } }) : new Agent();
  cleanups.push(() => dispatcher.destroy());

  let tokenServer: TokenServer | undefined;
  let auth: Record<string, unknown> | undefined;
  if (opts.mode === "tls-htpasswd") {
    const file = join(dir, "htpasswd");
    writeFileSync(file, Object.entries(users).map(([u, p]) => htpasswdLine(u, p)).join("\n") + "\n");
    auth = { htpasswd: { realm: "test-registry", path: file } };
  } else if (opts.mode === "tls-token") {
    const tpki = join(dir, "token-pki");
    mkdirSync(tpki);
    const tokenCA = makeCA(tpki, "Token Signing CA");
    const signing = makeSigningCert(tokenCA, tpki);
    if (!serverCert) throw new Error("unreachable");
    tokenServer = await startTokenServer({
      tls: { cert: serverCert.certPem, key: serverCert.keyPem },
      signing,
      service: "test-registry",
      issuer: "test-token-issuer",
      users,
      admin: admin.user,
      identityTokens: opts.identityTokens ?? {},
      ...(opts.tokenExpiresIn !== undefined ? { expiresIn: opts.tokenExpiresIn } : {}),
    });
    const ts = tokenServer;
    cleanups.push(() => ts.stop());
    auth = {
      token: {
        realm: tokenServer.realm,
        service: tokenServer.service,
        issuer: tokenServer.issuer,
        rootcertbundle: tokenCA.certFile,
      },
    };
  }

  const storage = join(dir, "storage");
  mkdirSync(storage);

  // Access-log state.
  const entries: AccessLogEntry[] = [];
  const waiters = new Set<() => void>();
  let pending = "";
  let output = ""; // bounded tail of all output, for error messages
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString("utf8");
    output = (output + text).slice(-8000);
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const m = LINE_RE.exec(line);
      if (!m) continue;
      const uri = m[2] ?? "";
      const q = uri.indexOf("?");
      entries.push({
        method: m[1] ?? "",
        path: q < 0 ? uri : uri.slice(0, q),
        query: q < 0 ? "" : uri.slice(q + 1),
        status: Number(m[3]),
        raw: line,
      });
      for (const w of waiters) w();
    }
  };

  let child: ChildProcess | undefined;
  let port = 0;
  const killOnExit = (): void => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", killOnExit);
  cleanups.push(() => {
    process.off("exit", killOnExit);
  });

  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    const http: Record<string, unknown> = {
      addr: `127.0.0.1:${port}`,
      secret: randomBytes(16).toString("hex"),
      headers: { "X-Content-Type-Options": ["nosniff"] },
    };
    if (serverCert) http.tls = { certificate: serverCert.certFile, key: serverCert.keyFile };
    let config: Record<string, unknown> = {
      version: 0.1,
      log: { level: "warn", formatter: "text", accesslog: { disabled: false } },
      storage: {
        filesystem: { rootdirectory: storage },
        delete: { enabled: true },
        redirect: { disable: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http,
      health: { storagedriver: { enabled: false } },
      ...(auth ? { auth } : {}),
    };
    if (opts.extraConfig) config = deepMerge(config, opts.extraConfig);
    const cfgFile = join(dir, "config.yml");
    writeFileSync(cfgFile, stringify(config));

    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !k.startsWith("REGISTRY_") && !k.startsWith("OTEL_")) env[k] = v;
    }
    output = "";
    const proc = spawn("docker-registry", ["serve", cfgFile], { stdio: ["ignore", "pipe", "pipe"], env });
    child = proc;
    let exited = false;
    proc.on("exit", () => {
      exited = true;
    });
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    // Don't keep the test process alive; the exit hook kills the registry.
    proc.unref();
    for (const s of [proc.stdout, proc.stderr]) if (s && "unref" in s && typeof s.unref === "function") s.unref();

    const base = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
    const deadline = Date.now() + 15000;
    let ready = false;
    while (!exited && Date.now() < deadline) {
      try {
        const res = await request(`${base}/v2/`, { method: "GET", dispatcher });
        await res.body.dump();
        if (res.statusCode === 200 || res.statusCode === 401) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(30);
    }
    if (ready) break;
    proc.kill("SIGKILL");
    if (exited && /address already in use/i.test(output) && attempt < 5) continue;
    throw new Error(`docker-registry did not become ready on ${base}:\n${output}`);
  }
  const proc = child;
  if (!proc) throw new Error("unreachable");
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
        proc.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
        proc.kill("SIGTERM");
      }),
  );

  const host = `127.0.0.1:${port}`;
  const url = `${tls ? "https" : "http"}://${host}`;
  let seq = 0;
  let floor = 0; // index into `entries` where the visible log starts (clearLog)

  async function settle(): Promise<void> {
    const id = `s${++seq}`;
    const path = `/v2/${SENTINEL_REPO}/manifests/${id}`;
    const seen = (): boolean => entries.some((e, i) => i >= floor && e.path === path);
    const res = await request(`${url}${path}`, { method: "GET", dispatcher });
    await res.body.dump();
    if (seen()) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`access log: sentinel ${path} never appeared`));
      }, 5000);
      const check = (): void => {
        if (seen()) {
          clearTimeout(t);
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
    });
  }

  const visible = (): AccessLogEntry[] =>
    entries.slice(floor).filter((e) => !e.path.startsWith(`/v2/${SENTINEL_REPO}/`));

  // Start with an empty log (drop the readiness probes).
  await settle();
  floor = entries.length;

  let stopped = false;
  return {
    mode: opts.mode,
    host,
    url,
    ...(caPem !== undefined ? { caPem, caDir, caFile } : {}),
    adminUser: admin.user,
    adminPassword: admin.password,
    users,
    ...(tokenServer ? { tokenServer } : {}),
    dispatcher,
    dir,
    settle,
    accessLog: async () => {
      await settle();
      return visible().map((e) => ({ ...e }));
    },
    clearLog: async () => {
      await settle();
      floor = entries.length;
    },
    count: async (pred) => {
      await settle();
      return visible().filter(pred).length;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch {
          // best effort
        }
      }
    },
  };
}

