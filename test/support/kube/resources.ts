// The core/v1 resources served, with the per-type strategy facts of the real
// registry (pkg/registry/core/*): name validation, defaulting, which fields
// belong to a status subresource, whether DELETE returns the object, whether
// PUT may create, and the field selectors each type supports.
import { type FieldError, fieldErr } from "./status.ts";
import {
  type NameValidator,
  dns1035Label,
  dns1123Label,
  dns1123Subdomain,
  validateEndpoints,
  validatePod,
  validatePodTemplate,
  validatePodUpdate,
  validateSecret,
  validateSecretUpdate,
  validateService,
  validateServiceUpdate,
} from "./validation.ts";
import { type JsonObject, type KubeObject, isRecord } from "./types.ts";

export interface ResourceDef {
  /** `v1` for core; `GROUP/VERSION` for the custom resources served under /apis. */
  apiVersion: string;
  resource: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  nameValidator: NameValidator;
  /** genericregistry.Store.ReturnDeletedObject */
  returnDeletedObject: boolean;
  /** RESTUpdateStrategy.AllowCreateOnUpdate */
  allowCreateOnUpdate: boolean;
  /** Has a /status subresource: status is ignored on writes to the main resource. */
  hasStatus: boolean;
  /** metadata.generation is set and bumped on spec changes. */
  tracksGeneration: boolean;
  /** Supported fieldSelector fields and the values an object has for them. */
  fieldSelectors: string[];
  fieldsOf(obj: KubeObject): Record<string, string>;
  /** SetDefaults_*: runs whenever a body is decoded (create, update, patch result). */
  applyDefaults(obj: KubeObject): void;
  /** PrepareForCreate: resets what a client may not set on create (status). */
  prepareForCreate(obj: KubeObject): void;
  validate(obj: KubeObject): FieldError[];
  validateUpdate(next: KubeObject, old: KubeObject): FieldError[];
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function metaFields(obj: KubeObject): Record<string, string> {
  return { "metadata.name": obj.metadata.name ?? "", "metadata.namespace": obj.metadata.namespace ?? "" };
}

/** The image pull policy SetDefaults_Container picks: Always for `:latest` or no tag. */
export function defaultPullPolicy(image: string): string {
  if (image.includes("@")) return "IfNotPresent";
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastSegment.lastIndexOf(":");
  const tag = colon >= 0 ? lastSegment.slice(colon + 1) : "";
  return tag === "" || tag === "latest" ? "Always" : "IfNotPresent";
}

function defaultContainer(c: JsonObject): void {
  if (c.terminationMessagePath === undefined) c.terminationMessagePath = "/dev/termination-log";
  if (c.terminationMessagePolicy === undefined) c.terminationMessagePolicy = "File";
  if (c.imagePullPolicy === undefined && typeof c.image === "string") c.imagePullPolicy = defaultPullPolicy(c.image);
  if (c.resources === undefined) c.resources = {};
  if (Array.isArray(c.ports)) {
    for (const p of c.ports) if (isRecord(p) && p.protocol === undefined) p.protocol = "TCP";
  }
}

/** SetDefaults_PodSpec and the defaults of its containers and volumes. */
export function defaultPodSpec(spec: JsonObject): void {
  if (spec.restartPolicy === undefined) spec.restartPolicy = "Always";
  if (spec.dnsPolicy === undefined) spec.dnsPolicy = "ClusterFirst";
  if (spec.terminationGracePeriodSeconds === undefined) spec.terminationGracePeriodSeconds = 30;
  if (spec.securityContext === undefined) spec.securityContext = {};
  if (spec.schedulerName === undefined) spec.schedulerName = "default-scheduler";
  for (const key of ["containers", "initContainers"]) {
    const list = spec[key];
    if (Array.isArray(list)) for (const c of list) if (isRecord(c)) defaultContainer(c);
  }
  if (Array.isArray(spec.volumes)) {
    for (const v of spec.volumes) {
      if (!isRecord(v)) continue;
      for (const source of ["secret", "configMap", "projected"]) {
        const s = v[source];
        if (isRecord(s) && s.defaultMode === undefined) s.defaultMode = 420;
      }
    }
  }
}

/** PodStatus.QOSClass as the apiserver computes it on create. */
export function qosClass(spec: JsonObject): string {
  const containers = [
    ...(Array.isArray(spec.containers) ? spec.containers : []),
    ...(Array.isArray(spec.initContainers) ? spec.initContainers : []),
  ].filter(isRecord);
  let hasResources = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const resources = isRecord(c.resources) ? c.resources : {};
    const requests = isRecord(resources.requests) ? resources.requests : {};
    const limits = isRecord(resources.limits) ? resources.limits : {};
    if (Object.keys(requests).length > 0 || Object.keys(limits).length > 0) hasResources = true;
    for (const r of ["cpu", "memory"]) {
      if (limits[r] === undefined) guaranteed = false;
      if (requests[r] !== undefined && requests[r] !== limits[r]) guaranteed = false;
    }
  }
  if (!hasResources) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

const podDef: ResourceDef = {
  apiVersion: "v1",
  resource: "pods",
  singular: "pod",
  kind: "Pod",
  listKind: "PodList",
  namespaced: true,
  shortNames: ["po"],
  nameValidator: dns1123Subdomain,
  returnDeletedObject: true,
  allowCreateOnUpdate: false,
  hasStatus: true,
  tracksGeneration: true,
  fieldSelectors: [
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
  ],
  fieldsOf(obj) {
    const spec = isRecord(obj.spec) ? obj.spec : {};
    const status = isRecord(obj.status) ? obj.status : {};
    return {
      ...metaFields(obj),
      "spec.nodeName": str(spec.nodeName),
      "spec.restartPolicy": str(spec.restartPolicy),
      "spec.schedulerName": str(spec.schedulerName),
      "spec.serviceAccountName": str(spec.serviceAccountName),
      "spec.hostNetwork": spec.hostNetwork === true ? "true" : "false",
      "status.phase": str(status.phase),
      "status.podIP": str(status.podIP),
      "status.nominatedNodeName": str(status.nominatedNodeName),
    };
  },
  applyDefaults(obj) {
    const spec = isRecord(obj.spec) ? obj.spec : {};
    obj.spec = spec;
    defaultPodSpec(spec);
    if (spec.enableServiceLinks === undefined) spec.enableServiceLinks = true;
  },
  prepareForCreate(obj) {
    const spec = isRecord(obj.spec) ? obj.spec : {};
    obj.status = { phase: "Pending", qosClass: qosClass(spec) };
  },
  validate: validatePod,
  validateUpdate: validatePodUpdate,
};

const serviceDef: ResourceDef = {
  apiVersion: "v1",
  resource: "services",
  singular: "service",
  kind: "Service",
  listKind: "ServiceList",
  namespaced: true,
  shortNames: ["svc"],
  nameValidator: dns1035Label,
  returnDeletedObject: true,
  allowCreateOnUpdate: true,
  hasStatus: true,
  tracksGeneration: false,
  fieldSelectors: ["metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"],
  fieldsOf(obj) {
    const spec = isRecord(obj.spec) ? obj.spec : {};
    return { ...metaFields(obj), "spec.clusterIP": str(spec.clusterIP), "spec.type": str(spec.type) };
  },
  applyDefaults(obj) {
    const spec = isRecord(obj.spec) ? obj.spec : {};
    obj.spec = spec;
    if (spec.type === undefined) spec.type = "ClusterIP";
    if (spec.sessionAffinity === undefined) spec.sessionAffinity = "None";
    if (Array.isArray(spec.ports)) {
      for (const p of spec.ports) {
        if (!isRecord(p)) continue;
        if (p.protocol === undefined) p.protocol = "TCP";
        if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === "") p.targetPort = p.port;
      }
    }
    if (spec.type !== "ExternalName") {
      if (spec.internalTrafficPolicy === undefined) spec.internalTrafficPolicy = "Cluster";
      if (spec.ipFamilies === undefined) spec.ipFamilies = ["IPv4"];
      if (spec.ipFamilyPolicy === undefined) spec.ipFamilyPolicy = "SingleStack";
    }
  },
  prepareForCreate(obj) {
    obj.status = { loadBalancer: {} };
  },
  validate: validateService,
  validateUpdate: validateServiceUpdate,
};

