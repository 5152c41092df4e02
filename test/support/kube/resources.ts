// The resources served, each with the facts of its real registry strategy
// that the runner can observe: name rule, defaults, status subresource,
// generation, what DELETE answers, validation. All are namespaced: the
// runner reads and writes only in its namespaces. core/v1 under /api/v1;
// Porch's FunctionConfig and ServiceTemplate under /apis (their CRD rules).
import type { FieldError } from "./status.ts";
import { type KubeObject, isRecord } from "./types.ts";
import {
  type NameValidator,
  dns1035Label,
  dns1123Subdomain,
  validateFunctionConfig,
  validatePod,
  validatePodTemplate,
  validatePodUpdate,
  validateSecret,
  validateSecretUpdate,
  validateService,
} from "./validation.ts";

export interface ResourceDef {
  /** `v1` for core; `GROUP/VERSION` for the custom resources. */
  apiVersion: string;
  resource: string;
  kind: string;
  nameValidator: NameValidator;
  /** genericregistry.Store.ReturnDeletedObject: DELETE answers the object, else a Success Status. */
  returnDeletedObject: boolean;
  /** Has a /status subresource: status is ignored on writes to the main resource. */
  hasStatus: boolean;
  /** metadata.generation is set and bumped on spec changes. */
  tracksGeneration: boolean;
  /** SetDefaults_* (create, update and patch results). */
  applyDefaults(obj: KubeObject): void;
  /** The status PrepareForCreate leaves (undefined: none). */
  initialStatus?: () => Record<string, unknown>;
  validate(obj: KubeObject): FieldError[];
  validateUpdate(next: KubeObject, old: KubeObject): FieldError[];
}

/** The Porch CRD group (api/porchconfig/v1alpha1): the two kinds the runner reads. */
export const PORCH_CONFIG_API_VERSION = "config.porch.kpt.dev/v1alpha1";

const none = (): FieldError[] => [];
const plain = (apiVersion: string, resource: string, kind: string, more: Partial<ResourceDef> = {}): ResourceDef => ({
  apiVersion,
  resource,
  kind,
  nameValidator: dns1123Subdomain,
  returnDeletedObject: true,
  hasStatus: false,
  tracksGeneration: false,
  applyDefaults: () => undefined,
  validate: none,
  validateUpdate: none,
  ...more,
});

export const RESOURCES: readonly ResourceDef[] = [
  plain("v1", "pods", "Pod", {
    hasStatus: true,
    tracksGeneration: true,
    initialStatus: () => ({ phase: "Pending" }),
    validate: validatePod,
    validateUpdate: validatePodUpdate,
  }),
  plain("v1", "services", "Service", {
    nameValidator: dns1035Label,
    hasStatus: true,
    initialStatus: () => ({ loadBalancer: {} }),
    applyDefaults(obj) {
      const spec = isRecord(obj.spec) ? obj.spec : (obj.spec = {});
      spec.type ??= "ClusterIP";
      for (const p of Array.isArray(spec.ports) ? spec.ports.filter(isRecord) : []) {
        p.protocol ??= "TCP";
        if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === "") p.targetPort = p.port;
      }
    },
    validate: validateService,
    validateUpdate: validateService,
  }),
  plain("v1", "endpoints", "Endpoints", { returnDeletedObject: false }),
  plain("v1", "secrets", "Secret", {
    returnDeletedObject: false,
    applyDefaults(obj) {
      if (!obj.type) obj.type = "Opaque";
    },
    validate: validateSecret,
    validateUpdate: validateSecretUpdate,
  }),
  plain("v1", "configmaps", "ConfigMap", { returnDeletedObject: false }),
  plain("v1", "podtemplates", "PodTemplate", { validate: validatePodTemplate, validateUpdate: validatePodTemplate }),
  plain("v1", "serviceaccounts", "ServiceAccount"),
  plain(PORCH_CONFIG_API_VERSION, "functionconfigs", "FunctionConfig", {
    hasStatus: true,
    tracksGeneration: true,
    applyDefaults(obj) {
      // The CRD's default: podExecutor.timeToLive "30m".
      const pod = isRecord(obj.spec) && isRecord(obj.spec.podExecutor) ? obj.spec.podExecutor : undefined;
      if (pod !== undefined) pod.timeToLive ??= "30m";
    },
    validate: validateFunctionConfig,
    validateUpdate: validateFunctionConfig,
  }),
  plain(PORCH_CONFIG_API_VERSION, "servicetemplates", "ServiceTemplate", {
    validate: (obj) => (isRecord(obj.template) ? [] : [{ type: "FieldValueRequired", field: "template", body: "Required value" }]),
    validateUpdate: (obj) => (isRecord(obj.template) ? [] : [{ type: "FieldValueRequired", field: "template", body: "Required value" }]),
  }),
];

/** A served resource by plural name; with `apiVersion`, only when served under that group/version. */
export const resourceDef = (resource: string, apiVersion?: string): ResourceDef | undefined =>
  RESOURCES.find((r) => r.resource === resource && (apiVersion === undefined || r.apiVersion === apiVersion));
