// Programmable reverse proxy (fault injection) in front of a registry, and a "blob host" on a
// different loopback host name for cross-host redirect tests.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { request, type Dispatcher } from "undici-real";

export interface ProxyRequest {
  method: string;
  /** Path including the query string. */
  path: string;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** 1-based position of this request among all requests the proxy has seen. */
  index: number;
}

/**
 * What to do with a request. Fields combine, applied in this order:
 * `delayMs` (wait first) → `drop` (destroy the connection, no response) → `respond` (canned response,
 * upstream not contacted) → `redirect` (3xx to `redirect`, upstream not contacted) → otherwise forward
 * upstream, then `rewriteBody` / `removeHeaders` / `setHeaders` on the upstream response (other headers,
 * e.g. Docker-Content-Digest, are kept; Content-Length is recomputed).
 */
export interface ProxyAction {
  delayMs?: number;
  drop?: boolean;
  respond?: { status: number; headers?: Record<string, string>; body?: string | Uint8Array };
  redirect?: string;
  /** Redirect status (default 307). */
  redirectStatus?: number;
  rewriteBody?: (bytes: Uint8Array) => Uint8Array;
  removeHeaders?: string[];
  setHeaders?: Record<string, string>;
  /** Send the upstream headers (full Content-Length) and this many body bytes, then cut the connection. */
  cutAfterBytes?: number;
  /** Send the upstream body one byte every this many milliseconds (a registry that drips). */
  dripMs?: number;
}

export type OnRequest = (req: ProxyRequest) => ProxyAction | undefined;

export interface StartProxyOptions {
  /** Upstream base URL, e.g. reg.url. */
  upstream: string;
  /** Dispatcher used to reach the upstream (e.g. reg.dispatcher for a TLS registry). */
  dispatcher?: Dispatcher;
  /** Serve HTTPS with this PEM cert/key (e.g. a makeServerCert result). */
  tls?: { cert: string; key: string };
  onRequest?: OnRequest;
}

export interface TestProxy {
  /** "127.0.0.1:PORT" */
  host: string;
  /** http(s)://host */
  url: string;
  /** Requests as the clients sent them (check `headers.authorization`). */
  requests(): ProxyRequest[];
  clear(): void;
  setOnRequest(fn: OnRequest | undefined): void;
  /** TCP connections clients opened to the proxy. */
  connections(): number;
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
  "transfer-encoding", "upgrade", "host", "content-length", "http2-settings",
]);

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on("error", reject);
  });
}

interface Listening {
  server: Server;
  port: number;
  close(): Promise<void>;
  /** TCP connections accepted so far (keep-alive reuse shows as few connections for many requests). */
  connections(): number;
}

