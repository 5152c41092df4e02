/**
 * Function pod specs (docs/kubernetes.md, "Pods"). Pure: the
 * base PodTemplate, the image metadata and the pod id come in, a Pod comes
 * out; reading or creating `base-pod-template` is the caller's job.
 *
 * The pod id lives in ./pod-id.ts, the default template and the contract's
 * names in ./pod-template.ts, the Service in ./service-spec.ts; all are
 * re-exported here so callers import one module.
 */
import type { V1Container, V1LocalObjectReference, V1Pod, V1PodTemplate } from "@kubernetes/client-node";
import { RunnerError } from "../errors.ts";
import type { ImageMetadata } from "../image/metadata.ts";
import { pinnedReference } from "../image/reference.ts";
import { isDns1035Label } from "./pod-id.ts";
import {
  FUNCTION_CONTAINER_NAME,
  IMAGE_LABEL,
  RECLAIM_AFTER_ANNOTATION,
  TEMPLATE_VERSION_ANNOTATION,
  WRAPPER_INIT_CONTAINER_NAME,
  WRAPPER_SERVER_BIN,
  WRAPPER_SERVER_PORT,
} from "./pod-template.ts";

export * from "./pod-id.ts";
export * from "./pod-template.ts";
export * from "./service-spec.ts";

export interface FunctionPodOptions {
  /** `base-pod-template` as read from the pod namespace, or `defaultPodTemplate()`. Never mutated. */
  template: V1PodTemplate;
  /** Its resourceVersion (see `templateVersionOf`): pods of an older template are replaced. */
  templateVersion: string;
  /** The resolved image: the pod runs `registry/repository@digest` with `entrypoint` behind the wrapper. */
  metadata: Pick<ImageMetadata, "registry" | "repository" | "digest" | "entrypoint">;
  /** `--pod-namespace`. */
  namespace: string;
  /** `--max-request-body-size`, handed to the wrapper server. */
  maxRequestBodySize: number;
  /** The registry auth Secret: only for custom-registry images (docs/kubernetes.md). */
  pullSecret?: string;
  /** When the pod may be garbage-collected (now + TTL). */
  reclaimAfter: Date;
  /** `WRAPPER_SERVER_IMAGE`: pinned on the `copy-wrapper-server` init container. */
  wrapperServerImage: string;
  /** From `podId()`: the label value, the Service name and (without `generateName`) the pod name. */
  podId: string;
  /**
   * Name the pod `<podId>-<random>` through `metadata.generateName` instead of
   * `podId`, as upstream does when it scales out: pod names then never clash
   * with a terminating predecessor. Default false (fixed name, as warm-up).
   */
  generateName?: boolean;
}

const invalid = (message: string): never => {
  throw new RunnerError("INVALID_ARGUMENT", message);
};

/** Wrapper-server args: `--port 9446 --max-request-body-size N -- ENTRYPOINT...`. */
export function wrapperServerArgs(maxRequestBodySize: number, entrypoint: readonly string[]): string[] {
  return ["--port", String(WRAPPER_SERVER_PORT), "--max-request-body-size", String(maxRequestBodySize), "--", ...entrypoint];
}

/**
 * `secrets` with `name` present exactly once: appended when missing, later
 * repeats of any name dropped (the kubelet would only try them twice). A new
 * array; the input is not touched.
 */
export function withPullSecret(secrets: readonly V1LocalObjectReference[] | undefined, name: string): V1LocalObjectReference[] {
  const seen = new Set<string>();
  const out: V1LocalObjectReference[] = [];
  for (const s of [...(secrets ?? []), { name }]) {
    const key = s.name ?? "";
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ...s });
  }
  return out;
}

