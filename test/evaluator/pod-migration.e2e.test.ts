// Swapping Porch's function runner for ours while Porch's function pods run:
// pods built by Porch HEAD's podmanager rules (func/internal/podmanager.go:
// podID, patchNewPodMetadata, patchNewPodContainer; the Service from
// base-service-template) for a single-arch and a multi-arch image are already
// in the test API server, running our wrapper server. Ours recognises them
// (same pod id, including the linux/amd64 manifest's digest for the index),
// serves from them without creating pods, and its garbage collector gives
// them a reclaim-after instead of deleting them by age.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { KubeObject, WirePod, WirePodTemplate } from "../support/kube/index.ts";
import { pushIndex } from "../support/push.ts";
import { decode, encode, fixture, RESOURCE_LIST, ROOT } from "./helpers.ts";
import { NS, type PodWorld, startPodWorld } from "./pod-helpers.ts";

const TTL_MS = 30 * 60_000;
let world: PodWorld;
let single: { image: string; digest: string };
let multi: { image: string; indexDigest: string; amd64: string; arm64: string };
let templateVersion: string;

/** Porch HEAD's podID: `<last path element, _→-><tag, dots removed>-<postfix>-<first 8 hex of the (platform) digest>`. */
const porchPodId = (image: string, digest: string, postfix: string): string => {
  const repo = image.slice(0, image.lastIndexOf(":"));
  const tag = image.slice(image.lastIndexOf(":") + 1).replaceAll(".", "");
  const name = repo.slice(repo.lastIndexOf("/") + 1).replaceAll("_", "-");
  return `${name}-${tag}-${postfix}-${digest.slice("sha256:".length, "sha256:".length + 8)}`;
};

/** The pod Porch HEAD creates for a request (generateName) from base-pod-template, as its podmanager builds it. */
function porchPod(image: string, id: string, entrypoint: string[]): Record<string, unknown> {
  const template = world.server.getObject<WirePodTemplate>("podtemplates", NS, "base-pod-template");
  const spec = structuredClone(template?.template?.spec ?? { containers: [] });
  const init = spec.initContainers?.[0];
  if (init !== undefined) init.image = "docker.io/nephio/porch-wrapper-server:latest";
  const fn = spec.containers.find((c) => c.name === "function");
  if (fn === undefined) throw new Error("no function container in base-pod-template");
  fn.args = [...(fn.args ?? []), "--port", "9446", "--max-request-body-size", "6291456", "--", ...entrypoint];
  // Porch runs the image as requested (a tag), not pinned to a digest.
  fn.image = image;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: `${id}-`,
      labels: { ...template?.template?.metadata?.labels, "fn.kpt.dev/image": id },
      annotations: { ...template?.template?.metadata?.annotations, "fn.kpt.dev/template-version": templateVersion },
    },
    spec,
  };
}

/** Porch HEAD's Service: base-service-template's spec, selector set, name = pod id, no labels. */
const porchService = (id: string): Record<string, unknown> => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: id },
  spec: { type: "ClusterIP", ports: [{ port: 9446, protocol: "TCP", targetPort: 9446 }], selector: { "fn.kpt.dev/image": id } },
});

