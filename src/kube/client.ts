/**
 * The Kubernetes client (docs/kubernetes.md):
 * @kubernetes/client-node 2.x configured from a located KubeSource
 * (./source.ts), with its HTTP replaced by ./http.ts (real undici, the
 * kubeconfig's CA / client certificate, rate limit, retries) so it works in
 * the compiled Bun binary, and with its errors turned into typed
 * KubeApiErrors (./errors.ts) naming the verb and resource.
 *
 * Authentication headers still come from client-node's KubeConfig (tokens,
 * token files re-read as they rotate, exec and auth-provider plugins); only
 * the transport is ours. A cluster `proxy-url` is not honoured (the runner
 * talks to its own cluster directly).
 */
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import {
  ApiException,
  CoreV1Api,
  type HttpMethod,
  KubeConfig,
  RequestContext,
  type SecurityAuthentication,
  ServerConfiguration,
  createConfiguration,
} from "@kubernetes/client-node";
import { Agent, request } from "undici-real";
import type { Logger } from "../log.ts";
import { TransportError, classifyTransportError } from "../http/request.ts";
import type { RetryPolicy } from "../http/retry.ts";
import { type KubeOperation, KubeApiError, isKubeApiError, isNotFound, kubeErrorFromStatus, kubeErrorFromTransport } from "./errors.ts";
import { DEFAULT_KUBE_RETRY, kubeHttpLibrary } from "./http.ts";
import { type Clock, DEFAULT_RATE_LIMIT, type RateLimit, RateLimiter, realClock } from "./rate-limit.ts";
import { type KubeSource, describeSource } from "./source.ts";

export interface KubeClientOptions {
  logger?: Logger;
  rateLimit?: RateLimit;
  retry?: RetryPolicy;
  clock?: Clock;
  userAgent?: string;
  /** Per request: connect, then headers and body (ms). Default 30 s. */
  requestTimeoutMs?: number;
}

export interface KubeClient {
  /** client-node's CoreV1Api over our transport. Call it through `call()` to get typed errors. */
  readonly core: CoreV1Api;
  /** `https://host:port` of the API server. */
  readonly server: string;
  readonly source: KubeSource;
  /** The kubeconfig context's namespace, or the in-cluster pod's namespace. */
  readonly contextNamespace: string | undefined;
  /** The bearer token's service account (`system:serviceaccount:NS:NAME`), when it is one. */
  readonly serviceAccount: { namespace: string; name: string } | undefined;
  /** Runs one API call; any failure comes out as a KubeApiError naming `op`. */
  call<T>(op: KubeOperation, fn: (core: CoreV1Api) => Promise<T>): Promise<T>;
  /** As `call`, but NotFound answers `undefined`. */
  find<T>(op: KubeOperation, fn: (core: CoreV1Api) => Promise<T>): Promise<T | undefined>;
  /**
   * A JSON request to any API path (custom resources: CoreV1Api does not
   * cover them) through the same transport, rate limit and retries; the
   * parsed answer, or a KubeApiError naming `op`. The caller validates the
   * answer's shape.
   */
  json(op: KubeOperation, req: JsonRequest): Promise<unknown>;
  /**
   * A watch (`?watch=true` on `path`): each event line, parsed, goes to
   * `onEvent` until the server ends the stream, `signal` aborts (resolves) or
   * the connection fails (rejects). A non-200 answer rejects with a
   * KubeApiError. Lines are capped at `maxEventBytes` (default 4 MiB).
   */
  watch(op: KubeOperation, req: WatchRequest, onEvent: (event: unknown) => void): Promise<void>;
  close(): Promise<void>;
}

export interface JsonRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Absolute API path, e.g. `/apis/config.porch.kpt.dev/v1alpha1/namespaces/NS/functionconfigs`. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** Default `application/json`; PATCH: e.g. `application/merge-patch+json`. */
  contentType?: string;
}

export interface WatchRequest {
  path: string;
  query?: Record<string, string>;
  signal: AbortSignal;
  maxEventBytes?: number;
}

/** The largest watch event line accepted: a bigger one is refused, never buffered without bound. */
export const DEFAULT_MAX_WATCH_EVENT_BYTES = 4 * 1024 * 1024;

function withQuery(server: string, path: string, query: Record<string, string> | undefined): string {
  const url = new URL(server + path);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  return url.toString();
}

type PemLike = string | Buffer | Array<string | Buffer> | undefined;

function single(value: PemLike | unknown): string | Buffer | undefined {
  if (Array.isArray(value)) return value.length > 0 ? Buffer.concat(value.map((v: string | Buffer) => Buffer.from(v))) : undefined;
  if (typeof value === "string" || Buffer.isBuffer(value)) return value;
  return undefined;
}

