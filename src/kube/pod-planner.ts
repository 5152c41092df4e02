/**
 * The imperative shell around the pure pod builders (./pod-spec.ts): from an
 * image name to the Pod and Service that would run it (docs/kubernetes.md).
 *
 * Order, for a custom-registry image: the pull Secret first (before the
 * metadata fetch and before any pod: a pod whose Secret is missing would sit
 * in ImagePullBackOff), then the resolve, then the base PodTemplate, then the
 * pure build. `plan(image, { write: false })` takes the same path without a
 * single write (for `podspec` and POST /v1/pods/spec) and reports what it
 * would do instead.
 */
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import type { AuthSelector } from "../auth/selector.ts";
import type { AuthStrategy } from "../auth/strategy.ts";
import { RunnerError } from "../errors.ts";
import type { ImageResolver, Resolution } from "../resolve/resolver.ts";
import type { Logger } from "../log.ts";
import type { KubeClient } from "./client.ts";
import { applyTemplateOverrides, type TemplateOverrides } from "./function-config.ts";
import type { ServiceTemplateSpec } from "./service-spec.ts";
import { BASE_POD_TEMPLATE_NAME, DEFAULT_POD_POSTFIX, buildFunctionPod, buildFunctionService, podIdForImage } from "./pod-spec.ts";
import type { PullSecretSync, SecretIntent, SecretSyncOutcome } from "./pull-secret.ts";
import { FunctionTemplates, type TemplateInfo, type TemplateSource } from "./templates.ts";

/**
 * Upstream requires WRAPPER_SERVER_IMAGE; ours defaults to the image Porch's
 * own Deployment sets, so a bare
 * `podspec` still shows a runnable pod.
 */
export const DEFAULT_WRAPPER_SERVER_IMAGE = "docker.io/nephio/porch-wrapper-server:latest";

/** `WRAPPER_SERVER_IMAGE` from the environment, else the default. */
export const wrapperServerImageFrom = (env: Record<string, string | undefined>): string => {
  const v = env.WRAPPER_SERVER_IMAGE?.trim();
  return v === undefined || v === "" ? DEFAULT_WRAPPER_SERVER_IMAGE : v;
};


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

/** What `podspec` and POST /v1/pods/spec answer: the plan without the resolver's internals. */
export type PodSpecAnswer = Omit<PodPlan, "resolution"> & { digest: string; entrypoint: string[] };

/** The planner's settings from the flags (the composition root maps them). */
export interface PodPlannerSettings {
  /** `--pod-namespace`. */
  namespace: string;
  /** `--registry-auth-secret-name`: listed in imagePullSecrets of custom-auth pods. */
  pullSecretName: string;
  /** `--max-request-body-size`: passed to the wrapper server. */
  maxRequestBodySize: number;
  /** `--pod-ttl`. */
  podTtlMs: number;
}

export interface PodPlannerOptions extends PodPlannerSettings {
  resolver: ImageResolver;
  auth: AuthSelector;
  pullSecret: PullSecretSync;
  /** The client, or why there is none (then the inline template is used, and writes are refused). */
  client: () => Promise<KubeClient | { unavailable: string }>;
  wrapperServerImage: string;
  /** A FunctionConfig's templateOverrides for an image (what the pod runtime would apply), for `podSpec`. */
  overridesFor?: (image: string) => TemplateOverrides | undefined;
  logger?: Logger;
  /** A template read from the cluster is reused this long (default 10 s). */
  templateTtlMs?: number;
  now?: () => number;
  /**
   * Porch v4's `--function-pod-template`: the ConfigMap (in the runner's
   * namespace) holding `template` and `serviceTemplate`; replaces
   * `base-pod-template` and `base-service-template`.
   */
  functionPodTemplate?: { name: string; namespace: () => string };
}

export interface PlanOptions {
  /** true: ensure the Secret and the template (the pod path); false: read only. */
  write: boolean;
  /** Pod instance ordinal (see podId); default "1". */
  postfix?: string;
  /** Name the pod through generateName (scale-out). */
  generateName?: boolean;
  /** A FunctionConfig's `podExecutor.templateOverrides`, applied to the template as Porch does. */
  overrides?: TemplateOverrides;
  /** Reclaim-after of the new pod: now + this (default `--pod-ttl`). */
  ttlMs?: number;
}

