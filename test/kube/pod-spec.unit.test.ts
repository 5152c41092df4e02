import { describe, expect, test } from "../support/testing.ts";
import { dumpYaml, type V1Pod, type V1PodTemplate, type V1Service } from "@kubernetes/client-node";
import { type IPod, Pod } from "kubernetes-models/v1/Pod";
import { type IPodTemplate, PodTemplate } from "kubernetes-models/v1/PodTemplate";
import { type IService, Service } from "kubernetes-models/v1/Service";
import YAML from "yaml";
import { RunnerError } from "../../src/errors.ts";
import type { ImageMetadata } from "../../src/image/metadata.ts";
import {
  buildFunctionPod,
  buildFunctionService,
  defaultPodTemplate,
  type FunctionPodOptions,
  INLINE_TEMPLATE_VERSION,
  podIdForImage,
  templateVersionOf,
  withPullSecret,
} from "../../src/kube/pod-spec.ts";

// --- validation against the Kubernetes object schema -------------------------

/**
 * Two independent checks, neither hand-written:
 * 1. kubernetes-models' validate(): the Kubernetes OpenAPI schema (required
 *    fields, types, int-or-string, enums) compiled to ajv validators;
 * 2. a round trip through client-node's typed ObjectSerializer (dumpYaml),
 *    which drops every field the API does not define, so any misspelt or
 *    misplaced field shows up as a difference (the schema check alone allows
 *    unknown fields).
 */
function validateK8s(obj: V1Pod | V1Service | V1PodTemplate): void {
  const plain: unknown = JSON.parse(JSON.stringify(obj));
  switch (obj.kind) {
    case "Pod":
      new Pod(plain as IPod).validate();
      break;
    case "Service":
      new Service(plain as IService).validate();
      break;
    case "PodTemplate":
      new PodTemplate(plain as IPodTemplate).validate();
      break;
    default:
      throw new Error(`unexpected kind ${String(obj.kind)}`);
  }
  expect(YAML.parse(dumpYaml(plain))).toEqual(plain);
}

// --- fixtures ---------------------------------------------------------------

const NS = "porch-fn-system";
const WRAPPER = "ghcr.io/kptdev/porch-wrapper-server:v4.0.0";
const D = `sha256:${"9f86d081".repeat(8)}`;
const PLATFORM_D = `sha256:${"5e884898".repeat(8)}`;
const RECLAIM = new Date(1_700_001_800_500); // the annotation is whole unix seconds
const MAX_BODY = 6291456;

function meta(reference: string, entrypoint: string[] = ["/usr/local/bin/function"]): ImageMetadata {
  const at = reference.indexOf("@");
  const name = (at < 0 ? reference : reference.slice(0, at)).replace(/:[^/:]+$/, "");
  const slash = name.indexOf("/");
  return {
    reference,
    registry: name.slice(0, slash),
    repository: name.slice(slash + 1),
    digest: D,
    platformDigest: PLATFORM_D,
    platform: "linux/amd64",
    entrypoint,
    configEntrypoint: entrypoint,
    configCmd: null,
    mediaType: "application/vnd.oci.image.index.v1+json",
  };
}

function options(over: Partial<FunctionPodOptions> & { metadata: ImageMetadata }): FunctionPodOptions {
  const template = over.template ?? defaultPodTemplate({ wrapperServerImage: WRAPPER, namespace: NS });
  return {
    template,
    templateVersion: templateVersionOf(template),
    namespace: NS,
    maxRequestBodySize: MAX_BODY,
    reclaimAfter: RECLAIM,
    wrapperServerImage: WRAPPER,
    podId: podIdForImage(over.metadata),
    ...over,
  };
}

