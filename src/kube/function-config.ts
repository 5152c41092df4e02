/**
 * Porch's `FunctionConfig` (config.porch.kpt.dev/v1alpha1, HEAD): which
 * images run as local binaries, and the pod settings of an image. Pure: the
 * objects come in (./function-config-watch.ts keeps them current), answers
 * come out.
 *
 *   spec:
 *     image: set-labels                      # the image name (last path element, no tag)
 *     prefixes: ["", ghcr.io/kptdev/krm-functions-catalog]   # "" = --default-image-prefix; none = any
 *     binaryExecutor: { tags: [v0.1.5], path: set-labels }    # relative to --functions
 *     podExecutor: { tags: [v0.1.5], timeToLive: 30m, maxParallelExecutions: 2,
 *                    preferredMaxQueueLength: 1, templateOverrides: {...} }
 *     goExecutor: { tags: [v0.1], id: set-labels }            # porch-server's built-in functions
 *
 * Matching follows Porch's FunctionConfigStore (controllers/functionconfigs/
 * reconciler): the request's image is split into repository, name and tag;
 * `spec.image` must equal the name and a prefix must start the repository.
 * Differences (docs/porch-differences.md): short names are expanded with
 * `--default-image-prefix` first; a prefix must end at a `/` boundary
 * (Porch's unanchored regex lets `gcr.io/kpt-fn` match `gcr.io/kpt-fnx`);
 * pod settings are looked up by `spec.image` and prefixes (Porch looks them
 * up by the object's *name*).
 */
import type { V1EnvFromSource, V1EnvVar, V1PodSecurityContext, V1PodTemplateSpec, V1ResourceRequirements } from "@kubernetes/client-node";
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { parseDuration } from "../config/duration.ts";
import { expandShortName } from "../image/reference.ts";
import { FUNCTION_CONTAINER_NAME, WRAPPER_INIT_CONTAINER_NAME } from "./pod-template.ts";

export const FUNCTION_CONFIG_API_VERSION = "config.porch.kpt.dev/v1alpha1";
/** Porch's finalizer for the function runner (controllers/functionconfigs/reconciler). */
export const FUNCTION_RUNNER_FINALIZER = "config.porch.kpt.dev/functionconfig-function-runner";

const Tags = z.array(z.string()).nullish();
// Kubernetes model objects inside the overrides: kept as the server sent them (validated by the CRD schema).
const Model = z.record(z.string(), z.unknown());
const ContainerOverrides = z.object({
  resources: Model.nullish(),
  envFrom: z.array(Model).nullish(),
  env: z.array(Model).nullish(),
});

export const FunctionConfigSchema = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string().optional(),
    generation: z.number().int().optional(),
    resourceVersion: z.string().optional(),
    deletionTimestamp: z.string().nullish(),
    finalizers: z.array(z.string()).nullish(),
  }),
  spec: z.object({
    image: z.string(),
    prefixes: z.array(z.string()).nullish(),
    podExecutor: z
      .object({
        tags: Tags,
        timeToLive: z.string().nullish(),
        maxParallelExecutions: z.number().int().nullish(),
        preferredMaxQueueLength: z.number().int().nullish(),
        templateOverrides: z
          .object({
            serviceAccountName: z.string().nullish(),
            securityContext: Model.nullish(),
            initContainer: ContainerOverrides.nullish(),
            container: ContainerOverrides.nullish(),
          })
          .nullish(),
      })
      .nullish(),
    binaryExecutor: z.object({ tags: Tags, path: z.string() }).nullish(),
    goExecutor: z.object({ tags: Tags, id: z.string().nullish() }).nullish(),
  }),
  status: z
    .object({
      functionRunnerObservedGeneration: z.number().int().optional(),
      error: z.string().optional(),
    })
    .passthrough()
    .nullish(),
});
export type FunctionConfig = z.infer<typeof FunctionConfigSchema>;
export type TemplateOverrides = NonNullable<NonNullable<FunctionConfig["spec"]["podExecutor"]>["templateOverrides"]>;

/** What the pod runtime takes from a FunctionConfig (absent fields: the flags' values). */
export interface PodSettings {
  /** The FunctionConfig it came from. */
  source: string;
  ttlMs?: number;
  maxParallel?: number;
  maxWaitlist?: number;
  overrides?: TemplateOverrides;
}

