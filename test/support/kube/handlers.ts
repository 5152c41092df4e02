// The HTTP layer: authentication (bearer token or client certificate), the
// URL → resource mapping, fault injection, an RBAC stand-in, JSON answers
// and the request log. Paths: /api/v1/namespaces/NS/RESOURCE[/NAME[/status]]
// and the same under /apis/GROUP/VERSION for Porch's custom resources.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { FaultInjector } from "./faults.ts";
import { patchTypeOf } from "./patch.ts";
import type { Registry } from "./registry.ts";
import type { RequestLog, RequestLogEntry } from "./request-log.ts";
import { resourceDef } from "./resources.ts";
import { ApiError, badRequest, internalError, methodNotAllowed, pathNotFound, rbacForbidden, unauthorized, unsupportedMediaType } from "./status.ts";
import { type RequestInfo, type Verb, isRecord } from "./types.ts";
import type { WatchHub } from "./watch.ts";

export interface AuthorizationAttributes extends RequestInfo {
  user: string;
}

export interface HandlerOptions {
  registry: Registry;
  faults: FaultInjector;
  log: RequestLog;
  watches: WatchHub;
  /** Bearer token → user name. */
  tokens: Map<string, string>;
  /** User name for a verified client certificate (undefined: client certificates not accepted). */
  clientCertUser: string | undefined;
  /** Return false to answer 403 Forbidden, as RBAC would. */
  authorize: ((attrs: AuthorizationAttributes) => boolean) | undefined;
}

const VERBS: Record<string, [Verb | undefined, Verb | undefined]> = {
  // method → [verb without a name, verb with a name]
  GET: ["list", "get"],
  POST: ["create", undefined],
  PUT: [undefined, "update"],
  PATCH: [undefined, "patch"],
  DELETE: [undefined, "delete"],
};

