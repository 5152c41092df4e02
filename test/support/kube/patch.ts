// The three PATCH flavours the API server accepts for built-in types:
// JSON Patch (RFC 6902, client-node's default), JSON Merge Patch (RFC 7386)
// and strategic merge patch (merge keys of the core/v1 types we serve).
import type { V1Status } from "@kubernetes/client-node";
import { ApiError, badRequest } from "./status.ts";
import { type JsonObject, clone, isRecord, jsonEqual } from "./types.ts";

export const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/apply-patch+yaml",
  "application/apply-patch+cbor",
] as const;

export type PatchType = "json" | "merge" | "strategic";

/** A patch that parses but cannot be applied: 422 with the patch library's message. */
function patchFailed(message: string): ApiError {
  const status: V1Status = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: "Invalid",
    details: { causes: [{ message }] },
    code: 422,
  };
  return new ApiError(status);
}

// ---------- RFC 7386 ----------

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const result: JsonObject = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

// ---------- RFC 6902 ----------

function decodePointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw patchFailed(`JSON pointer ${JSON.stringify(path)} must start with "/"`);
  return path
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

type Container = JsonObject | unknown[];

function resolveParent(doc: unknown, tokens: string[], op: string, path: string): { parent: Container; key: string } {
  let node: unknown = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isRecord(node)) node = node[token];
    else node = undefined;
    if (node === undefined) throw patchFailed(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
  }
  if (!Array.isArray(node) && !isRecord(node)) {
    throw patchFailed(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
  }
  return { parent: node, key: tokens[tokens.length - 1] ?? "" };
}

