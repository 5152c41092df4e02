// Pure parts of Porch's configuration objects and files: FunctionConfig
// matching (against Porch's own 23- manifest), template overrides, the
// pod-cache-config file and the --function-pod-template ConfigMap.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { parsePodCacheConfig, podCacheTtl } from "../../src/evaluator/pod-cache-config.ts";
import {
  applyTemplateOverrides,
  type FunctionConfig,
  FunctionConfigSchema,
  FunctionConfigStore,
  functionConfigProblem,
  prefixMatches,
  splitImage,
} from "../../src/kube/function-config.ts";
import { functionPodTemplateFrom } from "../../src/kube/function-pod-template.ts";
import { defaultPodTemplate } from "../../src/kube/pod-template.ts";

const FIXTURES = join(import.meta.dir, "..", "fixtures", "porch");
const CATALOG = "ghcr.io/kptdev/krm-functions-catalog/";
const docs = (file: string): unknown[] =>
  parseAllDocuments(readFileSync(join(FIXTURES, file), "utf8"))
    .map((d) => d.toJS() as unknown)
    .filter((d) => d !== null);

function porchStore(): FunctionConfigStore {
  const store = new FunctionConfigStore({ defaultImagePrefix: CATALOG, functionsDir: "/home/nonroot/functions" });
  store.replace(docs("head-23-function-configurations.yaml").map((d) => FunctionConfigSchema.parse(d)));
  return store;
}

const fc = (spec: Record<string, unknown>, name = "x"): FunctionConfig => FunctionConfigSchema.parse({ metadata: { name }, spec });

describe("image matching as Porch's FunctionConfigStore", () => {
  test("splitImage: repository, name, tag (none for digests)", () => {
    expect(splitImage("ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.1.5")).toEqual({
      repository: "ghcr.io/kptdev/krm-functions-catalog",
      name: "set-labels",
      tag: "v0.1.5",
    });
    expect(splitImage("localhost:5000/fns/x")).toEqual({ repository: "localhost:5000/fns", name: "x", tag: "" });
    expect(splitImage(`gcr.io/a/b@sha256:${"0".repeat(64)}`)).toEqual({ repository: "gcr.io/a", name: "b", tag: "" });
  });

  test("prefixes: '' is the default prefix; none matches any; a prefix ends at a path boundary", () => {
    expect(prefixMatches([""], "ghcr.io/kptdev/krm-functions-catalog", CATALOG)).toBe(true);
    expect(prefixMatches(["gcr.io/kpt-fn"], "gcr.io/kpt-fn", CATALOG)).toBe(true);
    expect(prefixMatches(["gcr.io/kpt-fn/"], "gcr.io/kpt-fn/sub", CATALOG)).toBe(true);
    expect(prefixMatches(["gcr.io/kpt-fn"], "gcr.io/kpt-fnx", CATALOG)).toBe(false);
    expect(prefixMatches([], "anything.example/x", CATALOG)).toBe(true);
    expect(prefixMatches(undefined, "anything.example/x", CATALOG)).toBe(true);
  });

  test("Porch's 23- manifest: binaryExecutor tags run binaries from --functions; podExecutor tags and other registries do not", () => {
    const store = porchStore();
    expect(store.binaryFor(`${CATALOG}apply-setters:v0.2.0`)).toEqual({ source: "apply-setters", binary: "/home/nonroot/functions/apply-setters" });
    // A short name gets the default prefix first.
    expect(store.binaryFor("apply-setters:v0.2.0")?.binary).toBe("/home/nonroot/functions/apply-setters");
    expect(store.binaryFor(`${CATALOG}apply-setters:v0.2.2`)).toBeUndefined();
    expect(store.binaryFor("registry.example/apply-setters:v0.2.0")).toBeUndefined();
    expect(store.binaryFor(`${CATALOG}apply-setters`)).toBeUndefined();
  });

  test("pod settings by spec.image and prefix (any tag); TTL, parallelism and queue length", () => {
    const store = new FunctionConfigStore({ defaultImagePrefix: CATALOG, functionsDir: "/f" });
    store.upsert(fc({ image: "set-labels", prefixes: ["reg.example/fns"], podExecutor: { tags: ["v1"], timeToLive: "1h30m", maxParallelExecutions: 3, preferredMaxQueueLength: 4 } }, "custom-name"));
    expect(store.podSettingsFor("reg.example/fns/set-labels:v9")).toEqual({ source: "custom-name", ttlMs: 90 * 60_000, maxParallel: 3, maxWaitlist: 4 });
    expect(store.podSettingsFor("other.example/fns/set-labels:v1")).toBeUndefined();
    store.remove("custom-name");
    expect(store.podSettingsFor("reg.example/fns/set-labels:v1")).toBeUndefined();
  });

  test("warm-up images as Porch HEAD: first prefix (or the default) / image : first podExecutor tag", () => {
    const store = porchStore();
    const images = store.warmUpImages().map((w) => w.image);
    expect(images).toContain(`${CATALOG}apply-setters:v0.2.2`);
    expect(images).toContain(`${CATALOG}kubeconform:v0.1.1`);
    expect(images.every((i) => i.startsWith(CATALOG))).toBe(true);
  });

  test("problems that go to status.error", () => {
    expect(functionConfigProblem(fc({ image: "a", podExecutor: { timeToLive: "soon" } }))).toContain("timeToLive");
    expect(functionConfigProblem(fc({ image: "a", podExecutor: { timeToLive: "10m" } }))).toBeUndefined();
    // A broken one is not used.
    const store = new FunctionConfigStore({ defaultImagePrefix: CATALOG, functionsDir: "/f" });
    store.upsert(fc({ image: "a", binaryExecutor: { tags: ["v1"], path: "a" }, podExecutor: { timeToLive: "soon" } }));
    expect(store.binaryFor(`${CATALOG}a:v1`)).toBeUndefined();
  });
});

