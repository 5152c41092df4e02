// URL → RequestInfo, as k8s.io/apiserver's RequestInfoFactory parses
// /api/v1/... paths (including the legacy /api/v1/watch/... prefix).
import { resourceDef } from "./resources.ts";
import type { RequestInfo, Verb } from "./types.ts";

export interface ParsedRequest extends RequestInfo {
  /** `v1` for /api/v1, `GROUP/VERSION` for /apis/GROUP/VERSION. */
  apiVersion: string | undefined;
  /** A path under /api/v1 that names a resource we serve. */
  isResource: boolean;
  /** Legacy /api/v1/watch/ prefix or ?watch=true. */
  watch: boolean;
}

function verbFor(method: string, hasName: boolean, watch: boolean): Verb | undefined {
  switch (method) {
    case "GET":
    case "HEAD":
      if (watch) return "watch";
      return hasName ? "get" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return hasName ? "delete" : "deletecollection";
    default:
      return undefined;
  }
}

export function parseRequest(method: string, pathname: string, query: URLSearchParams): ParsedRequest {
  const none: ParsedRequest = {
    apiVersion: undefined,
    verb: undefined,
    resource: undefined,
    subresource: undefined,
    namespace: undefined,
    name: undefined,
    isResource: false,
    watch: false,
  };
  const parts = pathname.split("/").filter((p) => p !== "").map((p) => decodeURIComponent(p));
  // /api/v1/... (core) or /apis/GROUP/VERSION/... (the custom resources served).
  let apiVersion: string;
  let rest: string[];
  if (parts[0] === "api" && parts[1] === "v1" && parts.length >= 3) {
    apiVersion = "v1";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 4) {
    apiVersion = `${parts[1]}/${parts[2]}`;
    rest = parts.slice(3);
  } else return none;
  let watch = false;
  if (rest[0] === "watch") {
    watch = true;
    rest = rest.slice(1);
  }
  const q = query.get("watch");
  if (q === "true" || q === "1") watch = true;

  let namespace: string | undefined;
  let resource: string | undefined;
  let name: string | undefined;
  let subresource: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    // /namespaces/{ns}/{resource}[/{name}[/{subresource}]]; /namespaces/{name}/status|finalize
    const maybeSub = rest[2];
    if (rest.length === 3 && (maybeSub === "status" || maybeSub === "finalize")) {
      resource = "namespaces";
      name = rest[1];
      subresource = maybeSub;
    } else {
      namespace = rest[1];
      resource = rest[2];
      name = rest[3];
      subresource = rest[4];
      if (rest.length > 5) return none;
    }
  } else {
    resource = rest[0];
    name = rest[1];
    subresource = rest[2];
    if (rest.length > 3) return none;
  }
  if (!resource || !resourceDef(resource, apiVersion)) return { ...none, resource, namespace, name, subresource };
  const def = resourceDef(resource, apiVersion);
  if (def && !def.namespaced && namespace !== undefined) return none;
  // A namespaced resource addressed by name must carry its namespace.
  if (def && def.namespaced && namespace === undefined && name !== undefined) return none;
  let verb = verbFor(method, name !== undefined, watch);
  // /api/v1/{namespaced resource} only lists and watches across namespaces.
  if (def && def.namespaced && namespace === undefined && verb !== "list" && verb !== "watch") verb = undefined;
  if (resource === "namespaces") namespace = undefined;
  return { apiVersion, verb, resource, subresource, namespace, name, isResource: true, watch };
}