/** `base-pod-template` as an operator might have edited it in the cluster. */
function clusterTemplate(): V1PodTemplate {
  return {
    apiVersion: "v1",
    kind: "PodTemplate",
    metadata: {
      name: "base-pod-template",
      namespace: NS,
      resourceVersion: "48213",
      uid: "3f1c2a4e-0b7d-4c55-9a8e-2d6f1b0c9e71",
      creationTimestamp: new Date("2025-01-02T03:04:05Z"),
    },
    template: {
      metadata: {
        labels: { team: "platform" },
        annotations: { "prometheus.io/scrape": "true" },
      },
      spec: {
        serviceAccountName: "fn-pods",
        imagePullSecrets: [{ name: "corp-mirror" }, { name: "auth-secret" }],
        securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
        nodeSelector: { "workload-type": "functions" },
        tolerations: [{ key: "functions", operator: "Equal", value: "true", effect: "NoSchedule" }],
        initContainers: [
          {
            name: "copy-wrapper-server",
            image: "registry.corp.example/mirror/porch-wrapper-server:old",
            command: ["cp", "-a", "/home/nonroot/wrapper-server/.", "/wrapper-server-tools"],
            volumeMounts: [{ name: "wrapper-server-tools", mountPath: "/wrapper-server-tools" }],
          },
          {
            name: "setup-ca",
            image: "registry.corp.example/tools/ca-setup:1.0",
            volumeMounts: [{ name: "ca-bundle", mountPath: "/etc/ssl/corp" }],
          },
        ],
        containers: [
          {
            name: "function",
            image: "to-be-replaced",
            command: ["/wrapper-server-tools/wrapper-server"],
            resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
            volumeMounts: [
              { name: "wrapper-server-tools", mountPath: "/wrapper-server-tools" },
              { name: "ca-bundle", mountPath: "/etc/ssl/corp", readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: "wrapper-server-tools", emptyDir: {} },
          { name: "ca-bundle", configMap: { name: "corp-ca" } },
        ],
      },
    },
  };
}

// --- default template -------------------------------------------------------

describe("defaultPodTemplate", () => {
  test("golden: upstream's inline template as a PodTemplate", () => {
    const t = defaultPodTemplate({ wrapperServerImage: WRAPPER, namespace: NS });
    expect(t).toEqual({
      apiVersion: "v1",
      kind: "PodTemplate",
      metadata: { name: "base-pod-template", namespace: NS },
      template: {
        metadata: { annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "true" } },
        spec: {
          automountServiceAccountToken: false,
          initContainers: [
            {
              name: "copy-wrapper-server",
              image: WRAPPER,
              command: ["cp", "-a", "/home/nonroot/wrapper-server/.", "/wrapper-server-tools"],
              volumeMounts: [{ name: "wrapper-server-tools", mountPath: "/wrapper-server-tools" }],
            },
          ],
          containers: [
            {
              name: "function",
              image: "to-be-replaced",
              command: ["/wrapper-server-tools/wrapper-server"],
              env: [
                { name: "OTEL_METRICS_EXPORTER", value: "prometheus" },
                { name: "OTEL_TRACES_EXPORTER", value: "none" },
                { name: "OTEL_EXPORTER_PROMETHEUS_HOST", value: "0.0.0.0" },
              ],
              readinessProbe: { exec: { command: ["/wrapper-server-tools/grpc-health-probe", "-addr", "localhost:9446"] } },
              volumeMounts: [{ name: "wrapper-server-tools", mountPath: "/wrapper-server-tools" }],
            },
          ],
          volumes: [{ name: "wrapper-server-tools", emptyDir: {} }],
        },
      },
    });
    validateK8s(t);
  });

  test("every call is a fresh object; the name can be changed", () => {
    const a = defaultPodTemplate({ wrapperServerImage: WRAPPER, namespace: NS });
    const b = defaultPodTemplate({ wrapperServerImage: WRAPPER, namespace: NS, name: "other" });
    expect(a.template?.spec?.containers[0]).not.toBe(b.template?.spec?.containers[0]);
    expect(b.metadata?.name).toBe("other");
  });

  test("template version: resourceVersion once stored, else upstream's inline version", () => {
    expect(templateVersionOf(defaultPodTemplate({ wrapperServerImage: WRAPPER, namespace: NS }))).toBe(INLINE_TEMPLATE_VERSION);
    expect(templateVersionOf(clusterTemplate())).toBe("48213");
  });
});

// --- pods ---------------------------------------------------------------------

describe("buildFunctionPod golden cases", () => {
  test("inline template, default registry (no pull secret)", () => {
    const m = meta("gcr.io/kpt-fn/set-namespace:v0.4.1");
    const pod = buildFunctionPod(options({ metadata: m }));
    const id = "set-namespace-v041-1-5e884898";
    expect(pod).toEqual({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: id,
        namespace: NS,
        labels: { "fn.kpt.dev/image": id },
        annotations: {
          "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
          "fn.kpt.dev/template-version": "inline-v1",
          "fn.kpt.dev/reclaim-after": "1700001800",
        },
      },
      spec: {
        automountServiceAccountToken: false,
        initContainers: [
          {
            name: "copy-wrapper-server",
            image: WRAPPER,
            command: ["cp", "-a", "/home/nonroot/wrapper-server/.", "/wrapper-server-tools"],
            volumeMounts: [{ name: "wrapper-server-tools", mountPath: "/wrapper-server-tools" }],
          },
        ],
        containers: [
          {
            name: "function",
            image: `gcr.io/kpt-fn/set-namespace@${D}`,
            command: ["/wrapper-server-tools/wrapper-server"],
            args: ["--port", "9446", "--max-request-body-size", "6291456", "--", "/usr/local/bin/function"],
            env: [
              { name: "OTEL_METRICS_EXPORTER", value: "prometheus" },
              { name: "OTEL_TRACES_EXPORTER", value: "none" },
              { name: "OTEL_EXPORTER_PROMETHEUS_HOST", value: "0.0.0.0" },
            ],
            readinessProbe: { exec: { command: ["/wrapper-server-tools/grpc-health-probe", "-addr", "localhost:9446"] } },
            volumeMounts: [{ name: "wrapper-server-tools", mountPath: "/wrapper-server-tools" }],
          },
        ],
        volumes: [{ name: "wrapper-server-tools", emptyDir: {} }],
      },
    });
    expect(pod.spec?.imagePullSecrets).toBeUndefined();
    validateK8s(pod);
    validateK8s(buildFunctionService(pod, id));
  });

  test("inline template, custom registry: pull secret added once, multi-element entrypoint kept in order", () => {
    const m = meta("registry.corp.example:5000/team/fns/my_validator:V2.0_rc1", ["/bin/sh", "-c", "exec validator --strict"]);
    const o = options({ metadata: m, pullSecret: "auth-secret" });
    const pod = buildFunctionPod(o);
    expect(o.podId).toBe("my-validator-v20-rc1-5i67mmkn55-1-5e884898");
    expect(pod.metadata?.name).toBe(o.podId);
    expect(pod.metadata?.labels).toEqual({ "fn.kpt.dev/image": o.podId });
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: "auth-secret" }]);
    const fn = pod.spec?.containers[0];
    expect(fn?.image).toBe(`registry.corp.example:5000/team/fns/my_validator@${D}`);
    expect(fn?.args).toEqual(["--port", "9446", "--max-request-body-size", "6291456", "--", "/bin/sh", "-c", "exec validator --strict"]);
    validateK8s(pod);
    validateK8s(buildFunctionService(pod, o.podId));
  });

  test("digest-only and tag+digest references run repository@digest (the index digest, not the platform one)", () => {
    for (const ref of [`gcr.io/kpt-fn/set-labels@${D}`, `gcr.io/kpt-fn/set-labels:v0.2.0@${D}`]) {
      const o = options({ metadata: meta(ref) });
      const pod = buildFunctionPod(o);
      expect(pod.spec?.containers[0]?.image).toBe(`gcr.io/kpt-fn/set-labels@${D}`);
      expect(JSON.stringify(pod)).not.toContain(PLATFORM_D);
      validateK8s(pod);
      validateK8s(buildFunctionService(pod, o.podId));
    }
    expect(podIdForImage(meta(`gcr.io/kpt-fn/set-labels:v0.2.0@${D}`))).toBe("set-labels-v020-1-5e884898");
    expect(podIdForImage(meta(`gcr.io/kpt-fn/set-labels@${D}`))).toBe("set-labels-sha256-9f86d0819f86d0819f86d08-5n3i42md2q-1-5e884898");
  });

  test("long repository names: id shortened to 63, pod and service valid", () => {
    const m = meta(`ghcr.io/an-organisation-with-a-long-name/${"k".repeat(120)}_render-helm-chart-with-values:v1.22.3-alpine`);
    const o = options({ metadata: m, pullSecret: "auth-secret", generateName: true });
    expect(o.podId.length).toBe(63);
    expect(o.podId.endsWith("-1-5e884898")).toBe(true);
    const pod = buildFunctionPod(o);
    expect(pod.metadata?.name).toBeUndefined();
    expect(pod.metadata?.generateName).toBe(`${o.podId}-`);
    validateK8s(pod);
    validateK8s(buildFunctionService(pod, o.podId));
  });

  test("template from the cluster: its secrets, volumes, labels and settings kept; pull secret not duplicated", () => {
    const template = clusterTemplate();
    const before = structuredClone(template);
    const m = meta("registry.corp.example/fns/enforce-labels:v3");
    const o = options({ template, metadata: m, pullSecret: "auth-secret" });
    const pod = buildFunctionPod(o);

    expect(pod.metadata).toEqual({
      name: "enforce-labels-v3-1-5e884898",
      namespace: NS,
      labels: { team: "platform", "fn.kpt.dev/image": "enforce-labels-v3-1-5e884898" },
      annotations: {
        "prometheus.io/scrape": "true",
        "fn.kpt.dev/template-version": "48213",
        "fn.kpt.dev/reclaim-after": "1700001800",
      },
    });
    // Annotations come from the template as written: no safe-to-evict it does not carry.
    expect(pod.metadata?.annotations?.["cluster-autoscaler.kubernetes.io/safe-to-evict"]).toBeUndefined();
    const spec = pod.spec;
    expect(spec?.imagePullSecrets).toEqual([{ name: "corp-mirror" }, { name: "auth-secret" }]);
    expect(spec?.volumes).toEqual(before.template?.spec?.volumes);
    expect(spec?.serviceAccountName).toBe("fn-pods");
    expect(spec?.automountServiceAccountToken).toBeUndefined(); // the template's choice
    expect(spec?.securityContext).toEqual(before.template?.spec?.securityContext);
    expect(spec?.nodeSelector).toEqual({ "workload-type": "functions" });
    expect(spec?.tolerations).toEqual(before.template?.spec?.tolerations);
    // The wrapper init container follows WRAPPER_SERVER_IMAGE; other init containers are the template's.
    expect(spec?.initContainers?.map((c) => [c.name, c.image])).toEqual([
      ["copy-wrapper-server", WRAPPER],
      ["setup-ca", "registry.corp.example/tools/ca-setup:1.0"],
    ]);
    const fn = spec?.containers[0];
    expect(fn?.image).toBe(`registry.corp.example/fns/enforce-labels@${D}`);
    expect(fn?.resources).toEqual(before.template?.spec?.containers[0]?.resources);
    expect(fn?.volumeMounts).toEqual(before.template?.spec?.containers[0]?.volumeMounts);
    validateK8s(pod);
    validateK8s(buildFunctionService(pod, o.podId));

    // The template is untouched and shares nothing with the pod.
    expect(template).toEqual(before);
    fn?.args?.push("mutated");
    spec?.volumes?.push({ name: "x", emptyDir: {} });
    expect(template).toEqual(before);
  });

  test("cluster template, default registry: its own secrets only", () => {
    const pod = buildFunctionPod(options({ template: clusterTemplate(), metadata: meta("gcr.io/kpt-fn/set-namespace:v0.4.1") }));
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: "corp-mirror" }, { name: "auth-secret" }]);
    validateK8s(pod);
  });

  test("cluster template without the runner's secret: appended after the template's", () => {
    const pod = buildFunctionPod(
      options({ template: clusterTemplate(), metadata: meta("registry.corp.example/fns/enforce-labels:v3"), pullSecret: "runner-auth" }),
    );
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: "corp-mirror" }, { name: "auth-secret" }, { name: "runner-auth" }]);
    validateK8s(pod);
  });

  test("building twice from one template gives equal pods and never accumulates args or secrets", () => {
    const template = clusterTemplate();
    const o = options({ template, metadata: meta("registry.corp.example/fns/enforce-labels:v3"), pullSecret: "auth-secret" });
    const a = buildFunctionPod(o);
    const b = buildFunctionPod(o);
    expect(b).toEqual(a);
    expect(b.spec?.containers[0]?.args?.filter((x) => x === "--port")).toHaveLength(1);
  });

  test("the template's own args and command are kept (Porch's template contract)", () => {
    const template = defaultPodTemplate({ wrapperServerImage: WRAPPER, namespace: NS });
    const fn = template.template?.spec?.containers[0];
    if (fn === undefined) throw new Error("no function container");
    fn.command = ["/custom/wrapper"];
    fn.args = ["--log-level", "debug"];
    const pod = buildFunctionPod(options({ template, metadata: meta("gcr.io/kpt-fn/set-namespace:v0.4.1") }));
    expect(pod.spec?.containers[0]?.command).toEqual(["/custom/wrapper"]);
    expect(pod.spec?.containers[0]?.args).toEqual([
      "--log-level",
      "debug",
      "--port",
      "9446",
      "--max-request-body-size",
      "6291456",
      "--",
      "/usr/local/bin/function",
    ]);
    validateK8s(pod);
  });

  test("a template function container without a command gets the wrapper server", () => {
    const template = defaultPodTemplate({ wrapperServerImage: WRAPPER, namespace: NS });
    const fn = template.template?.spec?.containers[0];
    if (fn === undefined) throw new Error("no function container");
    delete fn.command;
    const pod = buildFunctionPod(options({ template, metadata: meta("gcr.io/kpt-fn/set-namespace:v0.4.1") }));
    expect(pod.spec?.containers[0]?.command).toEqual(["/wrapper-server-tools/wrapper-server"]);
  });

  test("the function container is found by name, not position", () => {
    const template = clusterTemplate();
    const spec = template.template?.spec;
    if (spec === undefined) throw new Error("no spec");
    spec.containers.unshift({ name: "sidecar", image: "registry.corp.example/proxy:1" });
    const pod = buildFunctionPod(options({ template, metadata: meta("gcr.io/kpt-fn/set-namespace:v0.4.1") }));
    expect(pod.spec?.containers.map((c) => [c.name, c.image])).toEqual([
      ["sidecar", "registry.corp.example/proxy:1"],
      ["function", `gcr.io/kpt-fn/set-namespace@${D}`],
    ]);
    validateK8s(pod);
  });

  test("reclaim-after is whole unix seconds, as upstream's GC parses it", () => {
    const pod = buildFunctionPod(options({ metadata: meta("gcr.io/kpt-fn/set-namespace:v0.4.1"), reclaimAfter: new Date(999) }));
    expect(pod.metadata?.annotations?.["fn.kpt.dev/reclaim-after"]).toBe("0");
  });
});

