// The HTTP layer: authentication, fault injection, routing of /api/v1 to the
// registry, JSON encoding, the request log.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { randomUUID } from "node:crypto";
import type { V1APIResourceList } from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import type { FaultInjector } from "./faults.ts";
import { PATCH_TYPES, patchTypeOf } from "./patch.ts";
import type { DeleteRequest, ListRequest, Registry } from "./registry.ts";
import { RESOURCES } from "./resources.ts";
import type { RequestLog, RequestLogEntry } from "./request-log.ts";
import { type ParsedRequest, parseRequest } from "./routes.ts";
import {
  ApiError,
  badRequest,
  internalError,
  methodNotAllowed,
  pathNotFound,
  rbacForbidden,
  requestEntityTooLarge,
  unauthorized,
  unsupportedMediaType,
} from "./status.ts";
import { type KubeObject, type RequestInfo, isRecord } from "./types.ts";
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
  /** User name for a verified client certificate (undefined: client certs not accepted). */
  clientCertUser: string | undefined;
  /** Return false (or a reason) to answer 403 Forbidden, as RBAC would. */
  authorize: ((attrs: AuthorizationAttributes) => boolean) | undefined;
  maxRequestBodyBytes: number;
  gitVersion: string;
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function queryRecord(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params) out[k] = v;
  return out;
}

function parseJsonMaybe(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function intParam(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name);
  if (v === null || v === "") return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid ${name}: ${JSON.stringify(v)}: strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
}

function apiResourceList(): V1APIResourceList {
  return {
    kind: "APIResourceList",
    groupVersion: "v1",
    resources: RESOURCES.filter((r) => r.apiVersion === "v1").flatMap((r) => {
      const verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
      const main = {
        name: r.resource,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: r.resource === "namespaces" ? verbs.filter((v) => v !== "deletecollection") : verbs,
        shortNames: r.shortNames.length > 0 ? r.shortNames : undefined,
      };
      const status = r.hasStatus
        ? [{ name: `${r.resource}/status`, singularName: "", namespaced: r.namespaced, kind: r.kind, verbs: ["get", "patch", "update"] }]
        : [];
      return [main, ...status];
    }),
  } as V1APIResourceList;
}

