// Pod planning against the test API server: base-pod-template get/create,
// the pull Secret for custom registries, the read-only podspec path.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import { type IPod, Pod } from "kubernetes-models/v1/Pod";
import { type IService, Service } from "kubernetes-models/v1/Service";
import { BASE_POD_TEMPLATE_NAME, TEMPLATE_VERSION_ANNOTATION } from "../../src/kube/pod-spec.ts";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import type { KubeApiServer } from "../support/kube/index.ts";
import { NS, SECRET, authJson, customArgs, kubeconfigFor, makeRunner, rejection, startKube, tempDir, writeAuthFile } from "./helpers.ts";

let reg: TestRegistry;
let server: KubeApiServer;
let kubeconfig: string;
let digest: string;
let image: string;

beforeAll(async () => {
  reg = await startRegistry({ mode: "http" });
  digest = (await pushImage(reg, "fns/set_labels", "v1.2", { format: "oci", entrypoint: ["/usr/bin/set-labels", "--x"] })).digest;
  image = `${reg.host}/fns/set_labels:v1.2`;
});
afterAll(async () => {
  await reg?.stop();
});

async function freshKube(opts: Parameters<typeof startKube>[0] = {}): Promise<void> {
  await server?.stop();
  server = await startKube(opts);
  kubeconfig = await kubeconfigFor(server);
}
afterAll(async () => {
  await server?.stop();
});

const writes = (s: KubeApiServer) => s.requests().filter((r) => r.verb !== "get" && r.verb !== "list" && r.verb !== "watch");
const templateLog = (s: KubeApiServer) =>
  s.requests()
    .filter((r) => r.resource === "podtemplates")
    .map((r) => `${r.verb} ${r.status}${r.reason ? ` ${r.reason}` : ""}`);

/** Against the Kubernetes object schema (kubernetes-models), after a JSON round trip as the API would see it. */
function validate(pod: V1Pod, service: V1Service): void {
  new Pod(JSON.parse(JSON.stringify(pod)) as IPod).validate();
  new Service(JSON.parse(JSON.stringify(service)) as IService).validate();
}

describe("base pod template", () => {
  test("created from the inline default when absent, its resourceVersion as the template version; reused when present", async () => {
    await freshKube();
    const a = makeRunner(["--kubeconfig", kubeconfig, "--pod-namespace", NS]);
    const b = makeRunner(["--kubeconfig", kubeconfig, "--pod-namespace", NS]);
    try {
      const plan = await a.runner.planner.prepare(image);
      expect(plan.template.source).toBe("created");
      expect(templateLog(server)).toEqual(["get 404 NotFound", "create 201"]);
      const stored = server.getObject<{ metadata: { resourceVersion: string } }>("podtemplates", NS, BASE_POD_TEMPLATE_NAME);
      expect(plan.pod.metadata?.annotations?.[TEMPLATE_VERSION_ANNOTATION]).toBe(stored?.metadata.resourceVersion);
      // The function container runs the pinned digest behind the wrapper server.
      const fn = plan.pod.spec?.containers.find((c) => c.name === "function");
      expect(fn?.image).toBe(`${reg.host}/fns/set_labels@${digest}`);
      expect(fn?.args).toEqual(["--port", "9446", "--max-request-body-size", "6291456", "--", "/usr/bin/set-labels", "--x"]);
      expect(plan.pod.spec?.initContainers?.[0]?.image).toBe("example.test/wrapper-server:v1");
      // Default strategy: no pull secret.
      expect(plan.pod.spec?.imagePullSecrets).toBeUndefined();
      expect(plan.secret).toEqual({ name: null, action: "not needed: private registries disabled" });
      expect(server.requests().filter((r) => r.resource === "secrets")).toEqual([]);
      validate(plan.pod, plan.service);

      server.clearRequests();
      const again = await b.runner.planner.prepare(image);
      expect(again.template.source).toBe("cluster");
      expect(templateLog(server)).toEqual(["get 200"]);
      expect(again.pod.metadata?.annotations?.[TEMPLATE_VERSION_ANNOTATION]).toBe(stored?.metadata.resourceVersion);
      validate(again.pod, again.service);
    } finally {
      await Promise.all([a.runner.close(), b.runner.close()]);
    }
  });

  test("replicas racing to create it: AlreadyExists → the other's template is read and used", async () => {
    await freshKube();
    // Both replicas read "absent" (deterministically), so both create.
    server.faults.add({ match: { verb: "get", resource: "podtemplates" }, times: 2, action: { status: 404 } });
    const a = makeRunner(["--kubeconfig", kubeconfig, "--pod-namespace", NS]);
    const b = makeRunner(["--kubeconfig", kubeconfig, "--pod-namespace", NS]);
    try {
      const [pa, pb] = await Promise.all([a.runner.planner.prepare(image), b.runner.planner.prepare(image)]);
      const log = templateLog(server);
      expect(log.filter((l) => l === "create 201")).toHaveLength(1);
      expect(log.filter((l) => l === "create 409 AlreadyExists")).toHaveLength(1);
      expect(pa.template.version).toBe(pb.template.version);
    } finally {
      await Promise.all([a.runner.close(), b.runner.close()]);
    }
  });

  test("an operator's template changes are kept in the pod", async () => {
    await freshKube();
    server.seed("podtemplates", {
      apiVersion: "v1",
      kind: "PodTemplate",
      metadata: { name: BASE_POD_TEMPLATE_NAME, namespace: NS },
      template: {
        metadata: { labels: { team: "fn" } },
        spec: {
          tolerations: [{ key: "fn-only", operator: "Exists", effect: "NoSchedule" }],
          containers: [{ name: "function", image: "to-be-replaced" }],
        },
      },
    });
    const r = makeRunner(["--kubeconfig", kubeconfig, "--pod-namespace", NS]);
    try {
      const plan = await r.runner.planner.prepare(image);
      expect(plan.template.source).toBe("cluster");
      expect(plan.pod.metadata?.labels?.team).toBe("fn");
      expect(plan.pod.spec?.tolerations?.[0]?.key).toBe("fn-only");
      // The pod template exists: only Porch's inline base-service-template is created (as Porch does).
      expect(writes(server).map((w) => `${w.verb} ${w.resource}`)).toEqual(["create servicetemplates"]);
      validate(plan.pod, plan.service);
    } finally {
      await r.runner.close();
    }
  });
});

