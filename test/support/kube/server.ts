// startKubeApiServer: an in-process, HTTPS, bearer-token Kubernetes API server
// for tests (core/v1 namespaces, pods, services, endpoints, secrets,
// podtemplates, serviceaccounts), with a request log, fault injection and a
// simulated kubelet.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:https";
import type { Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { stringify as toYaml } from "yaml";
import { type TestPki, generateTestPki } from "./certs.ts";
import { EndpointsController } from "./endpoints-controller.ts";
import { FaultInjector } from "./faults.ts";
import { type AuthorizationAttributes, createRequestHandler } from "./handlers.ts";
import { type KubeletOptions, SimulatedKubelet } from "./kubelet.ts";
import { Registry } from "./registry.ts";
import { RequestLog, type RequestLogEntry } from "./request-log.ts";
import { ObjectStore } from "./store.ts";
import { type KubeObject, clone } from "./types.ts";
import { WatchHub } from "./watch.ts";

export interface KubeApiServerOptions {
  /** The bearer token clients must present (default: random). */
  token?: string;
  /** User name the token authenticates as (default "test-user"). */
  tokenUser?: string;
  /** More accepted tokens: token → user name. */
  extraTokens?: Record<string, string>;
  /** Accept the generated client certificate as a second way in (default true). */
  clientCertAuth?: boolean;
  /** Namespaces created at start besides default, kube-system, kube-public, kube-node-lease. */
  namespaces?: string[];
  /** Run the simulated kubelet from the start (true, or its options). Default off. */
  kubelet?: boolean | KubeletOptions;
  /** Maintain Endpoints for Services with selectors (default true). */
  endpointsController?: boolean;
  /** DELETE of a running pod sets deletionTimestamp first; the kubelet removes it (default false: immediate). */
  gracefulPodDeletion?: boolean;
  /** Delay before a deleted namespace and its contents vanish (default 0). */
  namespaceDeletionDelayMs?: number;
  /** ServiceAccount admission on pods: default SA, existence check, token volume (default true). */
  serviceAccountAdmission?: boolean;
  /** RBAC stand-in: return false to answer 403 Forbidden. */
  authorize?: (attrs: AuthorizationAttributes) => boolean;
  /** Request bodies above this are answered 413 (default 3 MiB, as the real server). */
  maxRequestBodyBytes?: number;
  /** Reuse a PKI (e.g. to restart a server with the same CA). */
  pki?: TestPki;
  /** Port to listen on (default 0: a free one). */
  port?: number;
  gitVersion?: string;
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
  contextName?: string;
}

export interface KubeApiServer {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly caPem: string;
  readonly caPath: string;
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
  getObject<T = KubeObject>(resource: string, namespace: string | undefined, name: string): T | undefined;
  listObjects<T = KubeObject>(resource: string, namespace?: string): T[];
  /** Creates an object as a POST would (validation, defaulting, admission). */
  seed<T = KubeObject>(resource: string, obj: Record<string, unknown>, namespace?: string): T;
  createNamespace(name: string): KubeObject;
  /** Resolves when the kubelet and the endpoints controller have caught up. */
  settle(): Promise<void>;
  /** Polls the store until `predicate` holds for the object (resolves with it). */
  waitForObject<T = KubeObject>(
    resource: string,
    namespace: string | undefined,
    name: string,
    predicate: (obj: T) => boolean,
    timeoutMs?: number,
  ): Promise<T>;
  readonly openWatches: number;
  stop(): Promise<void>;
}

const DEFAULT_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const ownsPki = options.pki === undefined;
  const pki = options.pki ?? (await generateTestPki());
  const token = options.token ?? randomBytes(24).toString("hex");
  const tokens = new Map<string, string>([[token, options.tokenUser ?? "test-user"]]);
  for (const [t, u] of Object.entries(options.extraTokens ?? {})) tokens.set(t, u);

  const store = new ObjectStore();
  const registry = new Registry(store, {
    gracefulPodDeletion: options.gracefulPodDeletion ?? false,
    namespaceDeletionDelayMs: options.namespaceDeletionDelayMs ?? 0,
    serviceAccountAdmission: options.serviceAccountAdmission ?? true,
  });
  for (const ns of [...DEFAULT_NAMESPACES, ...(options.namespaces ?? [])]) {
    if (!store.has("namespaces", undefined, ns)) registry.create("namespaces", undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  }
  const faults = new FaultInjector();
  const log = new RequestLog();
  const watches = new WatchHub(registry);
  const kubelet = new SimulatedKubelet(registry);
  const endpoints = new EndpointsController(registry);
  if (options.endpointsController ?? true) endpoints.start();
  if (options.kubelet) kubelet.enable(options.kubelet === true ? {} : options.kubelet);

  const handler = createRequestHandler({
    registry,
    faults,
    log,
    watches,
    tokens,
    clientCertUser: options.clientCertAuth === false ? undefined : pki.clientUser,
    authorize: options.authorize,
    maxRequestBodyBytes: options.maxRequestBodyBytes ?? 3 * 1024 * 1024,
    gitVersion: options.gitVersion ?? "v1.33.0",
  });

  const server = createServer(
    {
      key: pki.serverKeyPem,
      cert: pki.serverCertPem,
      ca: pki.caPem,
      requestCert: options.clientCertAuth !== false,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
    },
    handler,
  );
  const sockets = new Set<Socket>();
  const trackSocket = (s: Socket): void => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  server.on("connection", trackSocket);
  server.on("secureConnection", trackSocket);
  // A client that aborts the TLS handshake must not crash the test process.
  server.on("tlsClientError", () => undefined);
  server.on("clientError", (_err: Error, socket: Socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  const kubeconfigYaml = (opts: KubeconfigOptions = {}): string => {
    const name = opts.contextName ?? "kube-test";
    const cluster: Record<string, string> = { server: url };
    if (opts.embedCA ?? true) cluster["certificate-authority-data"] = Buffer.from(pki.caPem).toString("base64");
    else cluster["certificate-authority"] = pki.caPath;
    const user: Record<string, string> =
      opts.auth === "clientCert"
        ? {
            "client-certificate-data": Buffer.from(pki.clientCertPem).toString("base64"),
            "client-key-data": Buffer.from(pki.clientKeyPem).toString("base64"),
          }
        : { token: opts.token ?? token };
    const context: Record<string, string> = { cluster: name, user: name };
    if (opts.namespace) context.namespace = opts.namespace;
    return toYaml({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name, cluster }],
      users: [{ name, user }],
      contexts: [{ name, context }],
      "current-context": name,
      preferences: {},
    });
  };

  let stopped = false;
  const api: KubeApiServer = {
    url,
    port,
    caPem: pki.caPem,
    caPath: pki.caPath,
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
    getObject<T>(resource: string, namespace: string | undefined, name: string): T | undefined {
      return store.get(resource, resource === "namespaces" ? undefined : namespace, name) as T | undefined;
    },
    listObjects<T>(resource: string, namespace?: string): T[] {
      return store.list(resource, namespace) as T[];
    },
    seed<T>(resource: string, obj: Record<string, unknown>, namespace?: string): T {
      const meta = obj.metadata;
      const ns = namespace ?? (typeof meta === "object" && meta !== null && "namespace" in meta ? String(meta.namespace) : undefined);
      return registry.create(resource, ns, clone(obj) as KubeObject) as T;
    },
    createNamespace(name) {
      return registry.create("namespaces", undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
    },
    async settle() {
      for (let i = 0; i < 10; i++) {
        await kubelet.whenIdle();
        await endpoints.whenIdle();
        await new Promise((r) => setTimeout(r, 0));
      }
    },
    async waitForObject<T>(
      resource: string,
      namespace: string | undefined,
      name: string,
      predicate: (obj: T) => boolean,
      timeoutMs = 5000,
    ): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const obj = store.get(resource, resource === "namespaces" ? undefined : namespace, name) as T | undefined;
        if (obj !== undefined && predicate(obj)) return obj;
        if (Date.now() > deadline) throw new Error(`${resource} ${namespace ?? ""}/${name}: condition not met within ${timeoutMs} ms`);
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
      registry.dispose();
      faults.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
      if (ownsPki) await pki.remove();
    },
  };
  return api;
}