describe("templateOverrides as Porch's mergeTemplateOverrides", () => {
  test("service account, security context, resources, env and envFrom of both containers; the input untouched", () => {
    const base = defaultPodTemplate({ wrapperServerImage: "w:1", namespace: "ns" }).template ?? {};
    const before = structuredClone(base);
    const out = applyTemplateOverrides(base, {
      serviceAccountName: "fn-sa",
      securityContext: { runAsNonRoot: true },
      container: { env: [{ name: "A", value: "1" }], envFrom: [{ configMapRef: { name: "cm" } }], resources: { limits: { cpu: "1" } } },
      initContainer: { resources: { requests: { memory: "8Mi" } } },
    });
    expect(out.spec?.serviceAccountName).toBe("fn-sa");
    expect(out.spec?.securityContext).toEqual({ runAsNonRoot: true });
    const fn = out.spec?.containers.find((c) => c.name === "function");
    expect(fn?.env).toEqual([{ name: "A", value: "1" }]);
    expect(fn?.envFrom).toEqual([{ configMapRef: { name: "cm" } }]);
    expect(fn?.resources).toEqual({ limits: { cpu: "1" } });
    expect(out.spec?.initContainers?.[0]?.resources).toEqual({ requests: { memory: "8Mi" } });
    expect(base).toEqual(before);
  });
});

describe("--pod-cache-config", () => {
  test("image → TTL; a bad TTL is a warning and --pod-ttl; short names and Docker Hub forms match", () => {
    const r = parsePodCacheConfig("gcr.io/kpt-fn/set-labels:v0.1.5: 30m\nset-namespace:v0.4.1: 1h\ngcr.io/kpt-fn/x:v1: soon\n", "f.yaml", CATALOG);
    if (!r.ok) throw new Error(r.error);
    expect(r.config.entries).toHaveLength(3);
    expect(r.config.warnings).toHaveLength(1);
    expect(podCacheTtl(r.config, "gcr.io/kpt-fn/set-labels:v0.1.5", CATALOG)).toBe(30 * 60_000);
    expect(podCacheTtl(r.config, `${CATALOG}set-namespace:v0.4.1`, CATALOG)).toBe(60 * 60_000);
    expect(podCacheTtl(r.config, "gcr.io/kpt-fn/x:v1", CATALOG)).toBeUndefined();
    expect(parsePodCacheConfig("- a\n- b\n", "f.yaml", CATALOG).ok).toBe(false);
    expect(parsePodCacheConfig("", "f.yaml", CATALOG)).toMatchObject({ ok: true });
  });
});

describe("--function-pod-template ConfigMap", () => {
  test("Porch's example: the Pod's spec as template, the Service as service template; a ConfigMap without `template` is refused", () => {
    const cm = docs("head-function-pods-deployment.yaml").find((d) => (d as { kind?: string }).kind === "ConfigMap") as { data: Record<string, string> };
    const t = functionPodTemplateFrom(cm.data, "porch-system/kpt-function-eval-pod-template");
    expect(t.template.template?.spec?.containers[0]?.name).toBe("function");
    expect(t.template.template?.metadata).toEqual({});
    expect(t.serviceTemplate?.spec?.ports).toEqual([{ port: 9446, protocol: "TCP", targetPort: 9446 }]);
    expect(() => functionPodTemplateFrom({}, "ns/x")).toThrow(/no "template" key/);
    expect(() => functionPodTemplateFrom({ template: "spec: [" }, "ns/x")).toThrow(/not valid YAML/);
  });
});
