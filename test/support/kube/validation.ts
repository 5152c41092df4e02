// Validation as k8s.io/apimachinery (names, labels, object meta) and
// pkg/apis/core/validation (Pod, Service, Secret, ...) perform it, restricted
// to the rules a runner can plausibly trip over. Messages are the upstream ones.
import { type FieldError, fieldErr } from "./status.ts";
import { type JsonObject, type KubeObject, isRecord, jsonEqual } from "./types.ts";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const IANA_SVC_NAME = /^[-a-z0-9]+$/;

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

function maxLen(n: number): string {
  return `must be no more than ${n} characters`;
}

/** A name validator returns the problems (empty when valid), like ValidateNameFunc. */
export type NameValidator = (name: string) => string[];

export function dns1123Label(name: string): string[] {
  const out: string[] = [];
  if (name.length > 63) out.push(maxLen(63));
  if (!DNS1123_LABEL.test(name)) out.push(MSG_DNS1123_LABEL);
  return out;
}

export function dns1123Subdomain(name: string): string[] {
  const out: string[] = [];
  if (name.length > 253) out.push(maxLen(253));
  if (!DNS1123_SUBDOMAIN.test(name)) out.push(MSG_DNS1123_SUBDOMAIN);
  return out;
}

export function dns1035Label(name: string): string[] {
  const out: string[] = [];
  if (name.length > 63) out.push(maxLen(63));
  if (!DNS1035_LABEL.test(name)) out.push(MSG_DNS1035_LABEL);
  return out;
}

/** IsQualifiedName: `[prefix/]name`. */
export function validateLabelKey(key: string): string[] {
  const parts = key.split("/");
  let name: string;
  const out: string[] = [];
  if (parts.length === 1) {
    name = parts[0] ?? "";
  } else if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    name = parts[1] ?? "";
    if (prefix.length === 0) out.push("prefix part must be non-empty");
    else for (const p of dns1123Subdomain(prefix)) out.push(`prefix part ${p}`);
  } else {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) out.push("name part must be non-empty");
  else if (name.length > 63) out.push(`name part ${maxLen(63)}`);
  if (name.length > 0 && !QUALIFIED_NAME.test(name)) out.push(MSG_QUALIFIED_NAME);
  return out;
}

export function validateLabelValue(value: string): string[] {
  const out: string[] = [];
  if (value.length > 63) out.push(maxLen(63));
  if (!LABEL_VALUE.test(value)) out.push(MSG_LABEL_VALUE);
  return out;
}

export function validateLabels(labels: Record<string, string> | undefined, field: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const p of validateLabelKey(k)) errs.push(fieldErr.invalid(field, k, p));
    for (const p of validateLabelValue(v)) errs.push(fieldErr.invalid(field, v, p));
  }
  return errs;
}

const TOTAL_ANNOTATION_SIZE = 256 * 1024;

export function validateAnnotations(annotations: Record<string, string> | undefined, field: string): FieldError[] {
  const errs: FieldError[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    for (const p of validateLabelKey(k.toLowerCase())) errs.push(fieldErr.invalid(field, k, p));
    size += k.length + v.length;
  }
  if (size > TOTAL_ANNOTATION_SIZE) {
    errs.push({ type: "FieldValueTooLong", field, body: `Too long: must have at most ${TOTAL_ANNOTATION_SIZE} bytes` });
  }
  return errs;
}

/** ValidateObjectMeta (create). */
export function validateObjectMeta(obj: KubeObject, namespaced: boolean, nameFn: NameValidator): FieldError[] {
  const meta = obj.metadata;
  const errs: FieldError[] = [];
  const name = meta.name ?? "";
  if (meta.generateName) {
    // The prefix is validated with a trailing dash masked (maskTrailingDash).
    const masked = meta.generateName.replace(/-$/, "a");
    for (const p of nameFn(masked)) errs.push(fieldErr.invalid("metadata.generateName", meta.generateName, p));
  }
  if (name === "") {
    errs.push(fieldErr.required("metadata.name", "name or generateName is required"));
  } else {
    for (const p of nameFn(name)) errs.push(fieldErr.invalid("metadata.name", name, p));
  }
  if (namespaced) {
    if (!meta.namespace) errs.push(fieldErr.required("metadata.namespace", ""));
    else for (const p of dns1123Label(meta.namespace)) errs.push(fieldErr.invalid("metadata.namespace", meta.namespace, p));
  } else if (meta.namespace) {
    errs.push(fieldErr.forbidden("metadata.namespace", "not allowed on this type"));
  }
  errs.push(...validateLabels(meta.labels, "metadata.labels"));
  errs.push(...validateAnnotations(meta.annotations, "metadata.annotations"));
  const seen = new Set<string>();
  (meta.finalizers ?? []).forEach((f, i) => {
    if (seen.has(f)) errs.push(fieldErr.duplicate(`metadata.finalizers[${i}]`, f));
    seen.add(f);
    for (const p of validateLabelKey(f)) errs.push(fieldErr.invalid("metadata.finalizers", f, p));
  });
  return errs;
}

