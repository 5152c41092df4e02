/**
 * The imperative shell around the pure pod builders (./pod-spec.ts): from an
 * image name to the Pod and Service that would run it (design.md §1 items 5,
 * 6, 9; issue 5 item 3).
 *
 * Order, for a custom-registry image: the pull Secret first (before the
 * metadata fetch and before any pod: a pod whose Secret is missing would sit
 * in ImagePullBackOff), then the resolve, then the base PodTemplate, then the
 * pure build. `plan(image, { write: false })` takes the same path without a
 * single write (for `podspec` and POST /v1/pods/spec) and reports what it
 * would do instead.
 */
import type { V1Pod, V1PodTemplate, V1Service } from "@kubernetes/client-node";
import type { AuthSelector } from "../auth/selector.ts";
import type { AuthStrategy } from "../auth/strategy.ts";
import { RunnerError } from "../errors.ts";
import type { ImageResolver, Resolution } from "../image/resolver.ts";
import type { Logger } from "../log.ts";
import type { KubeClient } from "./client.ts";
import { type KubeOperation, isAlreadyExists } from "./errors.ts";
import {
  BASE_POD_TEMPLATE_NAME,
  DEFAULT_POD_POSTFIX,
  buildFunctionPod,
  buildFunctionService,
  defaultPodTemplate,
  podIdForImage,
  templateVersionOf,
} from "./pod-spec.ts";
import type { PullSecretSync, SecretIntent, SecretSyncOutcome } from "./pull-secret.ts";

/**
 * Upstream requires WRAPPER_SERVER_IMAGE; ours defaults to the image Porch's
 * own deployment and docs name, so a bare `podspec` still shows a runnable pod.
 */
export const DEFAULT_WRAPPER_SERVER_IMAGE = "ghcr.io/kptdev/porch-wrapper-server:latest";

/** `WRAPPER_SERVER_IMAGE` from the environment, else the default. */
export const wrapperServerImageFrom = (env: Record<string, string | undefined>): string => {
  const v = env.WRAPPER_SERVER_IMAGE?.trim();
  return v === undefined || v === "" ? DEFAULT_WRAPPER_SERVER_IMAGE : v;
};

export type TemplateSource = "cluster" | "created" | "inline";

export interface TemplateInfo {
  template: V1PodTemplate;
  /** `fn.kpt.dev/template-version`: the cluster object's resourceVersion, or the inline version. */
  version: string;
  source: TemplateSource;
  /** Why the inline template was used, or what a write would do. */
  note?: string;
}

/** What the pull Secret needs (or needed) for this image. */
export type SecretAction = SecretIntent | SecretSyncOutcome | `not needed: ${string}`;

export interface PodPlan {
  image: string;
  podId: string;
  pod: V1Pod;
  service: V1Service;
  template: { name: string; source: TemplateSource; version: string; note?: string };
  secret: { name: string | null; action: SecretAction };
  auth: { strategy: AuthStrategy; reason: string };
  resolution: Resolution;
}

export interface PodPlannerOptions {
  resolver: ImageResolver;
  auth: AuthSelector;
  pullSecret: PullSecretSync;
  /** The client, or why there is none (then the inline template is used, and writes are refused). */
  client: () => Promise<KubeClient | { unavailable: string }>;
  namespace: string;
  pullSecretName: string;
  maxRequestBodySize: number;
  podTtlMs: number;
  wrapperServerImage: string;
  logger?: Logger;
  /** A template read from the cluster is reused this long (default 10 s). */
  templateTtlMs?: number;
  now?: () => number;
}

export interface PlanOptions {
  /** true: ensure the Secret and the template (the pod path); false: read only. */
  write: boolean;
  /** Pod instance ordinal (see podId); default "1". */
  postfix?: string;
  /** Name the pod through generateName (scale-out). */
  generateName?: boolean;
}