describe("custom registries", () => {
  test("the pull Secret is ensured first and listed once in imagePullSecrets", async () => {
    await freshKube();
    const auth = writeAuthFile(authJson("private.example"));
    const r = makeRunner(customArgs(kubeconfig, auth));
    try {
      const plan = await r.runner.planner.prepare(image);
      expect(plan.secret).toEqual({ name: SECRET, action: "created" });
      expect(plan.pod.spec?.imagePullSecrets).toEqual([{ name: SECRET }]);
      const order = server.requests().filter((e) => e.verb === "create").map((e) => e.resource);
      expect(order).toEqual(["secrets", "podtemplates", "servicetemplates"]);
      validate(plan.pod, plan.service);
      // The service selects the pod by its label.
      expect(plan.service.spec?.selector).toEqual({ "fn.kpt.dev/image": plan.podId });
    } finally {
      await r.runner.close();
    }
  });
});

describe("podSpec (read-only)", () => {
  test("with a cluster: no writes; reports the Secret and template actions it would take", async () => {
    await freshKube();
    const dir = tempDir();
    const auth = writeAuthFile(authJson("preview.example"), dir);
    const r = makeRunner(customArgs(kubeconfig, auth));
    try {
      const first = await r.runner.planner.podSpec(image);
      expect(writes(server)).toEqual([]);
      expect(first.secret).toEqual({ name: SECRET, action: "would create" });
      expect(first.template.source).toBe("inline");
      expect(first.template.note).toContain("would be created");
      expect(first.pod.spec?.imagePullSecrets).toEqual([{ name: SECRET }]);
      expect(first.digest).toBe(digest);

      await r.runner.kube.pullSecret.ensure();
      expect((await r.runner.planner.podSpec(image)).secret.action).toBe("up to date");
      writeFileSync(auth, authJson("preview.example", "new", "pw"));
      server.clearRequests();
      expect((await r.runner.planner.podSpec(image)).secret.action).toBe("would update");
      expect(writes(server)).toEqual([]);
    } finally {
      await r.runner.close();
    }
  });

  test("without Kubernetes: the service seam answers KUBE_UNAVAILABLE; the CLI path uses the inline template and says so", async () => {
    const auth = writeAuthFile(authJson("nokube.example"));
    const r = makeRunner(customArgs(undefined, auth));
    try {
      expect(r.runner.kube.status().available).toBe(false);
      expect(r.runner.kube.status().reason).toContain("no Kubernetes configuration");
      const e = await rejection((r.runner.podSpec as (i: string) => Promise<unknown>)(image));
      expect(e.code).toBe("KUBE_UNAVAILABLE");
      // Resolving a custom image without Kubernetes needs no Secret: there will be no pod.
      expect((await r.runner.resolver.resolve(image)).auth.strategy).toBe("custom");
      const plan = await r.runner.planner.podSpec(image, { allowInline: true });
      expect(plan.template.source).toBe("inline");
      expect(plan.template.note).toContain("no Kubernetes");
      expect(plan.secret.action).toMatch(/^unknown: no Kubernetes/);
    } finally {
      await r.runner.close();
    }
  });
});

describe("status", () => {
  test("configured, then loaded with the server; a broken kubeconfig turns it off with the reason", async () => {
    await freshKube();
    const ok = makeRunner(["--kubeconfig", kubeconfig]);
    const broken = join(tempDir(), "broken");
    writeFileSync(broken, "clusters: [this is: not a kubeconfig");
    const bad = makeRunner(["--kubeconfig", broken]);
    try {
      expect(ok.runner.kube.status()).toEqual({ available: true, reason: `configured from --kubeconfig ${kubeconfig}` });
      expect(await ok.runner.kube.ready()).toEqual({ available: true, reason: `configured from --kubeconfig ${kubeconfig}`, server: server.url });
      const s = await bad.runner.kube.ready();
      expect(s.available).toBe(false);
      expect(s.reason).toContain(broken);
      expect(bad.logger.lines.some((l) => l.includes("the pod runtime is off"))).toBe(true);
    } finally {
      await Promise.all([ok.runner.close(), bad.runner.close()]);
    }
  });
});