export class PodPlanner {
  private readonly templates: FunctionTemplates;
  private readonly now: () => number;

  constructor(private readonly opts: PodPlannerOptions) {
    this.now = opts.now ?? Date.now;
    this.templates = new FunctionTemplates(opts);
  }

  /** The base Pod template (./templates.ts). */
  template(write: boolean): Promise<TemplateInfo> {
    return this.templates.template(write);
  }

  /** The Service template (./templates.ts). */
  serviceTemplate(write: boolean): Promise<ServiceTemplateSpec> {
    return this.templates.serviceTemplate(write);
  }

  /** The Pod and Service for `image`; see the module comment for the order of steps. */
  async plan(image: string, opts: PlanOptions): Promise<PodPlan> {
    const ref = this.opts.resolver.reference(image);
    const choice = this.opts.auth.choose(ref);
    let action: SecretAction;
    if (choice.strategy === "custom") {
      action = opts.write ? await this.opts.pullSecret.ensure() : await this.opts.pullSecret.intent();
    } else {
      action = choice.cause === "private-disabled" ? "not needed: private registries disabled" : "not needed: default registry";
    }
    // A read-only plan must not let the resolver's hook write the Secret.
    const resolution = await this.opts.resolver.resolve(image, undefined, { skipBeforeFetch: !opts.write });
    const template = await this.template(opts.write);
    const postfix = opts.postfix ?? DEFAULT_POD_POSTFIX;
    const podId = podIdForImage(resolution.metadata, postfix);
    const pullSecret = choice.strategy === "custom" ? this.opts.pullSecretName : undefined;
    const base = template.template;
    const pod = buildFunctionPod({
      template:
        opts.overrides === undefined || base.template === undefined ? base : { ...base, template: applyTemplateOverrides(base.template, opts.overrides) },
      templateVersion: template.version,
      metadata: resolution.metadata,
      namespace: this.opts.namespace,
      maxRequestBodySize: this.opts.maxRequestBodySize,
      ...(pullSecret === undefined ? {} : { pullSecret }),
      reclaimAfter: new Date(this.now() + (opts.ttlMs ?? this.opts.podTtlMs)),
      wrapperServerImage: this.opts.wrapperServerImage,
      podId,
      ...(opts.generateName === undefined ? {} : { generateName: opts.generateName }),
    });
    return {
      image,
      podId,
      pod,
      service: buildFunctionService(pod, podId, await this.serviceTemplate(opts.write)),
      template: {
        name: template.source === "configmap" ? (this.opts.functionPodTemplate?.name ?? BASE_POD_TEMPLATE_NAME) : BASE_POD_TEMPLATE_NAME,
        source: template.source,
        version: template.version,
        ...(template.note === undefined ? {} : { note: template.note }),
      },
      secret: { name: pullSecret ?? null, action },
      auth: { strategy: choice.strategy, reason: choice.reason },
      resolution,
    };
  }

  /**
   * The Pod and Service that would run `image`, and the Secret action that
   * would be taken: no writes. `allowInline`: without Kubernetes, answer with
   * the inline template (the CLI) instead of KUBE_UNAVAILABLE (the service).
   */
  async podSpec(image: string, opts: { allowInline?: boolean } = {}): Promise<PodSpecAnswer> {
    if (opts.allowInline !== true) {
      const c = await this.opts.client();
      if ("unavailable" in c) throw new RunnerError("KUBE_UNAVAILABLE", `cannot build a pod spec for ${image}: no Kubernetes: ${c.unavailable}`);
    }
    const overrides = this.opts.overridesFor?.(image);
    const { resolution, ...plan } = await this.plan(image, { write: false, ...(overrides === undefined ? {} : { overrides }) });
    return { ...plan, digest: resolution.metadata.digest, entrypoint: resolution.metadata.entrypoint };
  }

  /** The pod path: Secret ensured (custom registries), template ensured, Pod and Service built (not created). */
  prepare(image: string, opts: Omit<PlanOptions, "write"> = {}): Promise<PodPlan> {
    return this.plan(image, { ...opts, write: true });
  }
}