export class PodPlanner {
  private cachedTemplate: { info: TemplateInfo; until: number } | undefined;
  private inflightTemplate: Promise<TemplateInfo> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: PodPlannerOptions) {
    this.now = opts.now ?? Date.now;
  }

  private inline(note: string): TemplateInfo {
    const template = defaultPodTemplate({ wrapperServerImage: this.opts.wrapperServerImage, namespace: this.opts.namespace });
    return { template, version: templateVersionOf(template), source: "inline", note };
  }

  private op(verb: KubeOperation["verb"]): KubeOperation {
    return { verb, resource: "podtemplates", namespace: this.opts.namespace, name: BASE_POD_TEMPLATE_NAME };
  }

  private read(client: KubeClient): Promise<V1PodTemplate | undefined> {
    return client.find(this.op("get"), (core) => core.readNamespacedPodTemplate({ name: BASE_POD_TEMPLATE_NAME, namespace: this.opts.namespace }));
  }

  /**
   * `base-pod-template` of the pod namespace. `write`: created from the
   * inline default when absent (AlreadyExists from a racing replica → read
   * theirs). Read-only: absent → the inline default, noted as "would be
   * created"; no Kubernetes → the inline default, noted with the reason.
   */
  async template(write: boolean): Promise<TemplateInfo> {
    const c = this.cachedTemplate;
    if (c !== undefined && this.now() < c.until) return c.info;
    if (write) {
      if (this.inflightTemplate === undefined) {
        this.inflightTemplate = this.ensureTemplate().finally(() => {
          this.inflightTemplate = undefined;
        });
      }
      return this.inflightTemplate;
    }
    const client = await this.opts.client();
    if ("unavailable" in client) return this.inline(`no Kubernetes (${client.unavailable}): the inline default template is used`);
    const found = await this.read(client);
    if (found === undefined) {
      return this.inline(`${BASE_POD_TEMPLATE_NAME} does not exist in ${this.opts.namespace}: it would be created from the inline default`);
    }
    return this.remember({ template: found, version: templateVersionOf(found), source: "cluster" });
  }

  private remember(info: TemplateInfo): TemplateInfo {
    this.cachedTemplate = { info, until: this.now() + (this.opts.templateTtlMs ?? 10_000) };
    return info;
  }

  private async ensureTemplate(): Promise<TemplateInfo> {
    const client = await this.opts.client();
    if ("unavailable" in client) {
      throw new RunnerError("KUBE_UNAVAILABLE", `cannot create function pods: ${client.unavailable}`);
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await this.read(client);
      if (found !== undefined) return this.remember({ template: found, version: templateVersionOf(found), source: "cluster" });
      const body = defaultPodTemplate({ wrapperServerImage: this.opts.wrapperServerImage, namespace: this.opts.namespace });
      try {
        const created = await client.call(this.op("create"), (core) => core.createNamespacedPodTemplate({ namespace: this.opts.namespace, body }));
        this.opts.logger?.info("base pod template created", { namespace: this.opts.namespace, name: BASE_POD_TEMPLATE_NAME });
        return this.remember({ template: created, version: templateVersionOf(created), source: "created" });
      } catch (e) {
        // Another replica created it first: use theirs.
        if (!isAlreadyExists(e)) throw e;
      }
    }
    throw new RunnerError("KUBE_UNAVAILABLE", `${BASE_POD_TEMPLATE_NAME} in ${this.opts.namespace} kept appearing and vanishing`);
  }

  /** The Pod and Service for `image`; see the module comment for the order of steps. */
  async plan(image: string, opts: PlanOptions): Promise<PodPlan> {
    const ref = this.opts.resolver.reference(image);
    const choice = this.opts.auth.choose(ref);
    let action: SecretAction;
    if (choice.strategy === "custom") {
      action = opts.write ? await this.opts.pullSecret.ensure() : await this.opts.pullSecret.intent();
    } else {
      action = choice.reason.startsWith("private registries are disabled") ? "not needed: private registries disabled" : "not needed: default registry";
    }
    // A read-only plan must not let the resolver's hook write the Secret.
    const resolution = await this.opts.resolver.resolve(image, undefined, { skipBeforeFetch: !opts.write });
    const template = await this.template(opts.write);
    const postfix = opts.postfix ?? DEFAULT_POD_POSTFIX;
    const podId = podIdForImage(resolution.metadata, postfix);
    const pullSecret = choice.strategy === "custom" ? this.opts.pullSecretName : undefined;
    const pod = buildFunctionPod({
      template: template.template,
      templateVersion: template.version,
      metadata: resolution.metadata,
      namespace: this.opts.namespace,
      maxRequestBodySize: this.opts.maxRequestBodySize,
      ...(pullSecret === undefined ? {} : { pullSecret }),
      reclaimAfter: new Date(this.now() + this.opts.podTtlMs),
      wrapperServerImage: this.opts.wrapperServerImage,
      podId,
      ...(opts.generateName === undefined ? {} : { generateName: opts.generateName }),
    });
    return {
      image,
      podId,
      pod,
      service: buildFunctionService(pod, podId),
      template: {
        name: BASE_POD_TEMPLATE_NAME,
        source: template.source,
        version: template.version,
        ...(template.note === undefined ? {} : { note: template.note }),
      },
      secret: { name: pullSecret ?? null, action },
      auth: { strategy: choice.strategy, reason: choice.reason },
      resolution,
    };
  }
}
