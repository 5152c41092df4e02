// The two patch types the runner sends: JSON Patch (RFC 6902, client-node's
// default; the reclaim-after annotation) and JSON Merge Patch (RFC 7386; a
// FunctionConfig's finalizers and status). Strategic merge and apply patches
// are answered 415: the runner sends neither.
import { ApiError, badRequest } from "./status.ts";
import { type JsonObject, clone, isRecord, jsonEqual } from "./types.ts";

export type PatchType = "json" | "merge";

/** A patch that parses but does not apply: 422 with the patch library's message. */
const patchFailed = (message: string): ApiError =>
  new ApiError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "Invalid", details: { causes: [{ message }] }, code: 422 });

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const result: JsonObject = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

type Node = JsonObject | unknown[];

/** The parent container of a JSON pointer's target and the last token. */
function locate(doc: unknown, path: string, op: string): { parent: Node; key: string } {
  if (!path.startsWith("/")) throw patchFailed(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
  const tokens = path.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  let node: unknown = doc;
  for (const token of tokens.slice(0, -1)) node = Array.isArray(node) ? node[Number(token)] : isRecord(node) ? node[token] : undefined;
  if (!Array.isArray(node) && !isRecord(node)) throw patchFailed(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
  return { parent: node, key: tokens[tokens.length - 1] ?? "" };
}

function index(arr: unknown[], key: string, end: boolean, op: string, path: string): number {
  const i = key === "-" && end ? arr.length : /^(0|[1-9]\d*)$/.test(key) ? Number(key) : Number.NaN;
  if (!(i <= arr.length) || (!end && i === arr.length)) throw patchFailed(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: unable to access invalid index: ${key}`);
  return i;
}

function get(doc: unknown, path: string, op: string): unknown {
  const { parent, key } = locate(doc, path, op);
  const value = Array.isArray(parent) ? parent[index(parent, key, false, op, path)] : parent[key];
  if (value === undefined) throw patchFailed(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
  return value;
}

function add(doc: unknown, path: string, value: unknown, op = "add"): void {
  const { parent, key } = locate(doc, path, op);
  if (Array.isArray(parent)) parent.splice(index(parent, key, true, op, path), 0, clone(value));
  else parent[key] = clone(value);
}

function remove(doc: unknown, path: string, op = "remove"): void {
  get(doc, path, op);
  const { parent, key } = locate(doc, path, op);
  if (Array.isArray(parent)) parent.splice(index(parent, key, false, op, path), 1);
  else delete parent[key];
}

export function jsonPatch(target: JsonObject, ops: unknown): JsonObject {
  if (!Array.isArray(ops)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  const doc = clone(target);
  for (const raw of ops) {
    const { op, path, value } = isRecord(raw) ? raw : {};
    const p = typeof path === "string" ? path : "";
    switch (op) {
      case "add":
        add(doc, p, value);
        break;
      case "remove":
        remove(doc, p);
        break;
      case "replace":
        remove(doc, p, "replace");
        add(doc, p, value, "replace");
        break;
      case "test":
        if (!jsonEqual(get(doc, p, "test"), value)) throw patchFailed(`testing value ${p} failed: test failed`);
        break;
      default:
        throw patchFailed(`Unexpected kind: ${String(op)}`);
    }
  }
  return doc;
}

/** The patch type of a Content-Type; undefined means 415. */
export function patchTypeOf(contentType: string): PatchType | undefined {
  const media = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  return media === "application/json-patch+json" ? "json" : media === "application/merge-patch+json" ? "merge" : undefined;
}

export function applyPatch(type: PatchType, current: JsonObject, rawPatch: string): JsonObject {
  let patch: unknown;
  try {
    patch = JSON.parse(rawPatch);
  } catch (e) {
    throw badRequest(`error decoding patch: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (type === "json") return jsonPatch(current, patch);
  if (!isRecord(patch)) throw badRequest("json: cannot unmarshal into Go value of type map[string]interface {}");
  return mergePatch(current, patch) as JsonObject;
}