const secretDef: ResourceDef = {
  apiVersion: "v1",
  resource: "secrets",
  singular: "secret",
  kind: "Secret",
  listKind: "SecretList",
  namespaced: true,
  shortNames: [],
  nameValidator: dns1123Subdomain,
  returnDeletedObject: false,
  allowCreateOnUpdate: false,
  hasStatus: false,
  tracksGeneration: false,
  fieldSelectors: ["metadata.name", "metadata.namespace", "type"],
  fieldsOf(obj) {
    return { ...metaFields(obj), type: str(obj.type) };
  },
  applyDefaults(obj) {
    if (obj.type === undefined || obj.type === "") obj.type = "Opaque";
  },
  prepareForCreate() {},
  validate: validateSecret,
  validateUpdate: validateSecretUpdate,
};

const endpointsDef: ResourceDef = {
  apiVersion: "v1",
  resource: "endpoints",
  singular: "endpoints",
  kind: "Endpoints",
  listKind: "EndpointsList",
  namespaced: true,
  shortNames: ["ep"],
  nameValidator: dns1123Subdomain,
  returnDeletedObject: false,
  allowCreateOnUpdate: true,
  hasStatus: false,
  tracksGeneration: false,
  fieldSelectors: ["metadata.name", "metadata.namespace"],
  fieldsOf: metaFields,
  applyDefaults(obj) {
    if (Array.isArray(obj.subsets)) {
      for (const s of obj.subsets) {
        if (isRecord(s) && Array.isArray(s.ports)) {
          for (const p of s.ports) if (isRecord(p) && p.protocol === undefined) p.protocol = "TCP";
        }
      }
    }
  },
  prepareForCreate() {},
  validate: validateEndpoints,
  validateUpdate: (next) => validateEndpoints(next),
};