function arrayIndex(arr: unknown[], key: string, allowEnd: boolean, op: string, path: string): number {
  if (key === "-" && allowEnd) return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw patchFailed(`${op} operation does not apply: invalid index ${JSON.stringify(key)} for ${path}`);
  const i = Number(key);
  if (i > arr.length || (!allowEnd && i === arr.length)) {
    throw patchFailed(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: unable to access invalid index: ${i}`);
  }
  return i;
}

function getAt(doc: unknown, path: string, op: string): unknown {
  let node: unknown = doc;
  for (const token of decodePointer(path)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isRecord(node)) node = node[token];
    else node = undefined;
    if (node === undefined) throw patchFailed(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
  }
  return node;
}

function addAt(doc: unknown, path: string, value: unknown, op = "add"): unknown {
  const tokens = decodePointer(path);
  if (tokens.length === 0) return clone(value);
  const { parent, key } = resolveParent(doc, tokens, op, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true, op, path), 0, clone(value));
  else parent[key] = clone(value);
  return doc;
}

function removeAt(doc: unknown, path: string, op = "remove"): unknown {
  const tokens = decodePointer(path);
  const { parent, key } = resolveParent(doc, tokens, op, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false, op, path), 1);
  else {
    if (!(key in parent)) throw patchFailed(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
    delete parent[key];
  }
  return doc;
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let doc = clone(target);
  for (const raw of ops) {
    if (!isRecord(raw)) throw badRequest("json: cannot unmarshal into Go value of type jsonpatch.Operation");
    const op = typeof raw.op === "string" ? raw.op : "";
    const path = typeof raw.path === "string" ? raw.path : "";
    const from = typeof raw.from === "string" ? raw.from : "";
    switch (op) {
      case "add":
        doc = addAt(doc, path, raw.value);
        break;
      case "remove":
        doc = removeAt(doc, path);
        break;
      case "replace":
        getAt(doc, path, "replace");
        doc = removeAt(doc, path, "replace");
        doc = addAt(doc, path, raw.value, "replace");
        break;
      case "move": {
        const value = getAt(doc, from, "move");
        doc = removeAt(doc, from, "move");
        doc = addAt(doc, path, value, "move");
        break;
      }
      case "copy":
        doc = addAt(doc, path, getAt(doc, from, "copy"), "copy");
        break;
      case "test":
        if (!jsonEqual(getAt(doc, path, "test"), raw.value)) throw patchFailed(`testing value ${path} failed: test failed`);
        break;
      default:
        throw patchFailed(`Unexpected kind: ${op}`);
    }
  }
  return doc;
}

// ---------- strategic merge patch ----------

/** patchMergeKey of list fields in core/v1 (by field name). */
function mergeKeyFor(field: string, sample: JsonObject | undefined): string | undefined {
  switch (field) {
    case "containers":
    case "initContainers":
    case "ephemeralContainers":
    case "volumes":
    case "env":
    case "imagePullSecrets":
    case "secrets":
      return "name";
    case "volumeMounts":
      return "mountPath";
    case "volumeDevices":
      return "devicePath";
    case "ports":
      return sample && "containerPort" in sample ? "containerPort" : "port";
    case "conditions":
      return "type";
    case "ownerReferences":
      return "uid";
    case "hostAliases":
      return "ip";
    case "topologySpreadConstraints":
      return "topologyKey";
    default:
      return undefined;
  }
}

/** Primitive lists with patchStrategy "merge". */
const MERGED_PRIMITIVE_LISTS = new Set(["finalizers"]);

function strategicList(field: string, original: unknown, patch: unknown[]): unknown {
  const replace = patch.some((e) => isRecord(e) && e.$patch === "replace");
  if (replace) return patch.filter((e) => !(isRecord(e) && e.$patch === "replace")).map((e) => clone(e));
  const originalList = Array.isArray(original) ? original : [];
  if (MERGED_PRIMITIVE_LISTS.has(field)) {
    const out = [...originalList];
    for (const v of patch) if (!out.some((o) => jsonEqual(o, v))) out.push(clone(v));
    return out;
  }
  const sample = [...patch, ...originalList].find(isRecord);
  const key = mergeKeyFor(field, sample);
  if (!key) return patch.map((e) => clone(e));
  const out: unknown[] = originalList.map((e) => clone(e));
  for (const element of patch) {
    if (!isRecord(element)) {
      out.push(clone(element));
      continue;
    }
    const idx = out.findIndex((o) => isRecord(o) && jsonEqual(o[key], element[key]));
    if (element.$patch === "delete") {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMerge(out[idx], element);
    else out.push(strategicMerge({}, element));
  }
  return out;
}

export function strategicMerge(original: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  if (patch.$patch === "replace") {
    const copy: JsonObject = { ...patch };
    delete copy.$patch;
    return clone(copy);
  }
  if (patch.$patch === "delete") return undefined;
  const result: JsonObject = isRecord(original) ? { ...original } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === "$patch" || key === "$retainKeys" || key.startsWith("$setElementOrder/")) continue;
    if (key.startsWith("$deleteFromPrimitiveList/")) {
      const field = key.slice("$deleteFromPrimitiveList/".length);
      const current = result[field];
      if (Array.isArray(current) && Array.isArray(value)) {
        result[field] = current.filter((v) => !value.some((d) => jsonEqual(d, v)));
      }
      continue;
    }
    if (value === null) {
      delete result[key];
    } else if (Array.isArray(value)) {
      result[key] = strategicList(key, result[key], value);
    } else if (isRecord(value)) {
      const merged = strategicMerge(result[key], value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else {
      result[key] = value;
    }
  }
  return result;
}

/** Maps a Content-Type to a patch flavour; undefined means 415. */
export function patchTypeOf(contentType: string): PatchType | "apply" | undefined {
  const mediaType = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  switch (mediaType) {
    case "application/json-patch+json":
      return "json";
    case "application/merge-patch+json":
      return "merge";
    case "application/strategic-merge-patch+json":
      return "strategic";
    case "application/apply-patch+yaml":
    case "application/apply-patch+cbor":
      return "apply";
    default:
      return undefined;
  }
}

export function applyPatch(type: PatchType, current: JsonObject, rawPatch: string): unknown {
  let patch: unknown;
  try {
    patch = JSON.parse(rawPatch);
  } catch (e) {
    throw badRequest(`error decoding patch: ${e instanceof Error ? e.message : String(e)}`);
  }
  switch (type) {
    case "json":
      return jsonPatch(current, patch);
    case "merge":
      if (!isRecord(patch)) throw badRequest("json: cannot unmarshal into Go value of type map[string]interface {}");
      return mergePatch(current, patch);
    case "strategic":
      if (!isRecord(patch)) throw badRequest("json: cannot unmarshal into Go value of type map[string]interface {}");
      return strategicMerge(current, patch);
  }
}