async function listen(
  tls: { cert: string; key: string } | undefined,
  hostname: string,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Listening> {
  const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
  const sockets = new Set<Socket>();
  let accepted = 0;
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  server.on("connection", (s: Socket) => {
    accepted++; // every TCP connection, TLS or not, fires this once
    track(s);
  });
  server.on("secureConnection", track);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, hostname, () => resolve());
  });
  const a = server.address();
  if (a === null || typeof a === "string") throw new Error("no address");
  return {
    server,
    port: a.port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export async function startProxy(opts: StartProxyOptions): Promise<TestProxy> {
  const upstream = new URL(opts.upstream);
  const log: ProxyRequest[] = [];
  let onRequest = opts.onRequest;
  let selfOrigin = "";

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const entry: ProxyRequest = { method, path, headers: flatHeaders(req.headers), index: log.length + 1 };
    log.push(entry);
    const body = await readBody(req);
    const action = onRequest?.({ ...entry, headers: { ...entry.headers } });

    if (action?.delayMs) await new Promise((r) => setTimeout(r, action.delayMs));
    if (action?.drop) {
      req.socket.destroy();
      return;
    }
    if (action?.respond) {
      const b = action.respond.body ?? "";
      const bytes = typeof b === "string" ? Buffer.from(b) : Buffer.from(b);
      res.writeHead(action.respond.status, { ...(action.respond.headers ?? {}), "content-length": String(bytes.length) });
      res.end(method === "HEAD" ? undefined : bytes);
      return;
    }
    if (action?.redirect !== undefined) {
      res.writeHead(action.redirectStatus ?? 307, { location: action.redirect, "content-length": "0" });
      res.end();
      return;
    }

    const fwdHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(entry.headers)) if (!HOP_BY_HOP.has(k) && !k.startsWith(":")) fwdHeaders[k] = v;
    const up = await request(new URL(path, upstream).toString(), {
      method: method as Dispatcher.HttpMethod,
      headers: fwdHeaders,
      ...(body.length > 0 || (method !== "GET" && method !== "HEAD") ? { body } : {}),
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    });
    let resBody: Uint8Array = new Uint8Array(await up.body.arrayBuffer());
    const out = flatHeaders(up.headers);
    const upstreamLength = out["content-length"];
    for (const k of Object.keys(out)) if (HOP_BY_HOP.has(k)) delete out[k];
    // Keep clients talking to the proxy: rewrite absolute upstream Locations (upload URLs).
    const loc = out.location;
    if (loc !== undefined && loc.startsWith(upstream.origin)) out.location = selfOrigin + loc.slice(upstream.origin.length);
    if (action?.rewriteBody) resBody = action.rewriteBody(resBody);
    for (const k of action?.removeHeaders ?? []) delete out[k.toLowerCase()];
    for (const [k, v] of Object.entries(action?.setHeaders ?? {})) out[k.toLowerCase()] = v;
    if (method === "HEAD") {
      if (upstreamLength !== undefined && out["content-length"] === undefined) out["content-length"] = upstreamLength;
      res.writeHead(up.statusCode, out);
      res.end();
      return;
    }
    if (out["content-length"] === undefined || action?.rewriteBody) out["content-length"] = String(resBody.length);
    res.writeHead(up.statusCode, out);
    if (action?.cutAfterBytes !== undefined) {
      res.write(Buffer.from(resBody.subarray(0, action.cutAfterBytes)), () => res.socket?.destroy());
      return;
    }
    if (action?.dripMs !== undefined) {
      for (let i = 0; i < resBody.length; i++) {
        if (res.destroyed || req.socket.destroyed) return;
        res.write(Buffer.from(resBody.subarray(i, i + 1)));
        await new Promise((r) => setTimeout(r, action.dripMs));
      }
      res.end();
      return;
    }
    res.end(Buffer.from(resBody));
  }

  const l = await listen(opts.tls, "127.0.0.1", (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`proxy error: ${e instanceof Error ? e.message : String(e)}`);
    });
  });
  const host = `127.0.0.1:${l.port}`;
  selfOrigin = `${opts.tls ? "https" : "http"}://${host}`;
  return {
    host,
    url: selfOrigin,
    requests: () => log.map((e) => ({ ...e, headers: { ...e.headers } })),
    clear: () => {
      log.length = 0;
    },
    setOnRequest: (fn) => {
      onRequest = fn;
    },
    connections: () => l.connections(),
    stop: () => l.close(),
  };
}

export interface BlobHost {
  /** Host name differs from the registry's "127.0.0.1" (127.0.0.2, or "localhost" as a fallback). */
  host: string;
  /** http://host */
  url: string;
  /** Serve `bytes` at `path` (e.g. "/blobs/sha256:..."); unknown paths get 404. */
  put(path: string, bytes: Uint8Array, contentType?: string): void;
  /** Requests received, with their headers (check that `authorization` is absent). */
  requests(): Array<{ method: string; path: string; headers: Record<string, string> }>;
  clear(): void;
  stop(): Promise<void>;
}

/** Plain-HTTP static server on a different loopback host name, recording received headers. */
export async function startBlobHost(files: Record<string, Uint8Array> = {}): Promise<BlobHost> {
  const store = new Map<string, { bytes: Uint8Array; type: string }>();
  for (const [p, b] of Object.entries(files)) store.set(p, { bytes: b, type: "application/octet-stream" });
  const log: Array<{ method: string; path: string; headers: Record<string, string> }> = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? "/";
    log.push({ method: req.method ?? "GET", path, headers: flatHeaders(req.headers) });
    const f = store.get(new URL(path, "http://x").pathname);
    if (!f) {
      res.writeHead(404, { "content-length": "0" });
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": f.type, "content-length": String(f.bytes.length) });
    res.end(req.method === "HEAD" ? undefined : Buffer.from(f.bytes));
  };
  let l: Listening;
  let hostname: string;
  try {
    l = await listen(undefined, "127.0.0.2", handler);
    hostname = "127.0.0.2";
  } catch {
    l = await listen(undefined, "127.0.0.1", handler);
    hostname = "localhost";
  }
  const host = `${hostname}:${l.port}`;
  return {
    host,
    url: `http://${host}`,
    put: (p, bytes, type = "application/octet-stream") => {
      store.set(p, { bytes, type });
    },
    requests: () => log.map((e) => ({ ...e, headers: { ...e.headers } })),
    clear: () => {
      log.length = 0;
    },
    stop: () => l.close(),
  };
}