const podTemplateDef: ResourceDef = {
  apiVersion: "v1",
  resource: "podtemplates",
  singular: "podtemplate",
  kind: "PodTemplate",
  listKind: "PodTemplateList",
  namespaced: true,
  shortNames: [],
  nameValidator: dns1123Subdomain,
  returnDeletedObject: true,
  allowCreateOnUpdate: false,
  hasStatus: false,
  tracksGeneration: false,
  fieldSelectors: ["metadata.name", "metadata.namespace"],
  fieldsOf: metaFields,
  applyDefaults(obj) {
    const template = isRecord(obj.template) ? obj.template : undefined;
    if (template && isRecord(template.spec)) defaultPodSpec(template.spec);
  },
  prepareForCreate() {},
  validate: validatePodTemplate,
  validateUpdate: (next) => validatePodTemplate(next),
};

const serviceAccountDef: ResourceDef = {
  apiVersion: "v1",
  resource: "serviceaccounts",
  singular: "serviceaccount",
  kind: "ServiceAccount",
  listKind: "ServiceAccountList",
  namespaced: true,
  shortNames: ["sa"],
  nameValidator: dns1123Subdomain,
  returnDeletedObject: true,
  allowCreateOnUpdate: false,
  hasStatus: false,
  tracksGeneration: false,
  fieldSelectors: ["metadata.name", "metadata.namespace"],
  fieldsOf: metaFields,
  applyDefaults() {},
  prepareForCreate() {},
  validate: () => [],
  validateUpdate: () => [],
};

const namespaceDef: ResourceDef = {
  apiVersion: "v1",
  resource: "namespaces",
  singular: "namespace",
  kind: "Namespace",
  listKind: "NamespaceList",
  namespaced: false,
  shortNames: ["ns"],
  nameValidator: dns1123Label,
  returnDeletedObject: true,
  allowCreateOnUpdate: false,
  hasStatus: true,
  tracksGeneration: false,
  fieldSelectors: ["metadata.name", "status.phase"],
  fieldsOf(obj) {
    const status = isRecord(obj.status) ? obj.status : {};
    return { "metadata.name": obj.metadata.name ?? "", "status.phase": str(status.phase) };
  },
  applyDefaults(obj) {
    // The NamespaceDefaultLabelName feature (GA 1.22) labels every namespace with its name.
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "kubernetes.io/metadata.name": obj.metadata.name ?? "" };
  },
  prepareForCreate(obj) {
    obj.spec = { finalizers: ["kubernetes"] };
    obj.status = { phase: "Active" };
  },
  validate: () => [],
  validateUpdate: () => [],
};