/**
 * The function pod for one image.
 *
 * From the template it keeps everything (its labels, annotations, volumes,
 * imagePullSecrets, security settings, resources...) and patches:
 * - the `function` container: image `registry/repository@digest` (pinned, so
 *   a moved tag cannot change what runs; the index digest, so the kubelet
 *   still picks the node's platform), args appended after the template's own
 *   (as upstream), and the wrapper-server command when the template sets
 *   none (a template that sets one owns its entrypoint, per Porch's template
 *   contract);
 * - the `copy-wrapper-server` init container's image, to
 *   `WRAPPER_SERVER_IMAGE`: the runner and its wrapper server ship together,
 *   so the wrapper must not stay pinned to whatever the template was created
 *   with;
 * - `imagePullSecrets`: plus `pullSecret`, exactly once;
 * - label `fn.kpt.dev/image=<podId>`; annotations template-version and
 *   reclaim-after (unix seconds, as Porch v4.1.2's GC parses them). Every
 *   other annotation comes from the template as written (Porch's templates
 *   carry `cluster-autoscaler.kubernetes.io/safe-to-evict`; a template
 *   without it gets pods without it).
 *
 * Throws INVALID_ARGUMENT for a template without a spec or a `function`
 * container, an invalid pod id or body size; NO_ENTRYPOINT for an image with
 * nothing to run; INVALID_REFERENCE for a digest that cannot be pinned.
 */
export function buildFunctionPod(opts: FunctionPodOptions): V1Pod {
  const { metadata, podId } = opts;
  if (!isDns1035Label(podId)) invalid(`pod id ${JSON.stringify(podId)} is not a DNS-1035 label of at most 63 characters`);
  if (!Number.isSafeInteger(opts.maxRequestBodySize) || opts.maxRequestBodySize <= 0) {
    invalid(`max request body size must be a positive integer, got ${opts.maxRequestBodySize}`);
  }
  const reclaimAfterMs = opts.reclaimAfter.getTime();
  if (Number.isNaN(reclaimAfterMs)) invalid("reclaim-after is not a valid date");
  if (opts.wrapperServerImage === "") invalid("the wrapper server image (WRAPPER_SERVER_IMAGE) is empty");
  if (metadata.entrypoint.length === 0) {
    throw new RunnerError(
      "NO_ENTRYPOINT",
      `${metadata.registry}/${metadata.repository}@${metadata.digest} has neither Entrypoint nor Cmd: the wrapper server would have nothing to run`,
    );
  }
  const image = pinnedReference(metadata, metadata.digest);

  const sourceSpec = opts.template.template?.spec;
  if (sourceSpec === undefined) {
    return invalid(`pod template ${JSON.stringify(opts.template.metadata?.name ?? "")} has no template.spec`);
  }
  // A deep copy: the template may be a cached cluster object shared by
  // every pod build, and client-node models are plain mutable objects.
  const spec = structuredClone(sourceSpec);
  // `containers` is required by the type but a hand-written cluster object may still lack it.
  const containers: V1Container[] | undefined = spec.containers;
  const fn = containers?.find((c) => c.name === FUNCTION_CONTAINER_NAME);
  if (fn === undefined) {
    return invalid(`pod template ${JSON.stringify(opts.template.metadata?.name ?? "")} has no container named "${FUNCTION_CONTAINER_NAME}"`);
  }
  fn.image = image;
  if (fn.command === undefined || fn.command.length === 0) fn.command = [WRAPPER_SERVER_BIN];
  fn.args = [...(fn.args ?? []), ...wrapperServerArgs(opts.maxRequestBodySize, metadata.entrypoint)];

  for (const init of spec.initContainers ?? []) {
    if (init.name === WRAPPER_INIT_CONTAINER_NAME) init.image = opts.wrapperServerImage;
  }

  if (opts.pullSecret !== undefined && opts.pullSecret !== "") {
    spec.imagePullSecrets = withPullSecret(spec.imagePullSecrets, opts.pullSecret);
  }

  // Only labels and annotations carry over from the template's pod metadata:
  // a name, uid or resourceVersion there would belong to something else.
  const source = opts.template.template?.metadata;
  const labels: Record<string, string> = { ...source?.labels, [IMAGE_LABEL]: podId };
  const annotations: Record<string, string> = {
    ...source?.annotations,
    [TEMPLATE_VERSION_ANNOTATION]: opts.templateVersion,
    [RECLAIM_AFTER_ANNOTATION]: String(Math.floor(reclaimAfterMs / 1000)),
  };

  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...(opts.generateName === true ? { generateName: `${podId}-` } : { name: podId }),
      namespace: opts.namespace,
      labels,
      annotations,
    },
    spec,
  };
}
