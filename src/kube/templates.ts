/**
 * The templates function pods and Services are built from: Porch's
 * `base-pod-template` PodTemplate and `base-service-template` ServiceTemplate
 * in the pod namespace (created from the inline defaults when absent), or
 * `--function-pod-template`'s ConfigMap; the inline defaults without
 * Kubernetes or without permission. Read ones are reused for a short TTL
 * (docs/kubernetes.md).
 */
import type { V1PodTemplate } from "@kubernetes/client-node";
import { RunnerError } from "../errors.ts";
import type { LogFields, Logger } from "../log.ts";
import type { KubeClient } from "./client.ts";
import { type KubeOperation, isAlreadyExists, isKubeApiError } from "./errors.ts";
import { type FunctionPodTemplate, functionPodTemplateFrom } from "./function-pod-template.ts";
import { BASE_POD_TEMPLATE_NAME, defaultPodTemplate, templateVersionOf } from "./pod-spec.ts";
import { BASE_SERVICE_TEMPLATE_NAME, SERVICE_TEMPLATE_API_VERSION, type ServiceTemplateSpec, defaultServiceTemplate } from "./service-spec.ts";

export type TemplateSource = "cluster" | "created" | "inline" | "configmap";

export interface TemplateInfo {
  template: V1PodTemplate;
  /** `fn.kpt.dev/template-version`: the cluster object's resourceVersion, or the inline version. */
  version: string;
  source: TemplateSource;
  /** Why the inline template was used, or what a write would do. */
  note?: string;
}

/** What the templates need from the planner's options. */
export interface FunctionTemplatesOptions {
  namespace: string;
  wrapperServerImage: string;
  client: () => Promise<KubeClient | { unavailable: string }>;
  logger?: Logger;
  /** A template read from the cluster is reused this long (default 10 s). */
  templateTtlMs?: number;
  now?: () => number;
  functionPodTemplate?: { name: string; namespace: () => string };
}

