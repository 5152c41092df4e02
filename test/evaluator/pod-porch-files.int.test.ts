// Porch v4.1.2's file-based configuration: its real func/config.yaml drives
// the exec runtime (--config, binaries under --functions), a pod-cache-config
// file warms pods at start-up with its TTLs (--pod-cache-config,
// --warm-up-pod-cache), and --function-pod-template's ConfigMap (Porch's own
// deployments/function-pods example) shapes the pods and Services created.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { parseCommandLine } from "../../src/config/config.ts";
import { memoryLogger } from "../../src/log.ts";
import { createRunner } from "../../src/runner.ts";
import type { KubeObject, WirePod, WireService } from "../support/kube/index.ts";
import { decode, encode, fixture, RESOURCE_LIST, ROOT, tempDir } from "./helpers.ts";
import { functionPods, NS, type PodWorld, startPodWorld } from "./pod-helpers.ts";

const PORCH = join(ROOT, "test", "fixtures", "porch");
const MARKER = "exec-marker: ran as a local binary";
let world: PodWorld;

beforeAll(async () => {
  world = await startPodWorld();
});
afterAll(async () => {
  await world?.stop();
});

const req = (image: string) => ({ image, resourceList: encode(RESOURCE_LIST), deadline: Date.now() + 30_000 });

describe("--config: v4.1.2's func/config.yaml", () => {
  test("its images run the binaries named by `function` under --functions, by tag and by digest; others are NOT_FOUND", async () => {
    const dir = tempDir("fr-v4-fns-");
    const config = join(dir, "config.yaml");
    copyFileSync(join(PORCH, "v4.1.2-func-config.yaml"), config);
    for (const name of ["set-namespace", "apply-setters-v1"]) copyFileSync(fixture("exec-marker.sh"), join(dir, name));
    const { config: flags } = parseCommandLine(["--functions", dir, "--disable-runtimes", "pod"]);
    const runner = createRunner(flags, memoryLogger(), { kube: { env: {}, homeDir: "" }, porch: { execConfigFile: config, warmUp: false } });
    await runner.start?.();
    try {
      for (const image of [
        "gcr.io/kpt-fn/set-namespace:v0.2.0",
        "gcr.io/kpt-fn/set-namespace@sha256:7adc23986f97572d75af9aec6a7f74d60f7b9976227f43a75486633e7c539e6f",
        "gcr.io/kpt-fn/apply-setters:v0.1",
      ]) {
        const r = await runner.evaluator?.evaluate(req(image));
        expect(decode(r?.log ?? new Uint8Array())).toContain(MARKER);
      }
      let code: string | undefined;
      try {
        await runner.evaluator?.evaluate(req("gcr.io/kpt-fn/set-namespace:v0.4.1"));
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code).toBe("NOT_FOUND");
    } finally {
      await runner.close();
    }
  });
});

describe("the flags as main.ts parses them (Go syntax)", () => {
  test("-config and --warm-up-pod-cache=false reach the runtimes", async () => {
    const dir = tempDir("fr-v4-flags-");
    const config = join(dir, "config.yaml");
    copyFileSync(join(PORCH, "v4.1.2-func-config.yaml"), config);
    copyFileSync(fixture("exec-marker.sh"), join(dir, "set-namespace"));
    const file = join(dir, "pod-cache-config.yaml");
    writeFileSync(file, "gcr.io/kpt-fn/set-namespace:v0.2.0: 5m\n");
    const { config: flags } = parseCommandLine(["-config", config, "--functions", dir, "--pod-cache-config", file, "--warm-up-pod-cache=false", "--disable-runtimes", "pod"]);
    const runner = createRunner(flags, memoryLogger(), { kube: { env: {}, homeDir: "" } });
    try {
      await runner.start?.();
      const r = await runner.evaluator?.evaluate(req("gcr.io/kpt-fn/set-namespace:v0.2.0"));
      expect(decode(r?.log ?? new Uint8Array())).toContain(MARKER);
    } finally {
      await runner.close();
    }
  });
});

