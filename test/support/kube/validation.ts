// Validation as k8s.io/apimachinery (names, labels, object meta) and
// pkg/apis/core/validation perform it, restricted to what the objects the
// runner writes could get wrong: names (the pod id becomes a pod name, a
// Service name and a label value), labels and annotations, finalizers, the
// pod and template spec it builds, Service ports, pull Secrets. A 422 here
// means a real cluster would refuse the object too. Messages are upstream's.
import { type FieldError, fieldErr } from "./status.ts";
import { type JsonObject, type KubeObject, isRecord, jsonEqual } from "./types.ts";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

const MSG_DNS1123_LABEL =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const MSG_DNS1123_SUBDOMAIN =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const MSG_DNS1035_LABEL =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const MSG_QUALIFIED_NAME =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const MSG_LABEL_VALUE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const MSG_CONFIG_KEY =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const PORT_RANGE = "must be between 1 and 65535, inclusive";

/** A name rule: the problems with `name` (empty when valid), like ValidateNameFunc. */
export type NameValidator = (name: string) => string[];

const rule =
  (max: number, re: RegExp, message: string): NameValidator =>
  (name) => [...(name.length > max ? [`must be no more than ${max} characters`] : []), ...(re.test(name) ? [] : [message])];

export const dns1123Label = rule(63, DNS1123_LABEL, MSG_DNS1123_LABEL);
export const dns1123Subdomain = rule(253, DNS1123_SUBDOMAIN, MSG_DNS1123_SUBDOMAIN);
export const dns1035Label = rule(63, DNS1035_LABEL, MSG_DNS1035_LABEL);
export const validateLabelValue = rule(63, LABEL_VALUE, MSG_LABEL_VALUE);