describe("buildFunctionPod refuses", () => {
  const m = meta("gcr.io/kpt-fn/set-namespace:v0.4.1");
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof RunnerError) return e.code;
      throw e;
    }
    return "no error";
  };

  test("a template without a function container or spec", () => {
    const t = clusterTemplate();
    const spec = t.template?.spec;
    if (spec === undefined) throw new Error("no spec");
    spec.containers = [{ name: "main", image: "x" }];
    expect(code(() => buildFunctionPod(options({ template: t, metadata: m })))).toBe("INVALID_ARGUMENT");
    expect(code(() => buildFunctionPod(options({ template: { metadata: { name: "x" } }, metadata: m })))).toBe("INVALID_ARGUMENT");
  });

  test("an image with nothing to run", () => {
    expect(code(() => buildFunctionPod(options({ metadata: meta("gcr.io/kpt-fn/set-namespace:v0.4.1", []) })))).toBe("NO_ENTRYPOINT");
  });

  test("bad pod ids, body sizes, dates, digests, wrapper images", () => {
    expect(code(() => buildFunctionPod(options({ metadata: m, podId: "Set_Namespace" })))).toBe("INVALID_ARGUMENT");
    expect(code(() => buildFunctionPod(options({ metadata: m, podId: "x".repeat(64) })))).toBe("INVALID_ARGUMENT");
    expect(code(() => buildFunctionPod(options({ metadata: m, maxRequestBodySize: 0 })))).toBe("INVALID_ARGUMENT");
    expect(code(() => buildFunctionPod(options({ metadata: m, maxRequestBodySize: 1.5 })))).toBe("INVALID_ARGUMENT");
    expect(code(() => buildFunctionPod(options({ metadata: m, reclaimAfter: new Date(Number.NaN) })))).toBe("INVALID_ARGUMENT");
    expect(code(() => buildFunctionPod(options({ metadata: m, wrapperServerImage: "" })))).toBe("INVALID_ARGUMENT");
    expect(code(() => buildFunctionPod(options({ metadata: { ...m, digest: "sha256:abc" }, podId: "fn-x-1-abcdef01" })))).toBe(
      "INVALID_REFERENCE",
    );
  });
});