beforeAll(async () => {
  world = await startPodWorld();
  for (const d of parseAllDocuments(readFileSync(join(ROOT, "test", "fixtures", "porch", "head-22-function-templates.yaml"), "utf8"))) {
    const obj = d.toJS() as KubeObject | null;
    if (obj !== null) world.server.seed(obj.kind === "PodTemplate" ? "podtemplates" : "servicetemplates", obj, NS);
  }
  templateVersion = world.server.getObject<WirePodTemplate>("podtemplates", NS, "base-pod-template")?.metadata?.resourceVersion ?? "";
  const entrypoint = [fixture("set-namespace.sh")];
  single = await world.push("set-labels", "v0.1.5", entrypoint);
  const idx = await pushIndex(
    world.reg,
    "fns/apply_setters",
    "v0.2.0",
    [
      { platform: { os: "linux", architecture: "arm64" }, entrypoint },
      { platform: { os: "linux", architecture: "amd64" }, entrypoint },
    ],
    { format: "oci" },
  );
  const digestOf = (arch: string): string => idx.children.find((c) => c.platform.architecture === arch)?.digest ?? "";
  multi = { image: `${world.reg.host}/fns/apply_setters:v0.2.0`, indexDigest: idx.digest, amd64: digestOf("amd64"), arm64: digestOf("arm64") };
  for (const [image, digest] of [
    [single.image, single.digest],
    [multi.image, multi.amd64],
  ] as const) {
    const id = porchPodId(image, digest, "1");
    world.server.seed("services", porchService(id), NS);
    world.server.seed("pods", porchPod(image, id, entrypoint), NS);
  }
  await world.server.settle();
  // Running and ready (the kubelet started our wrapper server in each).
  for (const p of world.server.listObjects<WirePod>("pods", NS)) {
    await world.server.waitForObject<WirePod>("pods", NS, p.metadata?.name ?? "", (o) => (o.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"), 20_000);
  }
});
afterAll(async () => {
  await world?.stop();
});

const req = (image: string) => ({ image, resourceList: encode(RESOURCE_LIST), deadline: Date.now() + 30_000 });

describe("Porch-shaped pods already running", () => {
  test("the multi-arch pod id ends in the linux/amd64 manifest's digest, not the index's", () => {
    const ids = world.server.listObjects<WirePod>("pods", NS).map((p) => p.metadata?.labels?.["fn.kpt.dev/image"]);
    expect(ids).toContain(`apply-setters-v020-1-${multi.amd64.slice(7, 15)}`);
    expect(multi.indexDigest.slice(7, 15)).not.toBe(multi.amd64.slice(7, 15));
  });

  test("are kept young by the collector (first seen + TTL, not creation + TTL), adopted and served from: no pod created or deleted", async () => {
    const { runner, pod } = await world.runner([], { validateAfterMs: 0 }, { start: true });
    const before = world.server.listObjects<WirePod>("pods", NS).map((p) => p.metadata?.name ?? "").sort();
    // Older than the TTL: judged by creation time they would go.
    for (const name of before) {
      world.server.registry.mutate("pods", NS, name, (o) => {
        o.metadata.creationTimestamp = new Date(Date.now() - 2 * TTL_MS).toISOString().replace(/\.\d{3}Z$/, "Z");
      });
    }
    world.server.clearRequests();
    // Porch may still be using them: our collector must not judge them by age.
    const t0 = Date.now();
    const report = await pod.gc.scan();
    expect(report.deleted).toEqual([]);
    expect(report.extended.sort()).toEqual(before);
    const after = world.server.listObjects<WirePod>("pods", NS);
    expect(after.map((p) => p.metadata?.name ?? "").sort()).toEqual(before);
    for (const p of after) {
      const reclaim = Number(p.metadata?.annotations?.["fn.kpt.dev/reclaim-after"]) * 1000;
      expect(reclaim).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000 + TTL_MS);
      expect(reclaim).toBeLessThanOrEqual(Date.now() + TTL_MS);
      // Porch's containers keep their tag: Porch (on rollback) keys pods by Containers[0].Image.
      expect(p.spec?.containers?.[0]?.image?.includes("@sha256:")).toBe(false);
    }
    for (const image of [single.image, multi.image]) {
      const r = await runner.evaluator?.evaluate(req(image));
      expect(decode(r?.log ?? new Uint8Array())).toContain("namespace prod");
    }
    expect(world.podCreates()).toBe(0);
    expect(world.server.requests().filter((r) => r.verb === "delete")).toEqual([]);
    // A second scan: still nothing deleted (the annotation is in the future now).
    expect((await pod.gc.scan()).deleted).toEqual([]);
    await runner.close();
  });
});