/** What a path addresses; `served` when it names a resource (and subresource) this server has. */
export function parseRequest(method: string, pathname: string, query: URLSearchParams): RequestInfo & { served: boolean } {
  const parts = pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
  const core = parts[0] === "api" && parts[1] === "v1";
  const apiVersion = core ? "v1" : parts[0] === "apis" ? `${parts[1]}/${parts[2]}` : "";
  const rest = parts.slice(core ? 2 : 3);
  const [nsWord, namespace, resource, name, subresource, ...extra] = rest;
  const def = resource === undefined ? undefined : resourceDef(resource, apiVersion);
  const served = nsWord === "namespaces" && def !== undefined && extra.length === 0 && (subresource === undefined || (subresource === "status" && def.hasStatus));
  const watch = query.get("watch") === "true" || query.get("watch") === "1";
  const verb = served ? VERBS[method]?.[name === undefined ? 0 : 1] : undefined;
  return { verb: verb === "list" && watch ? "watch" : verb, resource, subresource, namespace, name, served };
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.from(chunk as Uint8Array);
    // The real server's limit (3 MiB): a body past it is refused, never buffered.
    if ((size += buf.length) > 3 * 1024 * 1024) throw new BodyTooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): unknown {
  try {
    return text.trim() === "" ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function createRequestHandler(opts: HandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { registry, faults, log } = opts;

  return (req, res) => {
    void handle(req, res).catch((e: unknown) => {
      // Last resort: never leave a request hanging.
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json" }).end(JSON.stringify(internalError(String(e)).status));
      else res.end();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = new Date();
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "https://kube.invalid");
    const contentType = typeof req.headers["content-type"] === "string" ? req.headers["content-type"] : "";
    const info = parseRequest(method, url.pathname, url.searchParams);
    const { served: _served, ...requestInfo } = info;
    let user: string | undefined;
    let rawBody = "";
    let fault: RequestLogEntry["fault"];

    const record = (status: number, reason?: string): void =>
      log.push({
        time: started,
        durationMs: Date.now() - started.getTime(),
        method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        ...requestInfo,
        status,
        reason,
        user,
        contentType: contentType || undefined,
        body: parseJson(rawBody),
        fault,
        userAgent: req.headers["user-agent"],
      });
    const headers = { "Cache-Control": "no-cache, private" };
    const send = (code: number, body: unknown, extra: Record<string, string> = {}): void => {
      record(code, isRecord(body) && body.kind === "Status" && typeof body.reason === "string" ? body.reason : undefined);
      const text = JSON.stringify(body);
      res.writeHead(code, { ...headers, ...extra, "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)) });
      res.end(text);
    };

    try {
      const authz = req.headers.authorization;
      const bearer = typeof authz === "string" && /^Bearer\s+/i.test(authz) ? authz.replace(/^Bearer\s+/i, "").trim() : undefined;
      user = bearer !== undefined ? opts.tokens.get(bearer) : (req.socket as TLSSocket).authorized === true ? opts.clientCertUser : undefined;
      if (user === undefined) throw unauthorized();
      if (!info.served) throw pathNotFound();
      if (info.verb === undefined) throw methodNotAllowed();
      if (method !== "GET") {
        try {
          rawBody = await readBody(req);
        } catch (e) {
          if (e instanceof BodyTooLarge) throw new ApiError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Request entity too large: limit is 3145728", reason: "RequestEntityTooLarge", code: 413 });
          throw e;
        }
      }

      const decision = faults.decide(requestInfo);
      if (decision.latencyMs > 0) {
        fault = "latency";
        await new Promise((r) => setTimeout(r, decision.latencyMs));
      }
      if (decision.kind === "drop") {
        fault = "drop";
        record(0);
        req.socket.destroy();
        return;
      }
      if (decision.kind === "error") {
        fault = "status";
        if (!decision.plainText) throw decision.error;
        // As Go's http.Error: the message as text/plain.
        const text = `${decision.error.status.message ?? ""}\n`;
        record(decision.error.code);
        res.writeHead(decision.error.code, { ...headers, ...decision.error.headers, "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" });
        res.end(text);
        return;
      }
      if (opts.authorize && !opts.authorize({ ...requestInfo, user })) throw rbacForbidden(user, info.verb, info.resource ?? "", info.namespace, info.name);

      const resource = info.resource ?? "";
      const ns = info.namespace ?? "";
      const name = info.name ?? "";
      const patchType = (): "json" | "merge" => {
        const type = patchTypeOf(contentType);
        if (type === undefined) throw unsupportedMediaType(contentType);
        return type;
      };
      if (info.subresource === "status") {
        if (info.verb === "get") send(200, registry.get(resource, ns, name));
        else if (info.verb === "patch") send(200, registry.patchStatus(resource, ns, name, patchType(), rawBody));
        else throw methodNotAllowed();
        return;
      }
      switch (info.verb) {
        case "get":
          return send(200, registry.get(resource, ns, name));
        case "list":
          return send(200, registry.list(resource, ns, url.searchParams.get("labelSelector") ?? undefined));
        case "watch": {
          const labelSelector = url.searchParams.get("labelSelector") ?? undefined;
          registry.select(resource, ns, labelSelector); // a malformed selector is 400 before the stream starts
          const timeout = url.searchParams.get("timeoutSeconds");
          if (timeout !== null && !/^\d+$/.test(timeout)) throw badRequest(`invalid timeoutSeconds: ${JSON.stringify(timeout)}`);
          record(200);
          const resourceVersion = url.searchParams.get("resourceVersion") ?? undefined;
          opts.watches.serve({ resource, namespace: ns, labelSelector, resourceVersion, timeoutSeconds: timeout === null ? undefined : Number(timeout) }, res, headers);
          return;
        }
        case "create":
          return send(201, registry.create(resource, ns, rawBody));
        case "update":
          return send(200, registry.update(resource, ns, name, rawBody));
        case "patch":
          return send(200, registry.patch(resource, ns, name, patchType(), rawBody));
        case "delete": {
          const options = parseJson(rawBody);
          const pre = isRecord(options) && isRecord(options.preconditions) ? options.preconditions : {};
          const preconditions = {
            ...(typeof pre.uid === "string" ? { uid: pre.uid } : {}),
            ...(typeof pre.resourceVersion === "string" ? { resourceVersion: pre.resourceVersion } : {}),
          };
          return send(200, registry.delete(resource, ns, name, { preconditions }));
        }
      }
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError(e instanceof Error ? e.message : String(e));
      send(err.code, err.status, err.headers);
    }
  }
}