export interface BinaryMatch {
  source: string;
  binary: string;
}

/** Porch's split: repository (before the last `/`), name, tag (after a `:` in the last element). */
export function splitImage(image: string): { repository: string; name: string; tag: string } {
  const at = image.indexOf("@");
  const withoutDigest = at === -1 ? image : image.slice(0, at);
  const slash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.lastIndexOf(":");
  const nameAndTag = withoutDigest.slice(slash + 1);
  const tag = at !== -1 ? "" : colon > slash ? withoutDigest.slice(colon + 1) : "";
  const name = colon > slash ? withoutDigest.slice(slash + 1, colon) : nameAndTag;
  return { repository: slash === -1 ? "" : withoutDigest.slice(0, slash), name, tag };
}

const trimSlashes = (s: string): string => s.replace(/\/+$/, "");

/** Whether `repository` is under one of `prefixes` ("" = the default prefix; no prefixes = any). */
export function prefixMatches(prefixes: readonly string[] | null | undefined, repository: string, defaultImagePrefix: string): boolean {
  if (prefixes === undefined || prefixes === null || prefixes.length === 0) return true;
  return prefixes.some((p) => {
    const prefix = trimSlashes(p === "" ? defaultImagePrefix : p);
    return repository === prefix || repository.startsWith(`${prefix}/`);
  });
}

/** `timeToLive` → ms; undefined when unset, zero or not a duration (the flag applies). */
export function timeToLiveMs(value: string | null | undefined): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const ms = parseDuration(value);
  return ms === undefined || ms <= 0 ? undefined : ms;
}

/** Problems that keep a FunctionConfig (or part of it) from being applied: written to its status.error. */
export function functionConfigProblem(fc: FunctionConfig): string | undefined {
  const ttl = fc.spec.podExecutor?.timeToLive;
  if (ttl !== undefined && ttl !== null && ttl !== "" && parseDuration(ttl) === undefined) {
    return `spec.podExecutor.timeToLive: ${JSON.stringify(ttl)} is not a duration`;
  }
  if (fc.spec.binaryExecutor !== undefined && fc.spec.binaryExecutor !== null && fc.spec.binaryExecutor.path === "") {
    return "spec.binaryExecutor.path must not be empty";
  }
  return undefined;
}

/** The FunctionConfigs of the pod namespace, by name, and the lookups the runtimes make. */
export class FunctionConfigStore {
  private readonly byName = new Map<string, FunctionConfig>();

  constructor(
    private readonly opts: {
      defaultImagePrefix: string;
      /** `--functions`: relative binary paths live here. */
      functionsDir: string;
    },
  ) {}

  get size(): number {
    return this.byName.size;
  }