/** Reads the kubeconfig (or the in-cluster files) of `source`. Throws KUBE_UNAVAILABLE with the reason. */
export function loadKubeConfig(source: KubeSource): KubeConfig {
  const kc = new KubeConfig();
  try {
    switch (source.kind) {
      case "none":
        throw new Error(source.reason);
      case "flag":
      case "home":
        kc.loadFromFile(source.path);
        break;
      case "env": {
        const [first, ...rest] = source.paths;
        if (first === undefined) throw new Error("$KUBECONFIG names no file");
        kc.loadFromFile(first);
        for (const path of rest) {
          const more = new KubeConfig();
          more.loadFromFile(path);
          // As kubectl: the first file to set a value wins.
          kc.mergeConfig(more, true);
        }
        break;
      }
      case "in-cluster": {
        let namespace: string | undefined;
        try {
          namespace = readFileSync(source.namespacePath, "utf8").trim() || undefined;
        } catch {
          namespace = undefined;
        }
        kc.loadFromOptions({
          clusters: [{ name: "in-cluster", server: source.server, caFile: source.caPath, skipTLSVerify: false }],
          // client-node's tokenFile provider re-reads the projected token as the kubelet rotates it.
          users: [{ name: "in-cluster", authProvider: { name: "tokenFile", config: { tokenFile: source.tokenPath } } }],
          contexts: [{ name: "in-cluster", cluster: "in-cluster", user: "in-cluster", ...(namespace ? { namespace } : {}) }],
          currentContext: "in-cluster",
        });
        break;
      }
    }
  } catch (e) {
    throw new KubeApiError(
      "KUBE_UNAVAILABLE",
      "Unknown",
      { verb: "get", resource: "kubeconfig" },
      `cannot load the Kubernetes configuration from ${describeSource(source)}: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e, retryable: false },
    );
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) {
    throw new KubeApiError("KUBE_UNAVAILABLE", "Unknown", { verb: "get", resource: "kubeconfig" }, `${describeSource(source)} has no current cluster`, {
      retryable: false,
    });
  }
  return kc;
}

/** The service account a bearer token belongs to, from its (unverified) JWT claims; undefined for other tokens. */
export function serviceAccountOfToken(token: string): { namespace: string; name: string } | undefined {
  const payload = token.trim().split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    if (typeof claims !== "object" || claims === null) return undefined;
    const sub = (claims as Record<string, unknown>).sub;
    const m = typeof sub === "string" ? /^system:serviceaccount:([^:]+):([^:]+)$/.exec(sub) : null;
    return m?.[1] !== undefined && m[2] !== undefined ? { namespace: m[1], name: m[2] } : undefined;
  } catch {
    return undefined;
  }
}

/** Headers only (bearer token, basic auth, impersonation) from the KubeConfig; TLS is handled by our Agent. */
function headerAuthentication(kc: KubeConfig): SecurityAuthentication {
  return {
    getName: () => "kubeconfig headers",
    async applySecurityAuthentication(ctx: RequestContext): Promise<void> {
      const opts: RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      const headers = opts.headers === undefined || Array.isArray(opts.headers) ? {} : opts.headers;
      for (const [name, value] of Object.entries(headers)) {
        if (value !== undefined) ctx.setHeaderParam(name, Array.isArray(value) ? value.join(", ") : String(value));
      }
      if (typeof opts.auth === "string") ctx.setHeaderParam("Authorization", `Basic ${Buffer.from(opts.auth).toString("base64")}`);
    },
  };
}

export async function createKubeClient(source: KubeSource, opts: KubeClientOptions = {}): Promise<KubeClient> {
  const kc = loadKubeConfig(source);
  const cluster = kc.getCurrentCluster();
  const server = (cluster?.server ?? "").replace(/\/+$/, "");
  const tlsOpts: RequestOptions = {};
  try {
    await kc.applyToHTTPSOptions(tlsOpts);
  } catch (e) {
    throw new KubeApiError(
      "KUBE_UNAVAILABLE",
      "Unknown",
      { verb: "get", resource: "kubeconfig" },
      `cannot read the TLS or credential settings of ${describeSource(source)}: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e, retryable: false },
    );
  }
  const ca = single(tlsOpts.ca);
  const cert = single(tlsOpts.cert);
  const key = single(tlsOpts.key);
  const timeout = opts.requestTimeoutMs ?? 30_000;
  const dispatcher = new Agent({
    keepAliveTimeout: 30_000,
    connections: 16,
    headersTimeout: timeout,
    bodyTimeout: timeout,
    connect: {
      minVersion: "TLSv1.2",
      timeout: Math.min(timeout, 10_000),
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      ...(tlsOpts.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tlsOpts.rejectUnauthorized }),
      ...(typeof tlsOpts.servername === "string" ? { servername: tlsOpts.servername } : {}),
    },
  });
  const clock = opts.clock ?? realClock;
  const limiter = new RateLimiter(opts.rateLimit ?? DEFAULT_RATE_LIMIT, clock);
  const httpApi = kubeHttpLibrary({
    dispatcher,
    limiter,
    retry: opts.retry ?? DEFAULT_KUBE_RETRY,
    clock,
    logger: opts.logger,
    userAgent: opts.userAgent ?? "kpt-function-runner",
  });
  const auth = headerAuthentication(kc);
  const core = new CoreV1Api(createConfiguration({ baseServer: new ServerConfiguration(server, {}), authMethods: { default: auth }, httpApi }));

  const headers = tlsOpts.headers;
  const authorization = headers !== undefined && !Array.isArray(headers) ? (headers as Record<string, unknown>).Authorization : undefined;
  const bearer = typeof authorization === "string" ? /^Bearer (.+)$/.exec(authorization)?.[1] : undefined;
  const serviceAccount = bearer === undefined ? undefined : serviceAccountOfToken(bearer);
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;

  const call = async <T>(op: KubeOperation, fn: (api: CoreV1Api) => Promise<T>): Promise<T> => {
    try {
      return await fn(core);
    } catch (e) {
      throw toKubeError(op, e, server);
    }
  };
  return {
    core,
    server,
    source,
    contextNamespace,
    serviceAccount,
    call,
    async find<T>(op: KubeOperation, fn: (api: CoreV1Api) => Promise<T>): Promise<T | undefined> {
      try {
        return await call(op, fn);
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async json(op: KubeOperation, req: JsonRequest): Promise<unknown> {
      const ctx = new RequestContext(withQuery(server, req.path, req.query), req.method as HttpMethod);
      ctx.setHeaderParam("Accept", "application/json");
      if (req.body !== undefined) {
        ctx.setHeaderParam("Content-Type", req.contentType ?? "application/json");
        ctx.setBody(JSON.stringify(req.body));
      }
      let status: number;
      let text: string;
      try {
        await auth.applySecurityAuthentication(ctx);
        const res = await httpApi.send(ctx).toPromise();
        status = res.httpStatusCode;
        text = await res.body.text();
      } catch (e) {
        throw toKubeError(op, e, server);
      }
      let parsed: unknown;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (status >= 400) throw kubeErrorFromStatus(op, status, parsed, server);
      return parsed;
    },
    async watch(op: KubeOperation, req: WatchRequest, onEvent: (event: unknown) => void): Promise<void> {
      const ctx = new RequestContext(withQuery(server, req.path, { ...req.query, watch: "true" }), "GET");
      ctx.setHeaderParam("Accept", "application/json");
      ctx.setHeaderParam("User-Agent", opts.userAgent ?? "kpt-function-runner");
      await limiter.acquire();
      let res: Awaited<ReturnType<typeof request>>;
      try {
        await auth.applySecurityAuthentication(ctx);
        // Streamed: client-node's own Watch uses the bare "undici" fetch, Bun's stub under Bun (./http.ts).
        res = await request(ctx.getUrl(), { method: "GET", headers: ctx.getHeaders(), dispatcher, signal: req.signal, bodyTimeout: 0 });
      } catch (e) {
        if (req.signal.aborted) return;
        throw toKubeError(op, e, server);
      }
      if (res.statusCode !== 200) {
        const text = await res.body.text().catch(() => "");
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        throw kubeErrorFromStatus(op, res.statusCode, parsed, server);
      }
      const max = req.maxEventBytes ?? DEFAULT_MAX_WATCH_EVENT_BYTES;
      let pending = "";
      try {
        for await (const chunk of res.body) {
          pending += typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
          for (let nl = pending.indexOf("\n"); nl !== -1; nl = pending.indexOf("\n")) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            if (line !== "") onEvent(JSON.parse(line));
          }
          if (pending.length > max) throw new Error(`a watch event is larger than ${max} bytes`);
        }
      } catch (e) {
        if (req.signal.aborted) return;
        throw toKubeError(op, e, server);
      }
    },
    close: () => dispatcher.close(),
  };
}

/** Whatever client-node or the transport threw → KubeApiError. Never copies ApiException's message (it embeds the body). */
export function toKubeError(op: KubeOperation, e: unknown, server: string): KubeApiError {
  if (isKubeApiError(e)) return e;
  if (e instanceof ApiException) return kubeErrorFromStatus(op, e.code, e.body, server);
  const t = e instanceof TransportError ? e : classifyTransportError(e);
  return kubeErrorFromTransport(op, server, t.code, t.message, e);
}