export class FunctionTemplates {
  private cachedTemplate: { info: TemplateInfo; until: number } | undefined;
  private inflightTemplate: Promise<TemplateInfo> | undefined;
  private cachedService: { spec: ServiceTemplateSpec; until: number } | undefined;
  private inflightService: Promise<ServiceTemplateSpec> | undefined;
  /** Warnings said once (a missing permission or CRD does not change between calls). */
  private readonly warned = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly opts: FunctionTemplatesOptions) {
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

  private warnOnce(key: string, msg: string, fields: LogFields): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.opts.logger?.warn(msg, fields);
  }

  /** `--function-pod-template`'s ConfigMap, parsed; its resourceVersion is the template version. */
  private async readConfigMap(client: KubeClient): Promise<{ parsed: FunctionPodTemplate; version: string; where: string }> {
    const fpt = this.opts.functionPodTemplate;
    if (fpt === undefined) throw new RunnerError("INTERNAL", "no function pod template configured");
    const namespace = fpt.namespace();
    const where = `${namespace}/${fpt.name}`;
    const cm = await client.call({ verb: "get", resource: "configmaps", namespace, name: fpt.name }, (core) =>
      core.readNamespacedConfigMap({ name: fpt.name, namespace }),
    );
    const parsed = functionPodTemplateFrom(cm.data, where);
    return { parsed, version: cm.metadata?.resourceVersion ?? "", where };
  }

  private async fromConfigMap(client: KubeClient): Promise<TemplateInfo> {
    const { parsed, version, where } = await this.readConfigMap(client);
    if (parsed.serviceTemplate !== undefined) this.cachedService = { spec: parsed.serviceTemplate, until: this.now() + (this.opts.templateTtlMs ?? 10_000) };
    return this.remember({ template: parsed.template, version, source: "configmap", note: `from ConfigMap ${where} (--function-pod-template)` });
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
    if (this.opts.functionPodTemplate !== undefined) return this.fromConfigMap(client);
    let found: V1PodTemplate | undefined;
    try {
      found = await this.read(client);
    } catch (e) {
      if (isKubeApiError(e) && e.reason === "Forbidden") return this.inline(`${BASE_POD_TEMPLATE_NAME} cannot be read (${e.message}): the inline default template is used`);
      throw e;
    }
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
    if (this.opts.functionPodTemplate !== undefined) return this.fromConfigMap(client);
    // Porch v4.1.2's Role grants nothing on podtemplates: the inline template then, said once.
    const forbidden = (e: unknown): TemplateInfo | undefined => {
      if (!isKubeApiError(e) || e.reason !== "Forbidden") return undefined;
      this.warnOnce("podtemplates", "base pod template: no permission on podtemplates; function pods use the inline default template", {
        namespace: this.opts.namespace,
        error: e.message,
      });
      return this.remember(this.inline(`${BASE_POD_TEMPLATE_NAME}: no permission (${e.message})`));
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      let found: V1PodTemplate | undefined;
      try {
        found = await this.read(client);
      } catch (e) {
        const inline = forbidden(e);
        if (inline !== undefined) return inline;
        throw e;
      }
      if (found !== undefined) return this.remember({ template: found, version: templateVersionOf(found), source: "cluster" });
      const body = defaultPodTemplate({ wrapperServerImage: this.opts.wrapperServerImage, namespace: this.opts.namespace });
      try {
        const created = await client.call(this.op("create"), (core) => core.createNamespacedPodTemplate({ namespace: this.opts.namespace, body }));
        this.opts.logger?.info("base pod template created", { namespace: this.opts.namespace, name: BASE_POD_TEMPLATE_NAME });
        return this.remember({ template: created, version: templateVersionOf(created), source: "created" });
      } catch (e) {
        const inline = forbidden(e);
        if (inline !== undefined) return inline;
        // Another replica created it first: use theirs.
        if (!isAlreadyExists(e)) throw e;
      }
    }
    throw new RunnerError("KUBE_UNAVAILABLE", `${BASE_POD_TEMPLATE_NAME} in ${this.opts.namespace} kept appearing and vanishing`);
  }

  private get serviceTemplatePath(): string {
    return `/apis/${SERVICE_TEMPLATE_API_VERSION}/namespaces/${encodeURIComponent(this.opts.namespace)}/servicetemplates`;
  }

  /**
   * The Service template: the `--function-pod-template` ConfigMap's
   * `serviceTemplate` when it has one, else `base-service-template` (a
   * ServiceTemplate in the pod namespace), created from Porch's inline
   * default when absent (`write`). Without the CRD or the permission (Porch
   * v4.1.2's Role): the inline default, said once.
   */
  async serviceTemplate(write: boolean): Promise<ServiceTemplateSpec> {
    const c = this.cachedService;
    if (c !== undefined && this.now() < c.until) return c.spec;
    this.inflightService ??= this.loadServiceTemplate(write).finally(() => {
      this.inflightService = undefined;
    });
    return this.inflightService;
  }

  private async loadServiceTemplate(write: boolean): Promise<ServiceTemplateSpec> {
    const inline = defaultServiceTemplate(this.opts.namespace).template;
    const client = await this.opts.client();
    if ("unavailable" in client) return inline;
    const keep = (spec: ServiceTemplateSpec): ServiceTemplateSpec => {
      this.cachedService = { spec, until: this.now() + (this.opts.templateTtlMs ?? 10_000) };
      return spec;
    };
    if (this.opts.functionPodTemplate !== undefined) {
      const { parsed } = await this.readConfigMap(client);
      if (parsed.serviceTemplate !== undefined) return keep(parsed.serviceTemplate);
    }
    const op = (verb: KubeOperation["verb"]): KubeOperation => ({ verb, resource: "servicetemplates", namespace: this.opts.namespace, name: BASE_SERVICE_TEMPLATE_NAME });
    const unusable = (e: unknown, created: boolean): ServiceTemplateSpec | undefined => {
      if (!isKubeApiError(e) || (e.reason !== "Forbidden" && !(created && e.reason === "NotFound"))) return undefined;
      this.warnOnce("servicetemplates", "base service template unavailable; function Services use the inline default template", {
        namespace: this.opts.namespace,
        why: e.reason === "NotFound" ? "the ServiceTemplate CRD (config.porch.kpt.dev/v1alpha1) is not installed" : e.message,
      });
      return keep(inline);
    };
    try {
      const found = await client.json(op("get"), { method: "GET", path: `${this.serviceTemplatePath}/${BASE_SERVICE_TEMPLATE_NAME}` });
      return keep(serviceTemplateOf(found) ?? inline);
    } catch (e) {
      const fallback = unusable(e, false);
      if (fallback !== undefined) return fallback;
      if (!isKubeApiError(e) || e.reason !== "NotFound") throw e;
    }
    if (!write) return inline;
    try {
      const created = await client.json(op("create"), { method: "POST", path: this.serviceTemplatePath, body: defaultServiceTemplate(this.opts.namespace) });
      this.opts.logger?.info("base service template created", { namespace: this.opts.namespace, name: BASE_SERVICE_TEMPLATE_NAME });
      return keep(serviceTemplateOf(created) ?? inline);
    } catch (e) {
      // A 404 on create: the resource type itself is missing.
      const fallback = unusable(e, true);
      if (fallback !== undefined) return fallback;
      if (!isAlreadyExists(e)) throw e;
      const theirs = await client.json(op("get"), { method: "GET", path: `${this.serviceTemplatePath}/${BASE_SERVICE_TEMPLATE_NAME}` });
      return keep(serviceTemplateOf(theirs) ?? inline);
    }
  }
}

/** A ServiceTemplate answer's `template`, or undefined when it has none. */
function serviceTemplateOf(obj: unknown): ServiceTemplateSpec | undefined {
  if (typeof obj !== "object" || obj === null || !("template" in obj)) return undefined;
  const t = obj.template;
  // The CRD's schema (metadata + core/v1 ServiceSpec) was enforced by the API server.
  return typeof t === "object" && t !== null ? (t as ServiceTemplateSpec) : undefined;
}