  list(): FunctionConfig[] {
    return [...this.byName.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  }

  get(name: string): FunctionConfig | undefined {
    return this.byName.get(name);
  }

  upsert(fc: FunctionConfig): void {
    this.byName.set(fc.metadata.name, fc);
  }

  remove(name: string): boolean {
    return this.byName.delete(name);
  }

  /** Replaces everything (a fresh list). */
  replace(all: readonly FunctionConfig[]): void {
    this.byName.clear();
    for (const fc of all) this.byName.set(fc.metadata.name, fc);
  }

  private matching(image: string): Array<{ fc: FunctionConfig; tag: string }> {
    const full = expandShortName(image.trim(), this.opts.defaultImagePrefix);
    const { repository, name, tag } = splitImage(full);
    return this.list()
      .filter((fc) => functionConfigProblem(fc) === undefined && fc.metadata.deletionTimestamp == null)
      .filter((fc) => fc.spec.image === name && prefixMatches(fc.spec.prefixes, repository, this.opts.defaultImagePrefix))
      .map((fc) => ({ fc, tag }));
  }

  /** The binary `binaryExecutor` maps this image's tag to, if any. */
  binaryFor(image: string): BinaryMatch | undefined {
    for (const { fc, tag } of this.matching(image)) {
      const bin = fc.spec.binaryExecutor;
      if (bin === undefined || bin === null || tag === "" || !(bin.tags ?? []).includes(tag)) continue;
      return { source: fc.metadata.name, binary: isAbsolute(bin.path) ? bin.path : resolve(this.opts.functionsDir, bin.path) };
    }
    return undefined;
  }

  /**
   * The pod settings for an image: the first matching FunctionConfig with a
   * `podExecutor`. Its tags are not compared, as in Porch (its CRD says
   * tag filtering is not implemented).
   */
  podSettingsFor(image: string): PodSettings | undefined {
    for (const { fc } of this.matching(image)) {
      const pod = fc.spec.podExecutor;
      if (pod === undefined || pod === null) continue;
      const ttlMs = timeToLiveMs(pod.timeToLive);
      const out: PodSettings = { source: fc.metadata.name };
      if (ttlMs !== undefined) out.ttlMs = ttlMs;
      if (pod.maxParallelExecutions !== undefined && pod.maxParallelExecutions !== null && pod.maxParallelExecutions > 0) out.maxParallel = pod.maxParallelExecutions;
      if (pod.preferredMaxQueueLength !== undefined && pod.preferredMaxQueueLength !== null && pod.preferredMaxQueueLength > 0) {
        out.maxWaitlist = pod.preferredMaxQueueLength;
      }
      if (pod.templateOverrides !== undefined && pod.templateOverrides !== null) out.overrides = pod.templateOverrides;
      return out;
    }
    return undefined;
  }

  /**
   * Images to warm at start-up, as Porch HEAD: each FunctionConfig with
   * `podExecutor.tags` gives `<prefixes[0] or the default prefix>/<image>:<tags[0]>`.
   */
  warmUpImages(): Array<{ image: string; source: string }> {
    const out: Array<{ image: string; source: string }> = [];
    for (const fc of this.list()) {
      const pod = fc.spec.podExecutor;
      const tags = pod?.tags ?? [];
      if (pod === undefined || pod === null || tags.length === 0 || functionConfigProblem(fc) !== undefined) continue;
      const first = tags[0] ?? "";
      const image = first === "" ? fc.spec.image : `${fc.spec.image}:${first}`;
      const p0 = fc.spec.prefixes?.[0];
      const prefix = p0 !== undefined && p0 !== "" ? p0 : this.opts.defaultImagePrefix;
      out.push({ image: `${trimSlashes(prefix)}/${image.replace(/^\/+/, "")}`, source: fc.metadata.name });
    }
    return out;
  }
}

/**
 * Porch's mergeTemplateOverrides on a pod template spec (a copy is changed
 * and returned): serviceAccountName and securityContext replace the pod's;
 * resources requests/limits, envFrom and env replace those of the
 * `copy-wrapper-server` init container and the `function` container (Porch
 * takes the first of each list; we find them by name).
 */
export function applyTemplateOverrides(template: V1PodTemplateSpec, overrides: TemplateOverrides | undefined): V1PodTemplateSpec {
  if (overrides === undefined) return template;
  const out = structuredClone(template);
  const spec = out.spec;
  if (spec === undefined) return out;
  if (overrides.serviceAccountName !== undefined && overrides.serviceAccountName !== null && overrides.serviceAccountName !== "") {
    spec.serviceAccountName = overrides.serviceAccountName;
  }
  if (overrides.securityContext !== undefined && overrides.securityContext !== null) {
    spec.securityContext = overrides.securityContext as V1PodSecurityContext;
  }
  const containerOverrides = (
    c: { resources?: V1ResourceRequirements; envFrom?: V1EnvFromSource[]; env?: V1EnvVar[] } | undefined,
    o: NonNullable<TemplateOverrides["container"]> | undefined | null,
  ): void => {
    if (c === undefined || o === undefined || o === null) return;
    const r = o.resources as V1ResourceRequirements | null | undefined;
    if (r !== undefined && r !== null) {
      c.resources ??= {};
      if (r.requests !== undefined) c.resources.requests = r.requests;
      if (r.limits !== undefined) c.resources.limits = r.limits;
    }
    if (o.envFrom !== undefined && o.envFrom !== null) c.envFrom = o.envFrom as V1EnvFromSource[];
    // The CRD's schema (core/v1 EnvVar) was enforced by the API server.
    if (o.env !== undefined && o.env !== null) c.env = o.env as unknown as V1EnvVar[];
  };
  containerOverrides(
    spec.initContainers?.find((c) => c.name === WRAPPER_INIT_CONTAINER_NAME),
    overrides.initContainer,
  );
  containerOverrides(
    spec.containers?.find((c) => c.name === FUNCTION_CONTAINER_NAME),
    overrides.container,
  );
  return out;
}
