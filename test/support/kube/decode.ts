// Request-body decoding: what the API server's JSON decoder rejects with 400
// BadRequest before any validation runs (wrong JSON types, bad base64 in a
// Secret's data, a body of another kind), plus the v1 → internal conversion
// that merges Secret.stringData into data.
import { badRequest } from "./status.ts";
import { type JsonObject, type KubeObject, isRecord } from "./types.ts";

type Shape =
  | "string"
  | "int"
  | "bool"
  | "any"
  | "bytes"
  | "intOrString"
  | { map: Shape }
  | { array: Shape; go: string }
  | { struct: string; fields: Record<string, Shape> };

const stringMap: Shape = { map: "string" };
const stringList: Shape = { array: "string", go: "[]string" };

const objectMeta: Shape = {
  struct: "ObjectMeta",
  fields: {
    name: "string",
    generateName: "string",
    namespace: "string",
    uid: "string",
    resourceVersion: "string",
    labels: stringMap,
    annotations: stringMap,
    finalizers: stringList,
    ownerReferences: { array: "any", go: "[]v1.OwnerReference" },
  },
};

const container: Shape = {
  struct: "Container",
  fields: {
    name: "string",
    image: "string",
    command: stringList,
    args: stringList,
    workingDir: "string",
    imagePullPolicy: "string",
    ports: {
      array: { struct: "ContainerPort", fields: { name: "string", containerPort: "int", protocol: "string" } },
      go: "[]v1.ContainerPort",
    },
    env: {
      array: { struct: "EnvVar", fields: { name: "string", value: "string" } },
      go: "[]v1.EnvVar",
    },
    volumeMounts: {
      array: { struct: "VolumeMount", fields: { name: "string", mountPath: "string", readOnly: "bool" } },
      go: "[]v1.VolumeMount",
    },
  },
};

const podSpec: Shape = {
  struct: "PodSpec",
  fields: {
    containers: { array: container, go: "[]v1.Container" },
    initContainers: { array: container, go: "[]v1.Container" },
    volumes: { array: { struct: "Volume", fields: { name: "string" } }, go: "[]v1.Volume" },
    imagePullSecrets: {
      array: { struct: "LocalObjectReference", fields: { name: "string" } },
      go: "[]v1.LocalObjectReference",
    },
    serviceAccountName: "string",
    restartPolicy: "string",
    nodeName: "string",
    terminationGracePeriodSeconds: "int",
    activeDeadlineSeconds: "int",
  },
};

const shapes: Record<string, Shape> = {
  Pod: { struct: "Pod", fields: { metadata: objectMeta, spec: podSpec } },
  Secret: {
    struct: "Secret",
    fields: { metadata: objectMeta, data: { map: "bytes" }, stringData: stringMap, type: "string", immutable: "bool" },
  },
  Service: {
    struct: "Service",
    fields: {
      metadata: objectMeta,
      spec: {
        struct: "ServiceSpec",
        fields: {
          type: "string",
          clusterIP: "string",
          selector: stringMap,
          ports: {
            array: {
              struct: "ServicePort",
              fields: { name: "string", port: "int", targetPort: "intOrString", protocol: "string" },
            },
            go: "[]v1.ServicePort",
          },
        },
      },
    },
  },
  Endpoints: {
    struct: "Endpoints",
    fields: { metadata: objectMeta, subsets: { array: "any", go: "[]v1.EndpointSubset" } },
  },
  PodTemplate: {
    struct: "PodTemplate",
    fields: {
      metadata: objectMeta,
      template: { struct: "PodTemplateSpec", fields: { metadata: objectMeta, spec: podSpec } },
    },
  },
  Namespace: {
    struct: "Namespace",
    fields: { metadata: objectMeta, spec: { struct: "NamespaceSpec", fields: { finalizers: stringList } } },
  },
  ServiceAccount: {
    struct: "ServiceAccount",
    fields: {
      metadata: objectMeta,
      imagePullSecrets: { array: "any", go: "[]v1.LocalObjectReference" },
      secrets: { array: "any", go: "[]v1.ObjectReference" },
    },
  },
};

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "object") return "object";
  return typeof value;
}

function goTypeOf(shape: Shape): string {
  if (shape === "string" || shape === "bytes") return shape === "bytes" ? "[]uint8" : "string";
  if (shape === "int") return "int32";
  if (shape === "bool") return "bool";
  if (shape === "any") return "interface {}";
  if (shape === "intOrString") return "intstr.IntOrString";
  if ("map" in shape) return `map[string]${goTypeOf(shape.map)}`;
  if ("array" in shape) return shape.go;
  return `v1.${shape.struct}`;
}

class DecodeError extends Error {}