// --- services and secrets ------------------------------------------------------

describe("buildFunctionService", () => {
  test("golden: Porch's inline base-service-template: ClusterIP, same name, selector on the label, 9446 → 9446", () => {
    const o = options({ metadata: meta("gcr.io/kpt-fn/set-namespace:v0.4.1") });
    const svc = buildFunctionService(buildFunctionPod(o), o.podId);
    expect(svc).toEqual({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "set-namespace-v041-1-5e884898", namespace: NS, labels: { "app.kubernetes.io/name": "set-namespace-v041-1-5e884898" } },
      spec: {
        type: "ClusterIP",
        selector: { "fn.kpt.dev/image": "set-namespace-v041-1-5e884898" },
        ports: [{ protocol: "TCP", port: 9446, targetPort: 9446 }],
      },
    });
    validateK8s(svc);
  });

  test("a customised template: its spec, labels and annotations as written, the selector and name label set", () => {
    const o = options({ metadata: meta("gcr.io/kpt-fn/set-namespace:v0.4.1") });
    const template = {
      metadata: { labels: { team: "fn" }, annotations: { "mesh.example/protocol": "grpc", "internal.kpt.dev/upstream-identifier": "x" } },
      spec: {
        type: "ClusterIP",
        ports: [{ name: "grpc", appProtocol: "grpc", protocol: "TCP", port: 9446, targetPort: 9446 }],
        selector: { "fn.kpt.dev/image": "to-be-replaced", tier: "functions" },
        sessionAffinity: "ClientIP",
      },
    };
    const before = structuredClone(template);
    const svc = buildFunctionService(buildFunctionPod(o), o.podId, template);
    expect(svc.metadata).toEqual({
      name: o.podId,
      namespace: NS,
      labels: { team: "fn", "app.kubernetes.io/name": o.podId },
      annotations: { "mesh.example/protocol": "grpc" },
    });
    expect(svc.spec).toEqual({ ...template.spec, selector: { "fn.kpt.dev/image": o.podId, tier: "functions" } });
    expect(template).toEqual(before);
    expect(() => buildFunctionService(buildFunctionPod(o), o.podId, { spec: { type: "ClusterIP" } })).toThrow(/no ports/);
  });

  test("refuses a name that is no DNS-1035 label and a pod the selector would miss", () => {
    const o = options({ metadata: meta("gcr.io/kpt-fn/set-namespace:v0.4.1") });
    const pod = buildFunctionPod(o);
    expect(() => buildFunctionService(pod, "1-not-a-label")).toThrow(RunnerError);
    expect(() => buildFunctionService(pod, "other-id")).toThrow(/select no pod/);
  });
});

