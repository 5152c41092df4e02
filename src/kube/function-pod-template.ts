/**
 * Porch v4's `--function-pod-template NAME`: a ConfigMap in the runner's own
 * namespace whose `template` key holds a Pod (YAML or JSON) and whose
 * optional `serviceTemplate` key holds a Service (deployments/function-pods/
 * in Porch). Pure: the ConfigMap's data in, a PodTemplate and a service
 * template out. Its resourceVersion is the pods' template version, as in
 * Porch v4.1.2.
 *
 * Like Go's decoder, unknown fields are ignored: Porch's own example puts
 * `annotations` at the top of the Pod (not under `metadata`), which Porch
 * never sees, so neither do we.
 */
import type { V1ObjectMeta, V1PodSpec, V1PodTemplate, V1ServiceSpec } from "@kubernetes/client-node";
import { parse } from "yaml";
import { z } from "zod";
import { RunnerError } from "../errors.ts";
import type { ServiceTemplateSpec } from "./service-spec.ts";

const StringMap = z.record(z.string(), z.string());
const Manifest = z.object({
  metadata: z.object({ labels: StringMap.nullish(), annotations: StringMap.nullish() }).nullish(),
  spec: z.record(z.string(), z.unknown()).nullish(),
});

export interface FunctionPodTemplate {
  template: V1PodTemplate;
  /** From `serviceTemplate`, when the ConfigMap has one. */
  serviceTemplate?: ServiceTemplateSpec;
}

function manifest(text: string, what: string): { metadata: Pick<V1ObjectMeta, "labels" | "annotations">; spec: Record<string, unknown> } {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new RunnerError("INVALID_ARGUMENT", `${what}: not valid YAML: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}`);
  }
  const r = Manifest.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new RunnerError("INVALID_ARGUMENT", `${what}: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  const m = r.data.metadata;
  const metadata: Pick<V1ObjectMeta, "labels" | "annotations"> = {};
  if (m?.labels != null) metadata.labels = m.labels;
  if (m?.annotations != null) metadata.annotations = m.annotations;
  return { metadata, spec: r.data.spec ?? {} };
}

/** The ConfigMap's data → the pod template (and service template). Throws INVALID_ARGUMENT naming the ConfigMap and key. */
export function functionPodTemplateFrom(data: Record<string, string> | undefined, where: string): FunctionPodTemplate {
  const text = data?.template;
  if (text === undefined || text.trim() === "") throw new RunnerError("INVALID_ARGUMENT", `ConfigMap ${where} has no "template" key holding a Pod`);
  const pod = manifest(text, `ConfigMap ${where} key "template"`);
  // Validated by the API server when the pod is created; here only its shape matters.
  const spec = pod.spec as unknown as V1PodSpec;
  const template: V1PodTemplate = { apiVersion: "v1", kind: "PodTemplate", metadata: { name: where }, template: { metadata: pod.metadata, spec } };
  const serviceText = data?.serviceTemplate;
  if (serviceText === undefined || serviceText.trim() === "") return { template };
  const svc = manifest(serviceText, `ConfigMap ${where} key "serviceTemplate"`);
  return { template, serviceTemplate: { metadata: svc.metadata, spec: svc.spec as V1ServiceSpec } };
}
