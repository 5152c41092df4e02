// startKubeApiServer: an in-process HTTPS Kubernetes API server for tests,
// serving what the runner calls (see README.md), with a request log, fault
// injection, a simulated kubelet and an endpoints controller.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { stringify as toYaml } from "yaml";
import { type TestPki, generateTestPki } from "./certs.ts";
import { EndpointsController } from "./endpoints-controller.ts";
import { FaultInjector } from "./faults.ts";
import { type AuthorizationAttributes, createRequestHandler } from "./handlers.ts";
import { type KubeletOptions, SimulatedKubelet } from "./kubelet.ts";
import { Registry } from "./registry.ts";
import { RequestLog, type RequestLogEntry } from "./request-log.ts";
import { ObjectStore } from "./store.ts";
import type { KubeObject } from "./types.ts";
import { WatchHub } from "./watch.ts";

export interface KubeApiServerOptions {
  /** The bearer token clients must present (default: random); it authenticates as "test-user". */
  token?: string;
  /** More accepted tokens: token → user name (e.g. a service account's). */
  extraTokens?: Record<string, string>;
  /** Namespaces that exist besides "default". */
  namespaces?: string[];
  /** Run the simulated kubelet from the start (true, or its options). Default off. */
  kubelet?: boolean | KubeletOptions;
  /** RBAC stand-in: return false to answer 403 Forbidden. */
  authorize?: (attrs: AuthorizationAttributes) => boolean;
  /** Reuse a PKI (e.g. a second server with the same CA). */
  pki?: TestPki;
  /** History of the watch cache (default 2000 events): a watch from an older resourceVersion is 410 Expired. */
  watchHistory?: number;
}

export interface KubeconfigOptions {
  /** certificate-authority-data (default) or certificate-authority: <path>. */
  embedCA?: boolean;
  /** Bearer token (default) or the generated client certificate. */
  auth?: "token" | "clientCert";
  /** Default namespace of the context. */
  namespace?: string;
  /** Override the token written (e.g. a wrong one). */
  token?: string;
}

export interface KubeApiServer {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly caPem: string;
  readonly token: string;
  readonly pki: TestPki;
  kubeconfigYaml(opts?: KubeconfigOptions): string;
  writeKubeconfig(path: string, opts?: KubeconfigOptions): Promise<string>;
  requests(): RequestLogEntry[];
  clearRequests(): void;
  /** Waits for a logged request matching the predicate (past or future). */
  waitForRequest(predicate: (e: RequestLogEntry) => boolean, timeoutMs?: number): Promise<RequestLogEntry>;
  readonly faults: FaultInjector;
  readonly kubelet: SimulatedKubelet;
  /** Direct access for setup and assertions (bypasses HTTP, the log and faults). */
  readonly registry: Registry;
  readonly store: ObjectStore;
  /** A stored object (a copy) or undefined. */
  getObject<T = KubeObject>(resource: string, namespace: string, name: string): T | undefined;
  listObjects<T = KubeObject>(resource: string, namespace?: string): T[];
  /** Creates an object as a POST would (defaults, validation, server-set fields). */
  seed<T = KubeObject>(resource: string, obj: object, namespace?: string): T;
  createNamespace(name: string): void;
  /** Resolves when the kubelet and the endpoints controller have caught up. */
  settle(): Promise<void>;
  /** Polls the store until `predicate` holds for the object (resolves with it). */
  waitForObject<T = KubeObject>(resource: string, namespace: string, name: string, predicate: (obj: T) => boolean, timeoutMs?: number): Promise<T>;
  readonly openWatches: number;
  stop(): Promise<void>;
}

/** The user the generated client certificate authenticates as (Bun's TLS server cannot read the peer certificate's CN). */
const CLIENT_CERT_USER = "test-admin";

export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const ownsPki = options.pki === undefined;
  const pki = options.pki ?? (await generateTestPki(CLIENT_CERT_USER));
  const token = options.token ?? randomBytes(24).toString("hex");
  const tokens = new Map<string, string>([[token, "test-user"], ...Object.entries(options.extraTokens ?? {})]);

  const store = new ObjectStore(options.watchHistory);
  const registry = new Registry(store);
  for (const ns of ["default", ...(options.namespaces ?? [])]) registry.namespaces.add(ns);
  const faults = new FaultInjector();
  const log = new RequestLog();
  const watches = new WatchHub(registry);
  const kubelet = new SimulatedKubelet(registry);
  const endpoints = new EndpointsController(registry);
  if (options.kubelet) kubelet.enable(options.kubelet === true ? {} : options.kubelet);

  const handler = createRequestHandler({ registry, faults, log, watches, tokens, clientCertUser: pki.clientUser, authorize: options.authorize });
  const server = createServer(
    { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem, requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.2" },
    handler,
  );
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  server.on("connection", track);
  // A client that aborts the TLS handshake must not crash the test process.
  server.on("tlsClientError", () => undefined);
  server.on("clientError", (_e: Error, s: Socket) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  const kubeconfigYaml = (opts: KubeconfigOptions = {}): string => {
    const cluster = opts.embedCA === false ? { server: url, "certificate-authority": pki.caPath } : { server: url, "certificate-authority-data": Buffer.from(pki.caPem).toString("base64") };
    const user =
      opts.auth === "clientCert"
        ? { "client-certificate-data": Buffer.from(pki.clientCertPem).toString("base64"), "client-key-data": Buffer.from(pki.clientKeyPem).toString("base64") }
        : { token: opts.token ?? token };
    const context = { cluster: "kube-test", user: "kube-test", ...(opts.namespace ? { namespace: opts.namespace } : {}) };
    return toYaml({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "kube-test", cluster }],
      users: [{ name: "kube-test", user }],
      contexts: [{ name: "kube-test", context }],
      "current-context": "kube-test",
    });
  };

  let stopped = false;
  return {
    url,
    port,
    caPem: pki.caPem,
    token,
    pki,
    kubeconfigYaml,
    async writeKubeconfig(path, opts) {
      await writeFile(path, kubeconfigYaml(opts), { mode: 0o600 });
      return path;
    },
    requests: () => log.all(),
    clearRequests: () => log.clear(),
    waitForRequest: (predicate, timeoutMs) => log.waitFor(predicate, timeoutMs),
    faults,
    kubelet,
    registry,
    store,
    getObject: <T>(resource: string, namespace: string, name: string) => store.get(resource, namespace, name) as T | undefined,
    listObjects: <T>(resource: string, namespace?: string) => store.list(resource, namespace) as T[],
    seed<T>(resource: string, obj: object, namespace?: string): T {
      const meta = (obj as { metadata?: { namespace?: string } }).metadata;
      return registry.create(resource, namespace ?? meta?.namespace ?? "default", obj as KubeObject) as T;
    },
    createNamespace: (name) => void registry.namespaces.add(name),
    async settle() {
      for (let i = 0; i < 10; i++) {
        await kubelet.whenIdle();
        await endpoints.whenIdle();
        await new Promise((r) => setTimeout(r, 0));
      }
    },
    async waitForObject<T>(resource: string, namespace: string, name: string, predicate: (obj: T) => boolean, timeoutMs = 5000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const obj = store.get(resource, namespace, name) as T | undefined;
        if (obj !== undefined && predicate(obj)) return obj;
        if (Date.now() > deadline) throw new Error(`${resource} ${namespace}/${name}: condition not met within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    get openWatches() {
      return watches.openCount;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      watches.closeAll();
      kubelet.dispose();
      endpoints.stop();
      faults.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
      if (ownsPki) await pki.remove();
    },
  };
}
