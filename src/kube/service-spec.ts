/**
 * The ClusterIP Service in front of one function pod (design.md §1 items 9
 * and 10). Pure. Upstream connects through a Service rather than the pod IP
 * so service meshes see a normal Service-to-pod call; the Service outlives
 * pod replacements because it selects on the label, not the pod name.
 */
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import { RunnerError } from "../errors.ts";
import { isDns1035Label } from "./pod-id.ts";
import { IMAGE_LABEL, WRAPPER_SERVER_PORT } from "./pod-template.ts";

/** Service port name: `grpc` lets meshes (Istio's naming convention) pick HTTP/2 without sniffing. */
export const SERVICE_PORT_NAME = "grpc";

/**
 * The Service named `podId` in the pod's namespace, selecting
 * `fn.kpt.dev/image=<podId>`, port 9446 → 9446.
 *
 * Throws INVALID_ARGUMENT when `podId` is not a DNS-1035 label (the API
 * server would refuse the Service) or the pod does not carry the label the
 * Service selects on (it would never get an endpoint).
 */
export function buildFunctionService(pod: V1Pod, podId: string): V1Service {
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
  const namespace = pod.metadata?.namespace;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: podId,
      ...(namespace === undefined ? {} : { namespace }),
      // As upstream, so `kubectl get svc -l app.kubernetes.io/name=<id>` finds it.
      labels: { "app.kubernetes.io/name": podId },
    },
    spec: {
      type: "ClusterIP",
      selector: { [IMAGE_LABEL]: podId },
      ports: [{ name: SERVICE_PORT_NAME, protocol: "TCP", port: WRAPPER_SERVER_PORT, targetPort: WRAPPER_SERVER_PORT }],
    },
  };
}
