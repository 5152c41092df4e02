/**
 * What every HTTP request passes through before and after Hono: the body cap,
 * one log line, one latency sample. Done here in one plain function rather
 * than as Hono middleware because each middleware layer costs measurably on
 * the cache-hit path (bench/http.ts), and this runs on every request.
 */
import { RunnerError } from "../errors.ts";
import { type Logger, withRequestId } from "../log.ts";
import type { FetchHandler } from "./listen.ts";
import type { Observer } from "../metrics/fast-histogram.ts";
import type { ServiceMetrics } from "../metrics/metrics.ts";
import { acceptRequestId, newRequestId, REQUEST_ID_HEADER } from "./request-id.ts";

export interface FrontOptions {
  /** --max-request-body-size */
  maxBodyBytes: number;
  /** Route patterns that may label metrics; anything else is "unmatched" (bounded cardinality). */
  routes: ReadonlySet<string>;
  logger: Logger;
  metrics: ServiceMetrics;
  /** --access-log: every request at info. Otherwise at debug, and 5xx answers at warn. */
  accessLog?: boolean;
  /** One route served without the app's router (the cache-hit resolve); it must answer errors itself. */
  direct?: { method: string; path: string; handler: FetchHandler };
}

/** Path of a request URL without building a URL object (hot path). */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start === -1) return "/";
  const q = url.indexOf("?", start);
  return q === -1 ? url.slice(start) : url.slice(start, q);
}

/** Methods that may label metrics: anything a client invents is "other". */
const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export const tooLarge = (max: number): Response =>
  Response.json(
    { error: new RunnerError("TOO_LARGE", `request body is larger than --max-request-body-size (${max} bytes)`).toJSON() },
    { status: 413 },
  );

/**
 * The request with its body capped at `max` bytes, or undefined when it is
 * larger. A declared Content-Length is checked without reading; a chunked
 * body is read up to the cap and no further.
 */
export async function capBody(req: Request, max: number): Promise<Request | undefined> {
  const declared = req.headers.get("content-length");
  if (declared !== null) return Number(declared) > max ? undefined : req;
  const body = req.body;
  if (body === null) return req;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const buf = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    buf.set(c, off);
    off += c.byteLength;
  }
  return new Request(req.url, { method: req.method, headers: req.headers, body: buf });
}

export function frontHandler(app: FetchHandler, opts: FrontOptions): FetchHandler {
  const { logger, metrics, maxBodyBytes, direct } = opts;
  // A line per request at info cost more than the rest of a cache hit (bench/http.ts): it is opt-in.
  const everyRequest = opts.accessLog === true ? logger.info : logger.enabled?.("debug") === false ? undefined : logger.debug;
  // One observer per label set, found without building a key string or an observer per request.
  const observers = new Map<string, Map<string, Map<number, Observer>>>();
  const observer = (method: string, route: string, status: number): Observer => {
    let byRoute = observers.get(method);
    if (byRoute === undefined) observers.set(method, (byRoute = new Map()));
    let byStatus = byRoute.get(route);
    if (byStatus === undefined) byRoute.set(route, (byStatus = new Map()));
    let o = byStatus.get(status);
    if (o === undefined) byStatus.set(status, (o = metrics.httpDuration.labels(method, route, String(status))));
    return o;
  };
  const finish = (method: string, path: string, status: number, started: number): void => {
    const ms = performance.now() - started;
    const route = opts.routes.has(path) ? path : "unmatched";
    observer(METHODS.has(method) ? method : "other", route, status).observe(ms / 1000);
    // Method, path, status, time: never headers, query strings or bodies.
    const log = status >= 500 ? logger.warn : everyRequest;
    if (log !== undefined) log("request", { method, path, status, ms: Math.round(ms * 10) / 10 });
  };

  const after = (method: string, path: string, started: number) => (res: Response): Response => {
    finish(method, path, res.status, started);
    return res;
  };
  const handle = (req: Request, method: string, path: string, started: number): Response | Promise<Response> => {
    const res = direct !== undefined && path === direct.path && method === direct.method ? direct.handler(req) : app(req);
    if (res instanceof Response) {
      finish(method, path, res.status, started);
      return res;
    }
    return res.then(after(method, path, started));
  };

  /** The request id on the answer; a Response with immutable headers is copied once. */
  const echo = (res: Response, id: string): Response => {
    try {
      res.headers.set(REQUEST_ID_HEADER, id);
      return res;
    } catch {
      const copy = new Response(res.body, res);
      copy.headers.set(REQUEST_ID_HEADER, id);
      return copy;
    }
  };

  // Not an async function: on the hot path (a declared length) this adds no promise of its own.
  const serve: FetchHandler = (req) => {
    const started = performance.now();
    const method = req.method;
    const path = pathOf(req.url);
    if (method === "GET" || method === "HEAD") return handle(req, method, path, started);
    // A declared length is checked without reading; only chunked bodies are read (up to the cap) here.
    const declared = req.headers.get("content-length");
    if (declared !== null) {
      if (Number(declared) <= maxBodyBytes) return handle(req, method, path, started);
      const res = tooLarge(maxBodyBytes);
      finish(method, path, res.status, started);
      return res;
    }
    return capBody(req, maxBodyBytes).then((capped) => {
      if (capped !== undefined) return handle(capped, method, path, started);
      const res = tooLarge(maxBodyBytes);
      finish(method, path, res.status, started);
      return res;
    });
  };

  // Every request runs as its own id: taken from x-request-id or made, echoed, on every log line.
  return (req) => {
    const id = acceptRequestId(req.headers.get(REQUEST_ID_HEADER)) ?? newRequestId();
    return withRequestId(id, () => {
      const res = serve(req);
      return res instanceof Response ? echo(res, id) : res.then((r) => echo(r, id));
    });
  };
}
