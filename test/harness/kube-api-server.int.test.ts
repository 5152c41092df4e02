// The test Kubernetes API server, driven by the real @kubernetes/client-node.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  type V1Pod,
  type V1Status,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { type TestApiClient, coreV1ForTests, makeApiClientForTests } from "../support/kube/client-for-tests.ts";
import { type KubeApiServer, startKubeApiServer } from "../support/kube/index.ts";

const NS = "porch-fn-system";

let server: KubeApiServer;
let client: TestApiClient<CoreV1Api>;
let api: CoreV1Api;

beforeAll(async () => {
  server = await startKubeApiServer({ namespaces: [NS] });
  client = await coreV1ForTests(server.kubeconfigYaml());
  api = client.api;
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

beforeEach(() => {
  server.faults.clear();
  server.kubelet.disable();
  server.clearRequests();
});

/** The ApiException a client-node call rejected with, and its Status body. */
async function apiError(p: Promise<unknown>): Promise<{ code: number; status: V1Status; headers: Record<string, string> }> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof ApiException)) throw e;
    const raw: unknown = e.body;
    const status = (typeof raw === "string" ? JSON.parse(raw) : (raw ?? {})) as V1Status;
    return { code: e.code, status, headers: e.headers };
  }
  throw new Error("expected the call to fail");
}

function secretBody(name: string, data: Record<string, string> = { ".dockerconfigjson": "{}" }) {
  return {
    metadata: { name, labels: { "app.kubernetes.io/managed-by": "function-runner" } },
    type: "kubernetes.io/dockerconfigjson",
    stringData: data,
  };
}

function podBody(name: string, labels: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name, labels },
    spec: { containers: [{ name: "function", image: "gcr.io/kpt-fn/set-labels:v0.1", ports: [{ containerPort: 9446 }] }] },
  };
}

