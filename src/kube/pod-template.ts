/**
 * The base PodTemplate function pods are built from (docs/kubernetes.md)
 * and the names, ports and paths its contract fixes. Pure.
 *
 * The inline default mirrors Porch's (func/internal/podmanager.go and the
 * "Pod Templates" docs): an init container copies the wrapper server and
 * grpc-health-probe from the wrapper-server image into an emptyDir, and the
 * `function` container, whose image is replaced by the function's, starts
 * the wrapper server from there.
 */
import type { V1PodTemplate } from "@kubernetes/client-node";

/** Name of the PodTemplate in the pod namespace (created from the default when absent). */
export const BASE_POD_TEMPLATE_NAME = "base-pod-template";
/** Upstream's template version for its inline template, used until the cluster object has a resourceVersion. */
export const INLINE_TEMPLATE_VERSION = "inline-v1";

export const FUNCTION_CONTAINER_NAME = "function";
export const WRAPPER_INIT_CONTAINER_NAME = "copy-wrapper-server";
export const WRAPPER_VOLUME_NAME = "wrapper-server-tools";
export const WRAPPER_MOUNT_PATH = "/wrapper-server-tools";
export const WRAPPER_SERVER_BIN = `${WRAPPER_MOUNT_PATH}/wrapper-server`;
export const GRPC_HEALTH_PROBE_BIN = `${WRAPPER_MOUNT_PATH}/grpc-health-probe`;
/**
 * Where upstream's wrapper-server image keeps its binaries. Copied as
 * `dir/.` because the init container runs `cp` without a shell, so a `*`
 * glob would not be expanded.
 */
export const WRAPPER_SERVER_SOURCE_DIR = "/home/nonroot/wrapper-server";
/** The wrapper server's gRPC port, in the pod and on its Service. */
export const WRAPPER_SERVER_PORT = 9446;

export const IMAGE_LABEL = "fn.kpt.dev/image";
export const TEMPLATE_VERSION_ANNOTATION = "fn.kpt.dev/template-version";
export const RECLAIM_AFTER_ANNOTATION = "fn.kpt.dev/reclaim-after";
export const SAFE_TO_EVICT_ANNOTATION = "cluster-autoscaler.kubernetes.io/safe-to-evict";

/** Placeholder for the function image, as upstream: always replaced. */
export const FUNCTION_IMAGE_PLACEHOLDER = "to-be-replaced";

export interface DefaultPodTemplateOptions {
  /** `WRAPPER_SERVER_IMAGE`. */
  wrapperServerImage: string;
  /** The pod namespace (`--pod-namespace`). */
  namespace: string;
  /** Defaults to `base-pod-template`. */
  name?: string;
}

/**
 * The PodTemplate to create in the pod namespace when `base-pod-template`
 * is absent. A fresh object on every call, so callers may mutate it.
 */
export function defaultPodTemplate(opts: DefaultPodTemplateOptions): V1PodTemplate {
  const mount = { name: WRAPPER_VOLUME_NAME, mountPath: WRAPPER_MOUNT_PATH };
  return {
    apiVersion: "v1",
    kind: "PodTemplate",
    metadata: { name: opts.name ?? BASE_POD_TEMPLATE_NAME, namespace: opts.namespace },
    template: {
      metadata: {
        // Function pods hold no state: let the autoscaler drain their nodes.
        annotations: { [SAFE_TO_EVICT_ANNOTATION]: "true" },
      },
      spec: {
        // Function code needs no Kubernetes API access; upstream leaves the
        // token mounted, which hands every function the namespace's default SA.
        automountServiceAccountToken: false,
        initContainers: [
          {
            name: WRAPPER_INIT_CONTAINER_NAME,
            image: opts.wrapperServerImage,
            command: ["cp", "-a", `${WRAPPER_SERVER_SOURCE_DIR}/.`, WRAPPER_MOUNT_PATH],
            volumeMounts: [{ ...mount }],
          },
        ],
        containers: [
          {
            name: FUNCTION_CONTAINER_NAME,
            image: FUNCTION_IMAGE_PLACEHOLDER,
            command: [WRAPPER_SERVER_BIN],
            // As upstream's current default: the wrapper server exports
            // metrics for Prometheus and no traces.
            env: [
              { name: "OTEL_METRICS_EXPORTER", value: "prometheus" },
              { name: "OTEL_TRACES_EXPORTER", value: "none" },
              { name: "OTEL_EXPORTER_PROMETHEUS_HOST", value: "0.0.0.0" },
            ],
            // grpc.health.v1 on the wrapper server, through the probe binary
            // the init container copied (upstream's choice; it works on
            // clusters without the native gRPC probe too).
            readinessProbe: {
              exec: { command: [GRPC_HEALTH_PROBE_BIN, "-addr", `localhost:${WRAPPER_SERVER_PORT}`] },
            },
            volumeMounts: [{ ...mount }],
          },
        ],
        volumes: [{ name: WRAPPER_VOLUME_NAME, emptyDir: {} }],
      },
    },
  };
}

/**
 * `fn.kpt.dev/template-version` for a template: its resourceVersion once it
 * lives in the cluster, else upstream's inline version, so a pod built
 * before the template was stored is replaced once it is.
 */
export function templateVersionOf(template: V1PodTemplate): string {
  const rv = template.metadata?.resourceVersion;
  return rv === undefined || rv === "" ? INLINE_TEMPLATE_VERSION : rv;
}