describe("withPullSecret", () => {
  test("exactly once, order kept, input untouched", () => {
    const input = [{ name: "a" }, { name: "b" }, { name: "a" }];
    expect(withPullSecret(input, "b")).toEqual([{ name: "a" }, { name: "b" }]);
    expect(withPullSecret(input, "c")).toEqual([{ name: "a" }, { name: "b" }, { name: "c" }]);
    expect(withPullSecret(undefined, "c")).toEqual([{ name: "c" }]);
    expect(input).toEqual([{ name: "a" }, { name: "b" }, { name: "a" }]);
  });
});

// --- many random images through the whole pipeline ------------------------------

describe("random images: every Pod and Service passes schema validation", () => {
  test("300 references (long, underscored, upper-case tags, digests), both templates, with and without a secret", () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const word = (n: number) => Array.from({ length: n }, () => pick([..."abcdefghijklmnopqrstuvwxyz0123456789"])).join("");
    const names = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const repo = [word(1 + Math.floor(rand() * 10)), `${word(1 + Math.floor(rand() * 60))}${pick(["", "_", "__", "-", "."])}${word(1 + Math.floor(rand() * 30))}`].join("/");
      const tag = pick(["v1.0.0", "V2_RC", "latest", "X".repeat(1 + Math.floor(rand() * 100)), "0.1"]);
      const ref = pick([`ghcr.io/${repo}:${tag}`, `localhost:5000/${repo}@${D}`, `registry.corp.example/${repo}:${tag}@${D}`]);
      const template = rand() < 0.5 ? clusterTemplate() : defaultPodTemplate({ wrapperServerImage: WRAPPER, namespace: NS });
      const secret = rand() < 0.5 ? pick(["auth-secret", "runner-auth"]) : undefined;
      const m = meta(ref);
      const o = options({ template, metadata: m, podId: podIdForImage(m, String(1 + (i % 3))), ...(secret === undefined ? {} : { pullSecret: secret }) });
      const pod = buildFunctionPod(o);
      const svc = buildFunctionService(pod, o.podId);
      validateK8s(pod);
      validateK8s(svc);
      const secrets = (pod.spec?.imagePullSecrets ?? []).map((s) => s.name);
      expect(new Set(secrets).size).toBe(secrets.length);
      if (secret !== undefined) expect(secrets).toContain(secret);
      names.add(o.podId);
    }
    expect(names.size).toBeGreaterThan(250);
  });
});

describe("validateK8s itself", () => {
  // The checks above are only worth something if they can fail.
  test("rejects a container without a name, a wrongly typed port and a misspelt field", () => {
    const good = buildFunctionPod(options({ metadata: meta("gcr.io/kpt-fn/set-namespace:v0.4.1") }));
    const noName = structuredClone(good);
    delete (noName.spec?.containers[0] as { name?: string }).name;
    expect(() => validateK8s(noName)).toThrow(/name/);

    const misspelt: unknown = { ...structuredClone(good), spec: { ...good.spec, imagePullSecret: [{ name: "x" }] } };
    expect(() => validateK8s(misspelt as V1Pod)).toThrow();

    const svc = buildFunctionService(good, good.metadata?.name ?? "");
    const badPort: unknown = { ...svc, spec: { ...svc.spec, ports: [{ port: "9446" }] } };
    expect(() => validateK8s(badPort as V1Service)).toThrow(/integer/);
  });
});