describe("--pod-cache-config with --warm-up-pod-cache", () => {
  test("each image gets its pod at start-up under its fixed name; the file's TTL is its reclaim-after, a bad TTL falls back to --pod-ttl", async () => {
    const a = await world.push("warm-a", "v1", [fixture("set-namespace.sh")]);
    const b = await world.push("warm-b", "v1", [fixture("set-namespace.sh")]);
    const file = join(tempDir("fr-pcc-"), "pod-cache-config.yaml");
    writeFileSync(file, `${a.image}: 5m\n${b.image}: soon\n`);
    const creates = world.podCreates();
    const t0 = Date.now();
    const { runner, logger } = await world.runner(["--pod-ttl", "20m"], {}, { porch: { podCacheConfig: file, warmUp: true }, start: true });
    try {
      const started = (await runner.pod?.warming()) ?? [];
      expect(started.sort()).toEqual([a.image, b.image].sort());
      expect(world.podCreates() - creates).toBe(2);
      const podOf = (digest: string): WirePod | undefined => functionPods(world.server).find((p) => p.spec?.containers?.[0]?.image?.endsWith(digest));
      for (const [img, ttl] of [
        [a, 5 * 60_000],
        [b, 20 * 60_000],
      ] as const) {
        const p = podOf(img.digest);
        expect(p?.metadata?.name).toBe(p?.metadata?.labels?.["fn.kpt.dev/image"]);
        const reclaim = Number(p?.metadata?.annotations?.["fn.kpt.dev/reclaim-after"]) * 1000;
        expect(reclaim).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000 + ttl);
        expect(reclaim).toBeLessThanOrEqual(Date.now() + ttl);
      }
      expect(logger.lines.some((l) => l.includes("pod cache config warning") && l.includes("soon"))).toBe(true);
      // Warm: a request creates nothing.
      const before = world.podCreates();
      const r = await runner.evaluator?.evaluate(req(a.image));
      expect(decode(r?.log ?? new Uint8Array())).toContain("namespace prod");
      expect(world.podCreates()).toBe(before);
    } finally {
      await runner.close();
    }
  });

  test("the flags: --warm-up-pod-cache=false starts nothing; -warm-up-pod-cache (Go's bare boolean) warms", async () => {
    const c = await world.push("warm-c", "v1", [fixture("set-namespace.sh")]);
    const file = join(tempDir("fr-pcc-"), "pod-cache-config.yaml");
    writeFileSync(file, `${c.image}: 5m\n`);
    const creates = world.podCreates();
    const off = await world.runner(["--pod-cache-config", file, "--warm-up-pod-cache=false"], {}, { start: true });
    expect(await off.runner.pod?.warming()).toEqual([]);
    expect(world.podCreates()).toBe(creates);
    await off.close();
    const on = await world.runner(["-pod-cache-config", file, "-warm-up-pod-cache"], {}, { start: true });
    expect(await on.runner.pod?.warming()).toEqual([c.image]);
    expect(world.podCreates()).toBe(creates + 1);
    await on.close();
  });
});

describe("--function-pod-template", () => {
  test("Porch's example ConfigMap: its Pod template (unknown fields ignored as Go's decoder does) and Service template; its resourceVersion is the template version", async () => {
    world.server.createNamespace("porch-system");
    const docs = parseAllDocuments(readFileSync(join(PORCH, "head-function-pods-deployment.yaml"), "utf8")).map((d) => d.toJS() as KubeObject | null);
    const cm = docs.find((d) => d?.kind === "ConfigMap");
    if (cm == null) throw new Error("no ConfigMap in the fixture");
    const stored = world.server.seed<KubeObject>("configmaps", cm, "porch-system");
    const img = await world.push("from-configmap", "v1", [fixture("set-namespace.sh")]);
    world.server.clearRequests();
    const { runner } = await world.runner([], {}, { porch: { functionPodTemplate: "kpt-function-eval-pod-template", warmUp: false }, start: true });
    try {
      const r = await runner.evaluator?.evaluate(req(img.image));
      expect(decode(r?.log ?? new Uint8Array())).toContain("namespace prod");
      const pod = functionPods(world.server).find((p) => p.spec?.containers?.[0]?.image?.endsWith(img.digest)) as WirePod;
      expect(pod.metadata?.annotations?.["fn.kpt.dev/template-version"]).toBe(stored.metadata.resourceVersion ?? "");
      // Porch's example puts `annotations` beside `spec`, where Porch's decoder never sees it.
      expect(pod.metadata?.annotations?.["cluster-autoscaler.kubernetes.io/safe-to-evict"]).toBeUndefined();
      expect(pod.spec?.initContainers?.[0]?.command).toEqual(["cp", "-a", "/home/nonroot/wrapper-server/.", "/wrapper-server-tools"]);
      const id = pod.metadata?.labels?.["fn.kpt.dev/image"] ?? "";
      const svc = world.server.getObject<WireService>("services", NS, id);
      expect(svc?.spec?.ports?.map((p) => [p.name ?? null, p.port])).toEqual([[null, 9446]]);
      expect(svc?.spec?.selector).toEqual({ "fn.kpt.dev/image": id });
      // Read from the runner's namespace (porch-system outside a cluster, as Porch); base-pod-template not touched.
      expect(world.server.requests().some((e) => e.resource === "configmaps" && e.namespace === "porch-system" && e.status === 200)).toBe(true);
      expect(world.server.requests().some((e) => e.resource === "podtemplates")).toBe(false);
    } finally {
      await runner.close();
    }
  });
});