export function createRequestHandler(opts: HandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { registry, faults, log } = opts;

  return (req, res) => {
    void handle(req, res).catch((e: unknown) => {
      // Last resort: never leave a request hanging.
      if (!res.headersSent) {
        const err = internalError(e instanceof Error ? e.message : String(e));
        res.writeHead(500, { "Content-Type": "application/json" });
        res.end(JSON.stringify(err.status));
      } else res.end();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = new Date();
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "https://kube.invalid");
    const pathname = url.pathname;
    const contentType = req.headers["content-type"];
    const auditId = randomUUID();
    const baseHeaders: Record<string, string> = { "Audit-Id": auditId, "Cache-Control": "no-cache, private" };
    const info: ParsedRequest = parseRequest(method, pathname, url.searchParams);
    let user: string | undefined;
    let rawBody = "";
    let fault: RequestLogEntry["fault"];

    const record = (status: number, reason: string | undefined): void => {
      log.push({
        time: started,
        durationMs: Date.now() - started.getTime(),
        method,
        path: pathname,
        query: queryRecord(url.searchParams),
        verb: info.verb,
        resource: info.resource,
        subresource: info.subresource,
        namespace: info.namespace,
        name: info.name,
        status,
        reason,
        user,
        contentType,
        body: parseJsonMaybe(rawBody),
        fault,
        userAgent: req.headers["user-agent"],
      });
    };

    const send = (code: number, body: unknown, extra: Record<string, string> = {}): void => {
      const reason = isRecord(body) && body.kind === "Status" && typeof body.reason === "string" ? body.reason : undefined;
      record(code, reason);
      const text = JSON.stringify(body);
      res.writeHead(code, { ...baseHeaders, ...extra, "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)) });
      res.end(method === "HEAD" ? undefined : text);
    };
    const sendError = (e: ApiError): void => send(e.code, e.status, e.headers);

    try {
      // Unauthenticated endpoints (system:public-info-viewer).
      if (method === "GET" && (pathname === "/healthz" || pathname === "/livez" || pathname === "/readyz")) {
        record(200, undefined);
        res.writeHead(200, { ...baseHeaders, "Content-Type": "text/plain; charset=utf-8" });
        res.end("ok");
        return;
      }
      if (method === "GET" && pathname === "/version") {
        const [major = "1", minor = "0"] = opts.gitVersion.replace(/^v/, "").split(".");
        send(200, {
          major,
          minor,
          gitVersion: opts.gitVersion,
          gitCommit: "0000000000000000000000000000000000000000",
          gitTreeState: "clean",
          buildDate: "2025-01-01T00:00:00Z",
          goVersion: "go1.24.0",
          compiler: "gc",
          platform: "linux/amd64",
        });
        return;
      }

      // Authentication: a known bearer token, else a verified client certificate.
      const authz = req.headers.authorization;
      const bearer = typeof authz === "string" && /^Bearer\s+/i.test(authz) ? authz.replace(/^Bearer\s+/i, "").trim() : undefined;
      if (bearer !== undefined) user = opts.tokens.get(bearer);
      if (user === undefined && bearer === undefined && opts.clientCertUser !== undefined) {
        const socket = req.socket as TLSSocket;
        if (socket.authorized === true) user = opts.clientCertUser;
      }
      if (user === undefined) {
        sendError(unauthorized());
        return;
      }

      if (method === "GET" && (pathname === "/api" || pathname === "/api/")) {
        const addr = req.socket.localAddress ?? "127.0.0.1";
        send(200, {
          kind: "APIVersions",
          versions: ["v1"],
          serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `${addr}:${req.socket.localPort ?? 443}` }],
        });
        return;
      }
      if (method === "GET" && (pathname === "/api/v1" || pathname === "/api/v1/")) {
        send(200, apiResourceList());
        return;
      }
      if (!info.isResource || info.verb === undefined) {
        if (info.isResource) {
          send(405, {
            kind: "Status",
            apiVersion: "v1",
            metadata: {},
            status: "Failure",
            message: "the server does not allow this method on the requested resource",
            reason: "MethodNotAllowed",
            details: {},
            code: 405,
          });
          return;
        }
        sendError(pathNotFound());
        return;
      }

      if (method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE") {
        try {
          rawBody = await readBody(req, opts.maxRequestBodyBytes);
        } catch (e) {
          if (e instanceof BodyTooLarge) {
            sendError(requestEntityTooLarge(opts.maxRequestBodyBytes));
            return;
          }
          throw e;
        }
      }

      // Fault injection.
      const decision = faults.decide({ ...info, method, path: pathname });
      if (decision.latencyMs > 0) {
        fault = "latency";
        await sleep(decision.latencyMs);
      }
      if (decision.kind === "drop") {
        fault = "drop";
        record(0, undefined);
        req.socket.destroy();
        return;
      }
      if (decision.kind === "error") {
        fault = "status";
        if (decision.plainText) {
          const e = decision.error;
          record(e.code, undefined);
          const text = `${e.status.message ?? ""}\n`;
          res.writeHead(e.code, {
            ...baseHeaders,
            ...e.headers,
            "Content-Type": "text/plain; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
            "Content-Length": String(Buffer.byteLength(text)),
          });
          res.end(text);
          return;
        }
        sendError(decision.error);
        return;
      }

      if (opts.authorize && !opts.authorize({ ...info, user })) {
        sendError(rbacForbidden(user, info.verb, info.resource ?? "", info.namespace, info.name));
        return;
      }

      await dispatch(info, url.searchParams, rawBody, typeof contentType === "string" ? contentType : "", send, res, baseHeaders, () =>
        record(200, undefined),
      );
    } catch (e) {
      if (e instanceof ApiError) sendError(e);
      else sendError(internalError(e instanceof Error ? e.message : String(e)));
    }
  }

  async function dispatch(
    info: ParsedRequest,
    params: URLSearchParams,
    rawBody: string,
    contentType: string,
    send: (code: number, body: unknown, extra?: Record<string, string>) => void,
    res: ServerResponse,
    baseHeaders: Record<string, string>,
    recordWatch: () => void,
  ): Promise<void> {
    const resource = info.resource ?? "";
    const ns = info.namespace;
    const name = info.name ?? "";
    const dryRun = params.getAll("dryRun").length > 0;
    if (dryRun && params.getAll("dryRun").some((v) => v !== "All")) {
      throw badRequest(`dryRun: Unsupported value: ${JSON.stringify(params.get("dryRun"))}: supported values: "All"`);
    }
    const listReq = (): ListRequest => {
      const req: ListRequest = {};
      const ls = params.get("labelSelector");
      const fs = params.get("fieldSelector");
      const limit = intParam(params, "limit");
      const cont = params.get("continue");
      if (ls !== null) req.labelSelector = ls;
      if (fs !== null) req.fieldSelector = fs;
      if (limit !== undefined) req.limit = limit;
      if (cont) req.continue = cont;
      return req;
    };
    const objectBody = (): string => {
      const mediaType = (contentType.split(";")[0] ?? "").trim().toLowerCase();
      if (mediaType === "" || mediaType === "application/json" || mediaType === "*/*") return rawBody;
      if (mediaType === "application/yaml") {
        try {
          return JSON.stringify(parseYaml(rawBody));
        } catch (e) {
          throw badRequest(`error converting YAML to JSON: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      throw unsupportedMediaType(contentType, ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]);
    };

    if (info.subresource !== undefined && info.subresource !== "status") {
      throw pathNotFound();
    }
    if (info.subresource === "status") {
      const def = RESOURCES.find((r) => r.resource === resource && r.apiVersion === info.apiVersion);
      if (!def?.hasStatus) throw pathNotFound();
      switch (info.verb) {
        case "get":
          send(200, registry.get(resource, ns, name));
          return;
        case "update": {
          const obj = JSON.parse(objectBody()) as unknown;
          if (!isRecord(obj) || !isRecord(obj.metadata)) throw badRequest("the object provided is unrecognized");
          send(200, registry.updateStatus(resource, ns, name, obj as KubeObject, dryRun));
          return;
        }
        case "patch": {
          const type = patchTypeOf(contentType);
          if (type === undefined || type === "apply") throw unsupportedMediaType(contentType, PATCH_TYPES);
          send(200, registry.patchStatus(resource, ns, name, type, rawBody, dryRun));
          return;
        }
        default:
          throw methodNotAllowed(info.verb ?? "", resource);
      }
    }

    switch (info.verb) {
      case "get":
        send(200, registry.get(resource, ns, name));
        return;
      case "list":
        send(200, registry.list(resource, ns, listReq()));
        return;
      case "watch": {
        const req = listReq();
        if (info.name !== undefined) {
          req.fieldSelector = [req.fieldSelector, `metadata.name=${info.name}`].filter((s) => s).join(",");
        }
        registry.select(resource, ns, { ...req, limit: undefined, continue: undefined }); // validates selectors
        recordWatch();
        opts.watches.serve(
          {
            ...req,
            resource,
            namespace: ns,
            resourceVersion: params.get("resourceVersion") ?? undefined,
            timeoutSeconds: intParam(params, "timeoutSeconds"),
            sendInitialEvents: params.get("sendInitialEvents") === "true",
            allowWatchBookmarks: params.get("allowWatchBookmarks") === "true",
          },
          res,
          baseHeaders,
        );
        return;
      }
      case "create":
        if (info.name !== undefined) throw methodNotAllowed("create", resource);
        send(201, registry.create(resource, ns, objectBody(), dryRun));
        return;
      case "update": {
        const { object, created } = registry.update(resource, ns, name, objectBody(), dryRun);
        send(created ? 201 : 200, object);
        return;
      }
      case "patch": {
        const type = patchTypeOf(contentType);
        if (type === undefined) throw unsupportedMediaType(contentType, PATCH_TYPES);
        if (type === "apply") {
          throw unsupportedMediaType(contentType, PATCH_TYPES.filter((t) => !t.startsWith("application/apply-patch")));
        }
        send(200, registry.patch(resource, ns, name, type, rawBody, dryRun));
        return;
      }
      case "delete": {
        const del = deleteRequest(rawBody, params, dryRun);
        const { body } = registry.delete(resource, ns, name, del);
        send(200, body);
        return;
      }
      case "deletecollection": {
        const del = deleteRequest(rawBody, params, dryRun);
        send(200, registry.deleteCollection(resource, ns, listReq(), del));
        return;
      }
      default:
        throw methodNotAllowed(String(info.verb), resource);
    }
  }

  function deleteRequest(rawBody: string, params: URLSearchParams, dryRun: boolean): DeleteRequest {
    const out: DeleteRequest = {};
    if (rawBody.trim() !== "") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(rawBody);
      } catch (e) {
        throw badRequest(`error decoding DeleteOptions: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (isRecord(parsed)) {
        if (typeof parsed.gracePeriodSeconds === "number") out.gracePeriodSeconds = parsed.gracePeriodSeconds;
        if (typeof parsed.propagationPolicy === "string") out.propagationPolicy = parsed.propagationPolicy;
        if (Array.isArray(parsed.dryRun) && parsed.dryRun.length > 0) out.dryRun = true;
        const pre = parsed.preconditions;
        if (isRecord(pre)) {
          out.preconditions = {};
          if (typeof pre.uid === "string") out.preconditions.uid = pre.uid;
          if (typeof pre.resourceVersion === "string") out.preconditions.resourceVersion = pre.resourceVersion;
        }
      }
    }
    const grace = intParam(params, "gracePeriodSeconds");
    if (grace !== undefined) out.gracePeriodSeconds = grace;
    const policy = params.get("propagationPolicy");
    if (policy) out.propagationPolicy = policy;
    if (dryRun) out.dryRun = true;
    return out;
  }
}