describe("client-node under Bun", () => {
  test("as shipped, it ignores the kubeconfig CA (the reason for client-for-tests.ts)", async () => {
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    const shipped = kc.makeApiClient(CoreV1Api);
    const err = await shipped.listNamespace().then(
      () => undefined,
      (e: unknown) => e,
    );
    // If Bun ever honours undici's `dispatcher`, this starts passing and the adapter may be dropped.
    expect(String(err)).toMatch(/self.signed|certificate|UNABLE_TO|unable to verify/i);
  });

  test("with the real-undici HttpLibrary, TLS is verified against the kubeconfig CA", async () => {
    const list = await api.listNamespace();
    expect(list.items.map((n) => n.metadata?.name)).toEqual(
      expect.arrayContaining(["default", "kube-system", "kube-public", "kube-node-lease", NS]),
    );
    // A different CA must be refused: TLS verification is really on.
    const other = await startKubeApiServer();
    try {
      const yaml = server.kubeconfigYaml().replace(
        Buffer.from(server.caPem).toString("base64"),
        Buffer.from(other.caPem).toString("base64"),
      );
      const wrongCa = await coreV1ForTests(yaml);
      await expect(wrongCa.api.listNamespace()).rejects.toThrow(/certificate|self.signed|verify/i);
      await wrongCa.close();
    } finally {
      await other.stop();
    }
  });

  test("a kubeconfig with a CA file path and one with a client certificate both work", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kubeconfig-"));
    try {
      const path = await server.writeKubeconfig(join(dir, "config"), { embedCA: false });
      const kc = new KubeConfig();
      kc.loadFromFile(path);
      expect(kc.getCurrentCluster()?.caFile).toBe(server.caPath);
      const viaFile = await makeApiClientForTests(kc, CoreV1Api);
      expect((await viaFile.api.readNamespace({ name: NS })).metadata?.name).toBe(NS);
      await viaFile.close();

      const viaCert = await coreV1ForTests(server.kubeconfigYaml({ auth: "clientCert" }));
      expect((await viaCert.api.readNamespace({ name: NS })).metadata?.name).toBe(NS);
      await viaCert.close();
      expect(server.requests().at(-1)?.user).toBe(server.pki.clientUser);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a wrong bearer token is answered 401 Unauthorized", async () => {
    const bad = await coreV1ForTests(server.kubeconfigYaml({ token: "not-the-token" }));
    const err = await bad.api.listNamespacedSecret({ namespace: NS }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // client-node maps 401 to a fixed message and drops the body (the raw test checks the Status).
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(401);
    expect(server.requests().at(-1)).toMatchObject({ status: 401, reason: "Unauthorized", user: undefined });
    await bad.close();
  });
});

describe("CRUD", () => {
  test("create fills server-side metadata; get returns the same object", async () => {
    const before = server.store.currentRevision();
    const created = await api.createNamespacedSecret({ namespace: NS, body: secretBody("crud-a") });
    expect(created.kind).toBe("Secret");
    expect(created.apiVersion).toBe("v1");
    expect(created.metadata?.namespace).toBe(NS);
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(before);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    // stringData is merged into data (base64) and not stored.
    expect(created.data).toEqual({ ".dockerconfigjson": Buffer.from("{}").toString("base64") });
    expect(created.stringData).toBeUndefined();

    const got = await api.readNamespacedSecret({ namespace: NS, name: "crud-a" });
    expect(got.metadata?.uid).toBe(created.metadata?.uid);
    expect(got.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    expect(server.requests().map((r) => [r.verb, r.resource, r.status])).toEqual([
      ["create", "secrets", 201],
      ["get", "secrets", 200],
    ]);
  });

  test("generateName yields a unique name with a 5-character suffix", async () => {
    const a = await api.createNamespacedPod({ namespace: NS, body: { ...podBody(""), metadata: { generateName: "fn-gen-" } } });
    const b = await api.createNamespacedPod({ namespace: NS, body: { ...podBody(""), metadata: { generateName: "fn-gen-" } } });
    expect(a.metadata?.name).toMatch(/^fn-gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(b.metadata?.name).not.toBe(a.metadata?.name);
    expect(a.metadata?.generation).toBe(1);
    expect(a.status?.phase).toBe("Pending");
  });

  test("AlreadyExists and NotFound are Status objects shaped like the real server's", async () => {
    await api.createNamespacedSecret({ namespace: NS, body: secretBody("dup") });
    const exists = await apiError(api.createNamespacedSecret({ namespace: NS, body: secretBody("dup") }));
    expect(exists.code).toBe(409);
    expect(exists.status).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'secrets "dup" already exists',
      reason: "AlreadyExists",
      details: { name: "dup", kind: "secrets" },
      code: 409,
    });
    const missing = await apiError(api.readNamespacedSecret({ namespace: NS, name: "nope" }));
    expect(missing.code).toBe(404);
    expect(missing.status).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'secrets "nope" not found',
      reason: "NotFound",
      details: { name: "nope", kind: "secrets" },
      code: 404,
    });
    const noNs = await apiError(api.createNamespacedSecret({ namespace: "no-such-ns", body: secretBody("x") }));
    expect(noNs.code).toBe(404);
    expect(noNs.status.message).toBe('namespaces "no-such-ns" not found');
    expect(noNs.status.details).toEqual({ name: "no-such-ns", kind: "namespaces" });
  });

  test("list filters by label selectors (equality, set-based, existence) and field selectors", async () => {
    const labels: Record<string, Record<string, string>> = {
      "sel-a": { app: "fn", tier: "web", env: "prod" },
      "sel-b": { app: "fn", tier: "db" },
      "sel-c": { app: "other", env: "dev" },
    };
    for (const [name, l] of Object.entries(labels)) await api.createNamespacedPod({ namespace: NS, body: podBody(name, l) });
    const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> => {
      const list = await api.listNamespacedPod({ namespace: NS, labelSelector, fieldSelector });
      expect(list.kind).toBe("PodList");
      return list.items.map((p) => p.metadata?.name ?? "").filter((n) => n.startsWith("sel-"));
    };
    expect(await names("app=fn")).toEqual(["sel-a", "sel-b"]);
    expect(await names("app==fn,tier=db")).toEqual(["sel-b"]);
    expect(await names("app!=fn")).toEqual(["sel-c"]);
    expect(await names("tier in (web, db)")).toEqual(["sel-a", "sel-b"]);
    expect(await names("env notin (prod)")).toEqual(["sel-b", "sel-c"]);
    expect(await names("env")).toEqual(["sel-a", "sel-c"]);
    expect(await names("!env")).toEqual(["sel-b"]);
    expect(await names("app=fn,!env")).toEqual(["sel-b"]);
    expect(await names(undefined, "metadata.name=sel-c")).toEqual(["sel-c"]);
    expect(await names("app=fn", "metadata.name!=sel-a")).toEqual(["sel-b"]);
    const bad = await apiError(api.listNamespacedPod({ namespace: NS, labelSelector: "a in (" }));
    expect(bad.code).toBe(400);
    expect(bad.status.reason).toBe("BadRequest");
  });

  test("replace with a stale resourceVersion is 409 Conflict; without one it is unconditional", async () => {
    const created = await api.createNamespacedSecret({ namespace: NS, body: secretBody("occ", { ".dockerconfigjson": '{"auths":{}}' }) });
    const first = await api.replaceNamespacedSecret({
      namespace: NS,
      name: "occ",
      body: { ...created, data: { ".dockerconfigjson": Buffer.from('{"auths":{"a":{}}}').toString("base64") } },
    });
    expect(Number(first.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));
    const stale = await apiError(api.replaceNamespacedSecret({ namespace: NS, name: "occ", body: created }));
    expect(stale.code).toBe(409);
    expect(stale.status).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'Operation cannot be fulfilled on secrets "occ": the object has been modified; please apply your changes to the latest version and try again',
      reason: "Conflict",
      details: { name: "occ", kind: "secrets" },
      code: 409,
    });
    const unconditional = await api.replaceNamespacedSecret({
      namespace: NS,
      name: "occ",
      body: { ...created, metadata: { ...created.metadata, resourceVersion: undefined } },
    });
    expect(unconditional.data).toEqual(created.data);
    expect(unconditional.metadata?.uid).toBe(created.metadata?.uid);
    // Replacing an absent Secret does not create it.
    const absent = await apiError(api.replaceNamespacedSecret({ namespace: NS, name: "ghost", body: secretBody("ghost") }));
    expect(absent.code).toBe(404);
  });

  test("patch: JSON Patch (client default), merge patch and strategic merge patch", async () => {
    await api.createNamespacedPod({ namespace: NS, body: podBody("patched", { a: "1" }) });
    const jp = await api.patchNamespacedPod({
      namespace: NS,
      name: "patched",
      body: [{ op: "add", path: "/metadata/labels/b", value: "2" }],
    });
    expect(jp.metadata?.labels).toEqual({ a: "1", b: "2" });
    const mp = await api.patchNamespacedPod(
      { namespace: NS, name: "patched", body: { metadata: { labels: { a: null, c: "3" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(mp.metadata?.labels).toEqual({ b: "2", c: "3" });
    const smp = await api.patchNamespacedPod(
      {
        namespace: NS,
        name: "patched",
        body: { spec: { containers: [{ name: "function", image: "gcr.io/kpt-fn/set-labels:v0.2" }] } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    // Merged by name: the container keeps its ports, only the image changed.
    expect(smp.spec?.containers).toHaveLength(1);
    expect(smp.spec?.containers[0]?.image).toBe("gcr.io/kpt-fn/set-labels:v0.2");
    expect(smp.spec?.containers[0]?.ports?.[0]?.containerPort).toBe(9446);
    expect(smp.metadata?.generation).toBe(2);
    const stale = await apiError(
      api.patchNamespacedPod(
        { namespace: NS, name: "patched", body: { metadata: { resourceVersion: "1", labels: { d: "4" } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
    expect(stale.code).toBe(409);
    expect(stale.status.reason).toBe("Conflict");
    const forbiddenChange = await apiError(
      api.patchNamespacedPod(
        { namespace: NS, name: "patched", body: { spec: { restartPolicy: "Never" } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
    expect(forbiddenChange.code).toBe(422);
    expect(forbiddenChange.status.details?.causes?.[0]?.field).toBe("spec");
  });

  test("delete returns the Pod (ReturnDeletedObject) but a Success Status for a Secret", async () => {
    await api.createNamespacedPod({ namespace: NS, body: podBody("del-pod") });
    const pod = await api.deleteNamespacedPod({ namespace: NS, name: "del-pod" });
    expect(pod.kind).toBe("Pod");
    expect(pod.metadata?.name).toBe("del-pod");
    const secret = await api.createNamespacedSecret({ namespace: NS, body: secretBody("del-secret") });
    const status = await api.deleteNamespacedSecret({ namespace: NS, name: "del-secret" });
    expect(status).toMatchObject({
      kind: "Status",
      apiVersion: "v1",
      status: "Success",
      details: { name: "del-secret", kind: "secrets", uid: secret.metadata?.uid },
    });
    expect(server.getObject("secrets", NS, "del-secret")).toBeUndefined();
    expect((await apiError(api.deleteNamespacedSecret({ namespace: NS, name: "del-secret" }))).code).toBe(404);
  });
});

describe("validation (422 Invalid)", () => {
  test("invalid names, by the rule of each type", async () => {
    const pod = await apiError(api.createNamespacedPod({ namespace: NS, body: podBody("Bad_Name") }));
    expect(pod.code).toBe(422);
    expect(pod.status.reason).toBe("Invalid");
    expect(pod.status.details?.kind).toBe("Pod");
    expect(pod.status.details?.name).toBe("Bad_Name");
    expect(pod.status.details?.causes).toEqual([
      {
        reason: "FieldValueInvalid",
        message: expect.stringContaining('Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'),
        field: "metadata.name",
      },
    ]);
    expect(pod.status.message).toStartWith('Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"');
    // Services need a DNS-1035 label: no leading digit, no dots.
    const svc = await apiError(
      api.createNamespacedService({ namespace: NS, body: { metadata: { name: "1svc" }, spec: { ports: [{ port: 80 }] } } }),
    );
    expect(svc.code).toBe(422);
    expect(svc.status.details?.causes?.[0]?.message).toContain("a DNS-1035 label");
    // A dotted name is fine for a Secret (DNS-1123 subdomain).
    await api.createNamespacedSecret({ namespace: NS, body: secretBody("dotted.name") });
  });

  test("missing required fields", async () => {
    const noContainers = await apiError(api.createNamespacedPod({ namespace: NS, body: { metadata: { name: "empty" }, spec: { containers: [] } } }));
    expect(noContainers.status.message).toBe('Pod "empty" is invalid: spec.containers: Required value');
    expect(noContainers.status.details?.causes).toEqual([
      { reason: "FieldValueRequired", message: "Required value", field: "spec.containers" },
    ]);
    const noImage = await apiError(
      api.createNamespacedPod({ namespace: NS, body: { metadata: { name: "noimage" }, spec: { containers: [{ name: "c", image: "" }] } } }),
    );
    expect(noImage.status.details?.causes?.map((c) => c.field)).toEqual(["spec.containers[0].image"]);
    const noKey = await apiError(
      api.createNamespacedSecret({
        namespace: NS,
        body: { metadata: { name: "nokey" }, type: "kubernetes.io/dockerconfigjson", data: {} },
      }),
    );
    expect(noKey.code).toBe(422);
    expect(noKey.status.message).toBe('Secret "nokey" is invalid: data[.dockerconfigjson]: Required value');
    const badLabel = await apiError(
      api.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "badlabel", labels: { "a b": "c" } } } }),
    );
    expect(badLabel.status.details?.causes?.[0]?.field).toBe("metadata.labels");
  });
});

describe("faults", () => {
  test("429 with Retry-After is visible to the client", async () => {
    server.faults.add({ match: { verb: "get", resource: "namespaces" }, times: 1, action: { status: 429, retryAfterSeconds: 7 } });
    const err = await apiError(api.readNamespace({ name: NS }));
    expect(err.code).toBe(429);
    expect(err.headers["retry-after"]).toBe("7");
    expect(err.status).toMatchObject({ reason: "TooManyRequests", details: { retryAfterSeconds: 7 }, code: 429 });
    // times: 1 — the next call goes through.
    expect((await api.readNamespace({ name: NS })).metadata?.name).toBe(NS);
  });

  test("500 InternalError, then success", async () => {
    const rule = server.faults.add({ match: { verb: "create", resource: "secrets" }, times: 1, action: { status: 500 } });
    const err = await apiError(api.createNamespacedSecret({ namespace: NS, body: secretBody("after-500") }));
    expect(err.code).toBe(500);
    expect(err.status).toMatchObject({ reason: "InternalError", message: "Internal error occurred: injected fault" });
    expect(rule.hits).toBe(1);
    expect(rule.active).toBe(false);
    expect((await api.createNamespacedSecret({ namespace: NS, body: secretBody("after-500") })).metadata?.name).toBe("after-500");
    expect(server.requests().map((r) => [r.status, r.fault])).toEqual([
      [500, "status"],
      [201, undefined],
    ]);
  });

  test("an injected 409 Conflict on update", async () => {
    const s = await api.createNamespacedSecret({ namespace: NS, body: secretBody("conflicted") });
    server.faults.add({ match: { verb: "update", name: "conflicted" }, times: 1, action: { status: 409 } });
    const err = await apiError(api.replaceNamespacedSecret({ namespace: NS, name: "conflicted", body: s }));
    expect(err.code).toBe(409);
    expect(err.status.reason).toBe("Conflict");
  });

  test("a dropped connection surfaces as a network error", async () => {
    server.faults.add({ match: { resource: "secrets", verb: "list" }, times: 1, action: { dropConnection: true } });
    const err = await api.listNamespacedSecret({ namespace: NS }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ApiException);
    expect(server.requests().at(-1)).toMatchObject({ verb: "list", resource: "secrets", status: 0, fault: "drop" });
    expect((await api.listNamespacedSecret({ namespace: NS })).kind).toBe("SecretList");
  });
});

describe("simulated kubelet", () => {
  test("a created pod becomes Running and Ready with a pod IP; the Service's Endpoints list it", async () => {
    server.kubelet.enable({ podIP: "127.0.0.1" });
    await api.createNamespacedService({
      namespace: NS,
      body: { metadata: { name: "fn-svc" }, spec: { selector: { "fn.kpt.dev/image": "fn-a" }, ports: [{ port: 9446, targetPort: 9446 }] } },
    });
    const svc = await api.readNamespacedService({ namespace: NS, name: "fn-svc" });
    expect(svc.spec?.clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);
    expect(svc.spec?.type).toBe("ClusterIP");
    await api.createNamespacedPod({ namespace: NS, body: podBody("fn-a-pod", { "fn.kpt.dev/image": "fn-a" }) });
    await server.settle();
    const pod = await api.readNamespacedPod({ namespace: NS, name: "fn-a-pod" });
    expect(pod.status?.phase).toBe("Running");
    expect(pod.status?.podIP).toBe("127.0.0.1");
    expect(pod.spec?.nodeName).toBe("kube-test-node");
    expect(pod.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(pod.status?.containerStatuses?.[0]).toMatchObject({ name: "function", ready: true, started: true });
    const ep = await api.readNamespacedEndpoints({ namespace: NS, name: "fn-svc" });
    expect(ep.subsets).toEqual([
      {
        addresses: [
          {
            ip: "127.0.0.1",
            nodeName: "kube-test-node",
            targetRef: { kind: "Pod", namespace: NS, name: "fn-a-pod", uid: pod.metadata?.uid ?? "" },
          },
        ],
        ports: [{ port: 9446, protocol: "TCP" }],
      },
    ]);
    // Deleting the pod empties the Endpoints.
    await api.deleteNamespacedPod({ namespace: NS, name: "fn-a-pod" });
    await server.settle();
    expect((await api.readNamespacedEndpoints({ namespace: NS, name: "fn-svc" })).subsets).toBeUndefined();
  });

  test("onPodRunning reports the address of a real process; failPod moves a pod to Failed", async () => {
    const started: string[] = [];
    server.kubelet.enable({
      onPodRunning: async (pod) => {
        started.push(pod.metadata?.name ?? "");
        return { podIP: "127.0.0.2" };
      },
    });
    await api.createNamespacedPod({ namespace: NS, body: podBody("hooked") });
    const running = await server.waitForObject<V1Pod>("pods", NS, "hooked", (p) => p.status?.phase === "Running");
    expect(running.status?.podIP).toBe("127.0.0.2");
    expect(started).toEqual(["hooked"]);
    const failed = server.kubelet.failPod("hooked", { namespace: NS, message: "boom" });
    expect(failed.status?.phase).toBe("Failed");
    const read = await api.readNamespacedPod({ namespace: NS, name: "hooked" });
    expect(read.status?.phase).toBe("Failed");
    expect(read.status?.containerStatuses?.[0]?.state?.terminated?.message).toBe("boom");
  });
});