function mismatch(value: unknown, struct: string, path: string, shape: Shape): never {
  throw new DecodeError(
    `json: cannot unmarshal ${jsonType(value) === "object" ? "object" : jsonType(value)} into Go struct field ${struct}.${path} of type ${goTypeOf(shape)}`,
  );
}

/** Base64 as Go's encoding/json decodes []byte (StdEncoding, \r and \n ignored). */
export function checkBase64(value: string): string | undefined {
  const s = value.replace(/[\r\n]/g, "");
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] ?? "";
    if (!/[A-Za-z0-9+/=]/.test(ch)) return `illegal base64 data at input byte ${i}`;
    if (ch === "=" && !/^=*$/.test(s.slice(i))) return `illegal base64 data at input byte ${i}`;
  }
  if (s.length % 4 !== 0) return `illegal base64 data at input byte ${s.length - (s.length % 4)}`;
  const pad = s.length - s.replace(/=+$/, "").length;
  if (pad > 2) return `illegal base64 data at input byte ${s.length - pad}`;
  return undefined;
}

function check(value: unknown, shape: Shape, struct: string, path: string): void {
  if (value === null || value === undefined) return; // null decodes to the zero value
  if (shape === "any") return;
  if (shape === "string") {
    if (typeof value !== "string") mismatch(value, struct, path, shape);
    return;
  }
  if (shape === "int") {
    if (typeof value !== "number") mismatch(value, struct, path, shape);
    if (!Number.isInteger(value)) {
      throw new DecodeError(`json: cannot unmarshal number ${String(value)} into Go struct field ${struct}.${path} of type int32`);
    }
    return;
  }
  if (shape === "bool") {
    if (typeof value !== "boolean") mismatch(value, struct, path, shape);
    return;
  }
  if (shape === "intOrString") {
    if (typeof value !== "number" && typeof value !== "string") mismatch(value, struct, path, shape);
    return;
  }
  if (shape === "bytes") {
    if (typeof value !== "string") mismatch(value, struct, path, shape);
    const problem = checkBase64(value);
    if (problem) throw new DecodeError(problem);
    return;
  }
  if ("map" in shape) {
    if (!isRecord(value)) mismatch(value, struct, path, shape);
    for (const [k, v] of Object.entries(value)) check(v, shape.map, struct, `${path}.${k}`);
    return;
  }
  if ("array" in shape) {
    if (!Array.isArray(value)) mismatch(value, struct, path, shape);
    for (const item of value) check(item, shape.array, struct, path);
    return;
  }
  if (!isRecord(value)) mismatch(value, struct, path, shape);
  // Go names the innermost struct and the full JSON path: "PodSpec.spec.containers".
  for (const [field, sub] of Object.entries(shape.fields)) {
    check(value[field], sub, shape.struct, path === "" ? field : `${path}.${field}`);
  }
}

/**
 * Parses a request body into an object of `kind` (apiVersion v1), or throws
 * the 400 BadRequest the real decoder answers with.
 */
export function decodeBody(raw: string, kind: string, version = "v1"): KubeObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw badRequest(`couldn't get version/kind; json parse error: ${detail}`);
  }
  if (!isRecord(parsed)) {
    throw badRequest(`couldn't get version/kind; json parse error: json: cannot unmarshal ${jsonType(parsed)} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`);
  }
  const apiVersion = parsed.apiVersion;
  if (apiVersion !== undefined && apiVersion !== "" && apiVersion !== version) {
    throw badRequest(`the API version in the data (${String(apiVersion)}) does not match the expected API version (${version})`);
  }
  const bodyKind = parsed.kind;
  if (bodyKind !== undefined && bodyKind !== "" && bodyKind !== kind) {
    throw badRequest(`${String(bodyKind)} in version "${version}" cannot be handled as a ${kind}: no kind "${String(bodyKind)}" is registered for version "${version}" in scheme`);
  }
  const shape = shapes[kind];
  try {
    if (shape) check(parsed, shape, kind, "");
  } catch (e) {
    if (e instanceof DecodeError) throw badRequest(`${kind} in version "v1" cannot be handled as a ${kind}: ${e.message}`);
    throw e;
  }
  const metadata = isRecord(parsed.metadata) ? parsed.metadata : {};
  const obj: KubeObject = { ...parsed, apiVersion: version, kind, metadata };
  if (kind === "Secret") mergeStringData(obj);
  return obj;
}

/** Convert_v1_Secret_To_core_Secret: stringData entries overwrite data, then vanish. */
export function mergeStringData(secret: KubeObject): void {
  const stringData = secret.stringData;
  if (isRecord(stringData)) {
    const data: JsonObject = isRecord(secret.data) ? { ...secret.data } : {};
    for (const [k, v] of Object.entries(stringData)) {
      data[k] = Buffer.from(typeof v === "string" ? v : "", "utf8").toString("base64");
    }
    secret.data = data;
  }
  delete secret.stringData;
}