/** ValidateObjectMetaUpdate: identity fields are immutable. */
export function validateObjectMetaUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const n = next.metadata;
  const o = old.metadata;
  if (n.name !== o.name) errs.push(fieldErr.invalid("metadata.name", n.name, "field is immutable"));
  if ((n.namespace ?? "") !== (o.namespace ?? "")) {
    errs.push(fieldErr.invalid("metadata.namespace", n.namespace, "field is immutable"));
  }
  if (n.uid !== o.uid) errs.push(fieldErr.invalid("metadata.uid", n.uid, "field is immutable"));
  if (n.creationTimestamp !== o.creationTimestamp) {
    errs.push(fieldErr.invalid("metadata.creationTimestamp", n.creationTimestamp, "field is immutable"));
  }
  errs.push(...validateLabels(n.labels, "metadata.labels"));
  errs.push(...validateAnnotations(n.annotations, "metadata.annotations"));
  return errs;
}

function validPort(port: unknown): boolean {
  return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535;
}

const PORT_RANGE = "must be between 1 and 65535, inclusive";
const PROTOCOLS = ["SCTP", "TCP", "UDP"] as const;

function validatePortName(name: string, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (name.length > 15) errs.push(fieldErr.invalid(field, name, maxLen(15)));
  if (!IANA_SVC_NAME.test(name)) {
    errs.push(fieldErr.invalid(field, name, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"));
  } else if (!/[a-z]/.test(name)) {
    errs.push(fieldErr.invalid(field, name, "must contain at least one letter (a-z)"));
  }
  if (name.startsWith("-") || name.endsWith("-") || name.includes("--")) {
    errs.push(fieldErr.invalid(field, name, "must not begin or end with a hyphen, or contain adjacent hyphens"));
  }
  return errs;
}

function records(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function validateContainers(
  containers: JsonObject[],
  path: string,
  volumes: Set<string>,
  names: Set<string>,
  forPod: boolean,
): FieldError[] {
  const errs: FieldError[] = [];
  containers.forEach((c, i) => {
    const p = `${path}[${i}]`;
    const name = str(c.name);
    if (name === "") errs.push(fieldErr.required(`${p}.name`));
    else {
      for (const m of dns1123Label(name)) errs.push(fieldErr.invalid(`${p}.name`, name, m));
      if (names.has(name)) errs.push(fieldErr.duplicate(`${p}.name`, name));
      names.add(name);
    }
    const image = str(c.image);
    // validateContainersOnlyForPod: only Pods require an image (templates may leave it to a controller).
    if (forPod) {
      if (image === "") errs.push(fieldErr.required(`${p}.image`));
      else if (image.trim() !== image) {
        errs.push(fieldErr.invalid(`${p}.image`, image, "must not have leading or trailing whitespace"));
      }
    }
    const portNames = new Set<string>();
    records(c.ports).forEach((port, j) => {
      const pp = `${p}.ports[${j}]`;
      if (port.containerPort === undefined) errs.push(fieldErr.required(`${pp}.containerPort`));
      else if (!validPort(port.containerPort)) errs.push(fieldErr.invalid(`${pp}.containerPort`, port.containerPort, PORT_RANGE));
      const pn = str(port.name);
      if (pn) {
        errs.push(...validatePortName(pn, `${pp}.name`));
        if (portNames.has(pn)) errs.push(fieldErr.duplicate(`${pp}.name`, pn));
        portNames.add(pn);
      }
      const proto = port.protocol;
      if (proto !== undefined && !PROTOCOLS.includes(str(proto) as (typeof PROTOCOLS)[number])) {
        errs.push(fieldErr.notSupported(`${pp}.protocol`, proto, PROTOCOLS));
      }
    });
    records(c.env).forEach((env, j) => {
      if (str(env.name) === "") errs.push(fieldErr.required(`${p}.env[${j}].name`));
    });
    records(c.volumeMounts).forEach((vm, j) => {
      const vp = `${p}.volumeMounts[${j}]`;
      const vn = str(vm.name);
      if (vn === "") errs.push(fieldErr.required(`${vp}.name`));
      else if (!volumes.has(vn)) errs.push(fieldErr.notFound(`${vp}.name`, vn));
      if (str(vm.mountPath) === "") errs.push(fieldErr.required(`${vp}.mountPath`));
    });
  });
  return errs;
}

const RESTART_POLICIES = ["Always", "Never", "OnFailure"] as const;
const DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"] as const;

/** ValidatePodSpec (the subset that matters here). `forPod` adds the Pod-only rules. */
export function validatePodSpec(spec: unknown, path: string, forPod: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (!isRecord(spec)) return [fieldErr.required(path)];
  const volumes = new Set<string>();
  records(spec.volumes).forEach((v, i) => {
    const vp = `${path}.volumes[${i}]`;
    const name = str(v.name);
    if (name === "") errs.push(fieldErr.required(`${vp}.name`));
    else {
      for (const m of dns1123Label(name)) errs.push(fieldErr.invalid(`${vp}.name`, name, m));
      if (volumes.has(name)) errs.push(fieldErr.duplicate(`${vp}.name`, name));
      volumes.add(name);
    }
    const sources = Object.keys(v).filter((k) => k !== "name" && v[k] !== undefined && v[k] !== null);
    if (sources.length === 0) errs.push(fieldErr.required(vp, "must specify a volume type"));
    else if (sources.length > 1) errs.push(fieldErr.forbidden(vp, "may not specify more than 1 volume type"));
  });
  const containers = records(spec.containers);
  const names = new Set<string>();
  if (containers.length === 0) errs.push(fieldErr.required(`${path}.containers`));
  errs.push(...validateContainers(records(spec.initContainers), `${path}.initContainers`, volumes, names, forPod));
  errs.push(...validateContainers(containers, `${path}.containers`, volumes, names, forPod));
  if (spec.restartPolicy !== undefined && !RESTART_POLICIES.includes(str(spec.restartPolicy) as (typeof RESTART_POLICIES)[number])) {
    errs.push(fieldErr.notSupported(`${path}.restartPolicy`, spec.restartPolicy, RESTART_POLICIES));
  }
  if (spec.dnsPolicy !== undefined && !DNS_POLICIES.includes(str(spec.dnsPolicy) as (typeof DNS_POLICIES)[number])) {
    errs.push(fieldErr.notSupported(`${path}.dnsPolicy`, spec.dnsPolicy, DNS_POLICIES));
  }
  if (spec.serviceAccountName !== undefined && str(spec.serviceAccountName) !== "") {
    for (const m of dns1123Subdomain(str(spec.serviceAccountName))) {
      errs.push(fieldErr.invalid(`${path}.serviceAccountName`, spec.serviceAccountName, m));
    }
  }
  const tgps = spec.terminationGracePeriodSeconds;
  if (tgps !== undefined && (typeof tgps !== "number" || tgps < 0)) {
    errs.push(fieldErr.invalid(`${path}.terminationGracePeriodSeconds`, tgps, "must be greater than or equal to 0"));
  }
  return errs;
}

export function validatePod(pod: KubeObject): FieldError[] {
  const spec = pod.spec;
  if (!isRecord(spec)) return [fieldErr.required("spec.containers")];
  return validatePodSpec(spec, "spec", true);
}

const POD_UPDATE_MESSAGE =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/** ValidatePodUpdate: the spec is immutable apart from a few fields. */
export function validatePodUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const errs = validatePod(next);
  if (errs.length > 0) return errs;
  const mask = (spec: unknown): unknown => {
    if (!isRecord(spec)) return spec;
    const copy: JsonObject = { ...spec };
    delete copy.activeDeadlineSeconds;
    delete copy.tolerations;
    for (const key of ["containers", "initContainers"]) {
      const list = copy[key];
      if (Array.isArray(list)) copy[key] = list.map((c) => (isRecord(c) ? { ...c, image: undefined } : c));
    }
    return copy;
  };
  if (!jsonEqual(mask(next.spec), mask(old.spec))) errs.push(fieldErr.forbidden("spec", POD_UPDATE_MESSAGE));
  const oldTolerations = records(isRecord(old.spec) ? old.spec.tolerations : undefined);
  const newTolerations = records(isRecord(next.spec) ? next.spec.tolerations : undefined);
  if (!oldTolerations.every((t) => newTolerations.some((n) => jsonEqual(n, t)))) {
    errs.push(fieldErr.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"));
  }
  return errs;
}

const SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"] as const;

function isIPv4(ip: string): boolean {
  const parts = ip.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIP(ip: string): boolean {
  return isIPv4(ip) || (/^[0-9a-fA-F:]+$/.test(ip) && ip.includes(":"));
}

export function validateService(svc: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = isRecord(svc.spec) ? svc.spec : {};
  const type = spec.type === undefined ? "ClusterIP" : str(spec.type);
  if (!SERVICE_TYPES.includes(type as (typeof SERVICE_TYPES)[number])) {
    errs.push(fieldErr.notSupported("spec.type", spec.type, SERVICE_TYPES));
  }
  const clusterIP = str(spec.clusterIP);
  const headless = clusterIP === "None";
  const ports = records(spec.ports);
  if (ports.length === 0 && type !== "ExternalName" && !headless) errs.push(fieldErr.required("spec.ports"));
  if (type === "ExternalName" && str(spec.externalName) === "") errs.push(fieldErr.required("spec.externalName"));
  const names = new Set<string>();
  const seenPorts = new Set<string>();
  ports.forEach((port, i) => {
    const p = `spec.ports[${i}]`;
    const name = str(port.name);
    if (ports.length > 1 && name === "") errs.push(fieldErr.required(`${p}.name`));
    if (name !== "") {
      for (const m of dns1123Label(name)) errs.push(fieldErr.invalid(`${p}.name`, name, m));
      if (names.has(name)) errs.push(fieldErr.duplicate(`${p}.name`, name));
      names.add(name);
    }
    if (!validPort(port.port)) errs.push(fieldErr.invalid(`${p}.port`, port.port ?? 0, PORT_RANGE));
    const proto = port.protocol === undefined ? "TCP" : str(port.protocol);
    if (!PROTOCOLS.includes(proto as (typeof PROTOCOLS)[number])) {
      errs.push(fieldErr.notSupported(`${p}.protocol`, port.protocol, PROTOCOLS));
    }
    const key = `${String(port.port)}/${proto}`;
    if (seenPorts.has(key)) errs.push(fieldErr.duplicate(p, { port: port.port, protocol: proto }));
    seenPorts.add(key);
    const tp = port.targetPort;
    if (typeof tp === "number") {
      if (!validPort(tp)) errs.push(fieldErr.invalid(`${p}.targetPort`, tp, PORT_RANGE));
    } else if (typeof tp === "string") {
      errs.push(...validatePortName(tp, `${p}.targetPort`));
    }
  });
  if (clusterIP !== "" && !headless && !isIP(clusterIP)) {
    errs.push(fieldErr.invalid("spec.clusterIPs[0]", clusterIP, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
  }
  if (isRecord(spec.selector)) {
    const selector: Record<string, string> = {};
    for (const [k, v] of Object.entries(spec.selector)) selector[k] = str(v);
    errs.push(...validateLabels(selector, "spec.selector"));
  }
  return errs;
}

export function validateServiceUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const errs = validateService(next);
  const n = isRecord(next.spec) ? str(next.spec.clusterIP) : "";
  const o = isRecord(old.spec) ? str(old.spec.clusterIP) : "";
  if (o !== "" && n !== o) errs.push(fieldErr.invalid("spec.clusterIPs[0]", n, "may not change once set"));
  return errs;
}

const MAX_SECRET_SIZE = 1024 * 1024;

function secretData(secret: KubeObject): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(secret.data)) for (const [k, v] of Object.entries(secret.data)) out[k] = str(v);
  return out;
}

function validateDockerConfig(data: Record<string, string>, key: string, errs: FieldError[]): void {
  const value = data[key];
  if (value === undefined) {
    errs.push(fieldErr.required(`data[${key}]`));
    return;
  }
  try {
    JSON.parse(Buffer.from(value, "base64").toString("utf8"));
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    errs.push(fieldErr.invalid(`data[${key}]`, "<secret contents redacted>", detail));
  }
}

export function validateSecret(secret: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const data = secretData(secret);
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    if (k.length > 253) errs.push(fieldErr.invalid(`data[${k}]`, k, maxLen(253)));
    if (!CONFIG_KEY.test(k)) errs.push(fieldErr.invalid(`data[${k}]`, k, MSG_CONFIG_KEY));
    if (k === "." || k === "..") errs.push(fieldErr.invalid(`data[${k}]`, k, `must not be '${k}'`));
    total += Buffer.from(v, "base64").length;
  }
  if (total > MAX_SECRET_SIZE) {
    errs.push({ type: "FieldValueTooLong", field: "data", body: `Too long: must have at most ${MAX_SECRET_SIZE} bytes` });
  }
  const type = str(secret.type);
  switch (type) {
    case "kubernetes.io/dockerconfigjson":
      validateDockerConfig(data, ".dockerconfigjson", errs);
      break;
    case "kubernetes.io/dockercfg":
      validateDockerConfig(data, ".dockercfg", errs);
      break;
    case "kubernetes.io/service-account-token":
      if (!secret.metadata.annotations?.["kubernetes.io/service-account.name"]) {
        errs.push(fieldErr.required("metadata.annotations[kubernetes.io/service-account.name]"));
      }
      break;
    case "kubernetes.io/basic-auth":
      if (data.username === undefined && data.password === undefined) {
        errs.push(fieldErr.required("data[username]"), fieldErr.required("data[password]"));
      }
      break;
    case "kubernetes.io/ssh-auth":
      if (data["ssh-privatekey"] === undefined) errs.push(fieldErr.required("data[ssh-privatekey]"));
      break;
    case "kubernetes.io/tls":
      if (data["tls.key"] === undefined) errs.push(fieldErr.required("data[tls.key]"));
      if (data["tls.crt"] === undefined) errs.push(fieldErr.required("data[tls.crt]"));
      break;
    default:
      break;
  }
  return errs;
}

export function validateSecretUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const errs = validateSecret(next);
  if (str(next.type) !== str(old.type)) errs.push(fieldErr.invalid("type", next.type, "field is immutable"));
  if (old.immutable === true) {
    if (next.immutable !== true) {
      errs.push(fieldErr.forbidden("immutable", "field is immutable when `immutable` is set"));
    }
    if (!jsonEqual(next.data ?? {}, old.data ?? {})) {
      errs.push(fieldErr.forbidden("data", "field is immutable when `immutable` is set"));
    }
  }
  return errs;
}

export function validateEndpoints(ep: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  records(ep.subsets).forEach((subset, i) => {
    const p = `subsets[${i}]`;
    for (const key of ["addresses", "notReadyAddresses"]) {
      records(subset[key]).forEach((addr, j) => {
        const ip = str(addr.ip);
        if (!isIP(ip)) errs.push(fieldErr.invalid(`${p}.${key}[${j}].ip`, ip, "must be a valid IP address"));
      });
    }
    records(subset.ports).forEach((port, j) => {
      if (!validPort(port.port)) errs.push(fieldErr.invalid(`${p}.ports[${j}].port`, port.port ?? 0, PORT_RANGE));
    });
  });
  return errs;
}

export function validatePodTemplate(tpl: KubeObject): FieldError[] {
  const template = tpl.template;
  if (!isRecord(template)) return [fieldErr.required("template.spec.containers")];
  const errs: FieldError[] = [];
  const meta = isRecord(template.metadata) ? template.metadata : {};
  if (isRecord(meta.labels)) {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta.labels)) labels[k] = str(v);
    errs.push(...validateLabels(labels, "template.metadata.labels"));
  }
  errs.push(...validatePodSpec(template.spec, "template.spec", false));
  return errs;
}
