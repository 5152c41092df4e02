/**
 * The ClusterIP Service in front of one function pod (docs/kubernetes.md,
 * docs/evaluation.md), built from Porch's `base-service-template` (a ServiceTemplate,
 * config.porch.kpt.dev/v1alpha1, in the pod namespace) or the
 * `serviceTemplate` of a `--function-pod-template` ConfigMap. Pure. Porch
 * connects through a Service rather than the pod IP so service meshes see a
 * normal Service-to-pod call; the Service outlives pod replacements because
 * it selects on the label, not the pod name.
 */
import type { V1ObjectMeta, V1Pod, V1Service, V1ServiceSpec } from "@kubernetes/client-node";
import { RunnerError } from "../errors.ts";
import { isDns1035Label } from "./pod-id.ts";
import { IMAGE_LABEL, WRAPPER_SERVER_PORT } from "./pod-template.ts";

export const BASE_SERVICE_TEMPLATE_NAME = "base-service-template";
export const SERVICE_TEMPLATE_API_VERSION = "config.porch.kpt.dev/v1alpha1";
const NAME_LABEL = "app.kubernetes.io/name";

/** A ServiceTemplate's `template`: the Service's metadata (labels, annotations) and spec. */
export interface ServiceTemplateSpec {
  metadata?: Pick<V1ObjectMeta, "labels" | "annotations">;
  spec?: V1ServiceSpec;
}

/** The ServiceTemplate object (config.porch.kpt.dev/v1alpha1). */
export interface ServiceTemplate {
  apiVersion: string;
  kind: "ServiceTemplate";
  metadata: V1ObjectMeta;
  template: ServiceTemplateSpec;
}

/**
 * Porch's inline `base-service-template` (func/internal/podmanager.go),
 * created in the pod namespace when absent. A fresh object on every call.
 */
export function defaultServiceTemplate(namespace: string): ServiceTemplate {
  return {
    apiVersion: SERVICE_TEMPLATE_API_VERSION,
    kind: "ServiceTemplate",
    metadata: { name: BASE_SERVICE_TEMPLATE_NAME, namespace },
    template: {
      metadata: {
        annotations: { "internal.kpt.dev/upstream-identifier": "|Service|porch-system|function-runner" },
        labels: { [NAME_LABEL]: "to-be-replaced" },
      },
      spec: {
        selector: { [IMAGE_LABEL]: "to-be-replaced" },
        ports: [{ protocol: "TCP", port: WRAPPER_SERVER_PORT, targetPort: WRAPPER_SERVER_PORT }],
        type: "ClusterIP",
      },
    },
  };
}

/**
 * The Service named `podId` in the pod's namespace: the template's spec as
 * written, its selector's `fn.kpt.dev/image` set to `podId`; its labels
 * (plus `app.kubernetes.io/name=<podId>`) and annotations (but kpt's
 * `internal.kpt.dev/*` bookkeeping). Porch builds the
 * same spec but drops the template's labels and annotations
 * (docs/porch-differences.md).
 *
 * Throws INVALID_ARGUMENT when `podId` is not a DNS-1035 label (the API
 * server would refuse the Service), the pod does not carry the label the
 * Service selects on (it would never get an endpoint), or the template has
 * no ports.
 */
export function buildFunctionService(pod: V1Pod, podId: string, template: ServiceTemplateSpec = defaultServiceTemplate("").template): V1Service {
  if (!isDns1035Label(podId)) {
    throw new RunnerError("INVALID_ARGUMENT", `service name ${JSON.stringify(podId)} is not a DNS-1035 label of at most 63 characters`);
  }
  const label = pod.metadata?.labels?.[IMAGE_LABEL];
  if (label !== podId) {
    throw new RunnerError(
      "INVALID_ARGUMENT",
      `pod label ${IMAGE_LABEL}=${JSON.stringify(label ?? null)} does not match service ${JSON.stringify(podId)}: the service would select no pod`,
    );
  }
  // A deep copy: the template may be a cached cluster object.
  const spec: V1ServiceSpec = structuredClone(template.spec ?? {});
  if (spec.ports === undefined || spec.ports.length === 0) {
    throw new RunnerError("INVALID_ARGUMENT", "the service template has no ports: the wrapper server (port 9446) would be unreachable");
  }
  spec.selector = { ...spec.selector, [IMAGE_LABEL]: podId };
  const namespace = pod.metadata?.namespace;
  // `internal.kpt.dev/*` records where the template itself came from (kpt bookkeeping), not the Service.
  const annotations = Object.fromEntries(Object.entries(template.metadata?.annotations ?? {}).filter(([k]) => !k.startsWith("internal.kpt.dev/")));
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: podId,
      ...(namespace === undefined ? {} : { namespace }),
      // As Porch's template, so `kubectl get svc -l app.kubernetes.io/name=<id>` finds it.
      labels: { ...template.metadata?.labels, [NAME_LABEL]: podId },
      ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
    },
    spec,
  };
}