const configMapDef: ResourceDef = {
  apiVersion: "v1",
  resource: "configmaps",
  singular: "configmap",
  kind: "ConfigMap",
  listKind: "ConfigMapList",
  namespaced: true,
  shortNames: ["cm"],
  nameValidator: dns1123Subdomain,
  returnDeletedObject: false,
  allowCreateOnUpdate: false,
  hasStatus: false,
  tracksGeneration: false,
  fieldSelectors: ["metadata.name", "metadata.namespace"],
  fieldsOf: metaFields,
  applyDefaults() {},
  prepareForCreate() {},
  validate: () => [],
  validateUpdate: () => [],
};

/** Porch's CRD group (api/porchconfig/v1alpha1): only the two kinds the runner reads. */
export const PORCH_CONFIG_API_VERSION = "config.porch.kpt.dev/v1alpha1";

/** The FunctionConfig CRD's schema rules that a runner can trip over (image required, one executor). */
function validateFunctionConfig(obj: KubeObject): FieldError[] {
  const spec = isRecord(obj.spec) ? obj.spec : undefined;
  if (spec === undefined) return [fieldErr.required("spec")];
  const errors: FieldError[] = [];
  if (typeof spec.image !== "string" || spec.image.length < 1) errors.push(fieldErr.required("spec.image"));
  if (spec.podExecutor === undefined && spec.binaryExecutor === undefined && spec.goExecutor === undefined) {
    errors.push(fieldErr.invalid("spec", "object", "At least one configuration must be specified"));
  }
  return errors;
}

const functionConfigDef: ResourceDef = {
  apiVersion: PORCH_CONFIG_API_VERSION,
  resource: "functionconfigs",
  singular: "functionconfig",
  kind: "FunctionConfig",
  listKind: "FunctionConfigList",
  namespaced: true,
  shortNames: [],
  nameValidator: dns1123Subdomain,
  returnDeletedObject: true,
  allowCreateOnUpdate: false,
  hasStatus: true,
  tracksGeneration: true,
  fieldSelectors: ["metadata.name", "metadata.namespace"],
  fieldsOf: metaFields,
  applyDefaults(obj) {
    // The CRD's default: podExecutor.timeToLive "30m".
    const spec = isRecord(obj.spec) ? obj.spec : undefined;
    const pod = spec !== undefined && isRecord(spec.podExecutor) ? spec.podExecutor : undefined;
    if (pod !== undefined && pod.timeToLive === undefined) pod.timeToLive = "30m";
  },
  prepareForCreate(obj) {
    delete obj.status;
  },
  validate: validateFunctionConfig,
  validateUpdate: (next) => validateFunctionConfig(next),
};

const serviceTemplateDef: ResourceDef = {
  apiVersion: PORCH_CONFIG_API_VERSION,
  resource: "servicetemplates",
  singular: "servicetemplate",
  kind: "ServiceTemplate",
  listKind: "ServiceTemplateList",
  namespaced: true,
  shortNames: [],
  nameValidator: dns1123Subdomain,
  returnDeletedObject: true,
  allowCreateOnUpdate: false,
  hasStatus: false,
  tracksGeneration: false,
  fieldSelectors: ["metadata.name", "metadata.namespace"],
  fieldsOf: metaFields,
  applyDefaults() {},
  prepareForCreate() {},
  validate: (obj) => (isRecord(obj.template) ? [] : [fieldErr.required("template")]),
  validateUpdate: (next) => (isRecord(next.template) ? [] : [fieldErr.required("template")]),
};

export const RESOURCES: readonly ResourceDef[] = [
  namespaceDef,
  podDef,
  serviceDef,
  endpointsDef,
  secretDef,
  podTemplateDef,
  serviceAccountDef,
  configMapDef,
  functionConfigDef,
  serviceTemplateDef,
];

/**
 * A served resource by plural name; with `apiVersion`, only when it is
 * served under that group/version (`v1`: /api/v1).
 */
export function resourceDef(resource: string, apiVersion?: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.resource === resource && (apiVersion === undefined || r.apiVersion === apiVersion));
}