/** IsQualifiedName: `[prefix/]name` (label and annotation keys, finalizers). */
export function validateLabelKey(key: string): string[] {
  const parts = key.split("/");
  if (parts.length > 2) return [`${MSG_QUALIFIED_NAME} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  const name = parts.at(-1) ?? "";
  const prefix = parts.length === 2 ? (parts[0] ?? "") : undefined;
  const out = prefix === undefined ? [] : prefix === "" ? ["prefix part must be non-empty"] : dns1123Subdomain(prefix).map((p) => `prefix part ${p}`);
  if (name === "") return [...out, "name part must be non-empty"];
  if (name.length > 63) out.push("name part must be no more than 63 characters");
  return QUALIFIED_NAME.test(name) ? out : [...out, MSG_QUALIFIED_NAME];
}

function validateMap(map: Record<string, string> | undefined, field: string, values: boolean): FieldError[] {
  return Object.entries(map ?? {}).flatMap(([k, v]) => [
    ...validateLabelKey(values ? k : k.toLowerCase()).map((p) => fieldErr.invalid(field, k, p)),
    ...(values ? validateLabelValue(v).map((p) => fieldErr.invalid(field, v, p)) : []),
  ]);
}

/** ValidateObjectMeta: name (or generateName), namespace, labels, annotation keys, finalizers. */
export function validateObjectMeta(obj: KubeObject, nameFn: NameValidator): FieldError[] {
  const meta = obj.metadata;
  const errs: FieldError[] = [];
  // A generateName prefix is checked with its trailing dash masked.
  if (meta.generateName) for (const p of nameFn(meta.generateName.replace(/-$/, "a"))) errs.push(fieldErr.invalid("metadata.generateName", meta.generateName, p));
  if (!meta.name) errs.push(fieldErr.required("metadata.name", "name or generateName is required"));
  else for (const p of nameFn(meta.name)) errs.push(fieldErr.invalid("metadata.name", meta.name, p));
  errs.push(...validateMap(meta.labels, "metadata.labels", true), ...validateMap(meta.annotations, "metadata.annotations", false));
  (meta.finalizers ?? []).forEach((f, i, all) => {
    if (all.indexOf(f) !== i) errs.push(fieldErr.duplicate(`metadata.finalizers[${i}]`, f));
    for (const p of validateLabelKey(f)) errs.push(fieldErr.invalid("metadata.finalizers", f, p));
  });
  return errs;
}

/** ValidateObjectMetaUpdate: identity is immutable; a Terminating object may lose finalizers, not gain them. */
export function validateObjectMetaUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const n = next.metadata;
  const o = old.metadata;
  const errs = (["name", "namespace", "uid", "creationTimestamp"] as const)
    .filter((k) => (n[k] ?? "") !== (o[k] ?? ""))
    .map((k) => fieldErr.invalid(`metadata.${k}`, n[k], "field is immutable"));
  errs.push(...validateMap(n.labels, "metadata.labels", true), ...validateMap(n.annotations, "metadata.annotations", false));
  const added = (n.finalizers ?? []).filter((f) => !(o.finalizers ?? []).includes(f));
  if (o.deletionTimestamp && added.length > 0) {
    errs.push(fieldErr.forbidden("metadata.finalizers", `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`));
  }
  return errs;
}

const records = (value: unknown): JsonObject[] => (Array.isArray(value) ? value.filter(isRecord) : []);
const str = (value: unknown): string => (typeof value === "string" ? value : "");
const validPort = (port: unknown): boolean => typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535;

/** ValidatePodSpec, the part a runner builds: containers, their ports and mounts, volumes. Pods (not templates) need images. */
export function validatePodSpec(spec: unknown, path: string, forPod: boolean): FieldError[] {
  if (!isRecord(spec)) return [fieldErr.required(path)];
  const errs: FieldError[] = [];
  const volumes = new Set<string>();
  records(spec.volumes).forEach((v, i) => {
    const name = str(v.name);
    for (const m of dns1123Label(name)) errs.push(fieldErr.invalid(`${path}.volumes[${i}].name`, name, m));
    if (volumes.has(name)) errs.push(fieldErr.duplicate(`${path}.volumes[${i}].name`, name));
    volumes.add(name);
  });
  const containers = records(spec.containers);
  if (containers.length === 0) errs.push(fieldErr.required(`${path}.containers`));
  const names = new Set<string>();
  for (const [list, items] of [["initContainers", records(spec.initContainers)], ["containers", containers]] as const) {
    items.forEach((c, i) => {
      const p = `${path}.${list}[${i}]`;
      const name = str(c.name);
      if (name === "") errs.push(fieldErr.required(`${p}.name`));
      else {
        for (const m of dns1123Label(name)) errs.push(fieldErr.invalid(`${p}.name`, name, m));
        if (names.has(name)) errs.push(fieldErr.duplicate(`${p}.name`, name));
        names.add(name);
      }
      if (forPod && str(c.image).trim() === "") errs.push(fieldErr.required(`${p}.image`));
      records(c.ports).forEach((port, j) => {
        if (!validPort(port.containerPort)) errs.push(fieldErr.invalid(`${p}.ports[${j}].containerPort`, port.containerPort ?? 0, PORT_RANGE));
      });
      records(c.volumeMounts).forEach((vm, j) => {
        if (!volumes.has(str(vm.name))) errs.push(fieldErr.notFound(`${p}.volumeMounts[${j}].name`, str(vm.name)));
        if (str(vm.mountPath) === "") errs.push(fieldErr.required(`${p}.volumeMounts[${j}].mountPath`));
      });
    });
  }
  return errs;
}

export const validatePod = (pod: KubeObject): FieldError[] => validatePodSpec(pod.spec, "spec", true);

const POD_UPDATE_MESSAGE =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/** ValidatePodUpdate: a pod's spec is immutable apart from images and a few fields. */
export function validatePodUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const mask = (spec: unknown): unknown => {
    if (!isRecord(spec)) return spec;
    const { activeDeadlineSeconds: _a, tolerations: _t, ...rest } = spec;
    for (const k of ["containers", "initContainers"]) if (Array.isArray(rest[k])) rest[k] = rest[k].map((c) => (isRecord(c) ? { ...c, image: undefined } : c));
    return rest;
  };
  return [...validatePod(next), ...(jsonEqual(mask(next.spec), mask(old.spec)) ? [] : [fieldErr.forbidden("spec", POD_UPDATE_MESSAGE)])];
}

export function validateService(svc: KubeObject): FieldError[] {
  const spec = isRecord(svc.spec) ? svc.spec : {};
  const ports = records(spec.ports);
  const errs = ports.length === 0 && spec.clusterIP !== "None" ? [fieldErr.required("spec.ports")] : [];
  ports.forEach((port, i) => {
    if (ports.length > 1 && str(port.name) === "") errs.push(fieldErr.required(`spec.ports[${i}].name`));
    if (!validPort(port.port)) errs.push(fieldErr.invalid(`spec.ports[${i}].port`, port.port ?? 0, PORT_RANGE));
    if (typeof port.targetPort === "number" && !validPort(port.targetPort)) errs.push(fieldErr.invalid(`spec.ports[${i}].targetPort`, port.targetPort, PORT_RANGE));
  });
  if (isRecord(spec.selector)) errs.push(...validateMap(spec.selector as Record<string, string>, "spec.selector", true));
  return errs;
}

/** Secrets: data keys, the 1 MiB limit, a dockerconfigjson Secret's key holding JSON. */
export function validateSecret(secret: KubeObject): FieldError[] {
  const data: Record<string, string> = isRecord(secret.data) ? Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, str(v)])) : {};
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    if (!CONFIG_KEY.test(k)) errs.push(fieldErr.invalid(`data[${k}]`, k, MSG_CONFIG_KEY));
    total += Buffer.from(v, "base64").length;
  }
  if (total > 1024 * 1024) errs.push({ type: "FieldValueTooLong", field: "data", body: `Too long: must have at most ${1024 * 1024} bytes` });
  if (secret.type === "kubernetes.io/dockerconfigjson") {
    const value = data[".dockerconfigjson"];
    if (value === undefined) errs.push(fieldErr.required("data[.dockerconfigjson]"));
    else {
      try {
        JSON.parse(Buffer.from(value, "base64").toString("utf8"));
      } catch (e) {
        errs.push(fieldErr.invalid("data[.dockerconfigjson]", "<secret contents redacted>", e instanceof Error ? e.message : String(e)));
      }
    }
  }
  return errs;
}

/** A Secret's type never changes; an immutable one keeps its data. */
export function validateSecretUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const errs = validateSecret(next);
  if (str(next.type) !== str(old.type)) errs.push(fieldErr.invalid("type", next.type, "field is immutable"));
  if (old.immutable === true && next.immutable !== true) errs.push(fieldErr.forbidden("immutable", "field is immutable when `immutable` is set"));
  if (old.immutable === true && !jsonEqual(next.data ?? {}, old.data ?? {})) errs.push(fieldErr.forbidden("data", "field is immutable when `immutable` is set"));
  return errs;
}

export function validatePodTemplate(tpl: KubeObject): FieldError[] {
  const template = isRecord(tpl.template) ? tpl.template : {};
  const meta = isRecord(template.metadata) ? template.metadata : {};
  return [
    ...validateMap(isRecord(meta.labels) ? (meta.labels as Record<string, string>) : undefined, "template.metadata.labels", true),
    ...validatePodSpec(template.spec, "template.spec", false),
  ];
}

/** The FunctionConfig CRD's schema rules a runner can trip over: image required, one executor. */
export function validateFunctionConfig(obj: KubeObject): FieldError[] {
  const spec = obj.spec;
  if (!isRecord(spec)) return [fieldErr.required("spec")];
  const errs = str(spec.image) === "" ? [fieldErr.required("spec.image")] : [];
  if (spec.podExecutor === undefined && spec.binaryExecutor === undefined && spec.goExecutor === undefined) {
    errs.push(fieldErr.invalid("spec", "object", "At least one configuration must be specified"));
  }
  return errs;
}
