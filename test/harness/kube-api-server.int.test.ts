// The test Kubernetes API server over HTTPS (real undici): the semantics the
// runner's tests rely on, with the exact Status bodies its error mapping
// reads. What is not served is not tested here (see test/support/kube/README.md).
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { Agent, request } from "undici-real";
import { type KubeApiServer, type KubeObject, startKubeApiServer } from "../support/kube/index.ts";

const NS = "raw-ns";
const FC = "/apis/config.porch.kpt.dev/v1alpha1/namespaces/raw-ns/functionconfigs";

let server: KubeApiServer;
let agent: Agent;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

async function call(method: string, path: string, opts: { body?: unknown; contentType?: string; token?: string | null; srv?: KubeApiServer } = {}): Promise<Answer> {
  const srv = opts.srv ?? server;
  const token = opts.token === undefined ? srv.token : opts.token;
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  const body = opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  if (body !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
  const res = await request(`${srv.url}${path}`, { method: method as "GET", headers, body, dispatcher: agent });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

const core = (resource: string, name = ""): string => `/api/v1/namespaces/${NS}/${resource}${name ? `/${name}` : ""}`;
const secret = (name: string, extra: Record<string, unknown> = {}) => ({ metadata: { name }, data: { k: Buffer.from("v").toString("base64") }, ...extra });
const pod = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels }, spec: { containers: [{ name: "c", image: "example.com/fn:v1" }] } });
const status = (code: number, reason: string, message: string, details?: Record<string, unknown>) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason,
  ...(details ? { details } : {}),
  code,
});

beforeAll(async () => {
  server = await startKubeApiServer({ namespaces: [NS] });
  agent = new Agent({ connect: { ca: server.caPem } });
});

afterAll(async () => {
  await agent?.close();
  await server?.stop();
});

beforeEach(() => {
  server.faults.clear();
  server.clearRequests();
});

describe("authentication and paths", () => {
  test("no token and a wrong token are 401 with the exact Status body", async () => {
    for (const token of [null, "nope"]) {
      const res = await call("GET", core("secrets"), { token });
      expect(res.status).toBe(401);
      expect(res.json).toEqual(status(401, "Unauthorized", "Unauthorized"));
      expect(res.headers["content-type"]).toBe("application/json");
    }
  });

  test("client-node as shipped ignores the kubeconfig CA under Bun (why src/kube/http.ts sends through real undici)", async () => {
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    const err = await kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: NS }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // If Bun ever honours undici's `dispatcher`, this starts passing and the replacement may be dropped.
    expect(String(err)).toMatch(/self.signed|certificate|UNABLE_TO|unable to verify/i);
  });

  test("resources not served, unknown subresources and cluster-wide paths are 404; a POST to a name is 405", async () => {
    const notFound = status(404, "NotFound", "the server could not find the requested resource", {});
    expect((await call("GET", core("replicationcontrollers"))).json).toEqual(notFound);
    expect((await call("GET", "/api/v1/pods")).status).toBe(404);
    expect((await call("GET", "/api/v1/namespaces")).status).toBe(404);
    expect((await call("GET", `${core("secrets", "s")}/status`)).status).toBe(404);
    // Porch's custom resources only under their group.
    expect((await call("GET", core("functionconfigs"))).status).toBe(404);
    expect((await call("POST", core("secrets", "s"), { body: secret("s") })).status).toBe(405);
  });

  test("an authorize hook answers 403 with the RBAC message", async () => {
    const srv = await startKubeApiServer({ pki: server.pki, authorize: (a) => !(a.verb === "get" && a.resource === "secrets") });
    try {
      const res = await call("GET", "/api/v1/namespaces/default/secrets/s1", { srv });
      expect(res.status).toBe(403);
      expect(res.json).toEqual(
        status(403, "Forbidden", 'secrets "s1" is forbidden: User "test-user" cannot get resource "secrets" in API group "" in the namespace "default"', {
          name: "s1",
          kind: "secrets",
        }),
      );
    } finally {
      await srv.stop();
    }
  });
});

describe("reads and writes", () => {
  test("create fills server-side metadata; get answers the same object; the log records the calls", async () => {
    const before = server.store.currentRevision();
    const created = await call("POST", core("secrets"), { body: secret("crud-a"), contentType: "application/json" });
    expect(created.status).toBe(201);
    const meta = (created.json as unknown as KubeObject).metadata;
    expect(created.json).toMatchObject({ apiVersion: "v1", kind: "Secret", type: "Opaque" });
    expect(meta.namespace).toBe(NS);
    expect(meta.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(meta.resourceVersion)).toBeGreaterThan(before);
    expect(meta.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect((await call("GET", core("secrets", "crud-a"))).json).toEqual(created.json);
    const missing = await call("GET", core("secrets", "nope"));
    expect(missing.json).toEqual(status(404, "NotFound", 'secrets "nope" not found', { name: "nope", kind: "secrets" }));
    const [create, get] = server.requests();
    expect(create).toMatchObject({ method: "POST", verb: "create", resource: "secrets", namespace: NS, name: undefined, status: 201, user: "test-user", body: secret("crud-a") });
    expect(create?.time).toBeInstanceOf(Date);
    expect(get).toMatchObject({ verb: "get", name: "crud-a", status: 200 });
    expect((await server.waitForRequest((r) => r.name === "nope")).reason).toBe("NotFound");
  });

  test("AlreadyExists; generateName picks a free name; an unknown namespace is 404", async () => {
    await call("POST", core("secrets"), { body: secret("dup") });
    const dup = await call("POST", core("secrets"), { body: secret("dup") });
    expect(dup.json).toEqual(status(409, "AlreadyExists", 'secrets "dup" already exists', { name: "dup", kind: "secrets" }));
    const a = await call("POST", core("pods"), { body: { ...pod(""), metadata: { generateName: "fn-gen-" } } });
    const b = await call("POST", core("pods"), { body: { ...pod(""), metadata: { generateName: "fn-gen-" } } });
    const [na, nb] = [a, b].map((r) => (r.json as unknown as KubeObject).metadata.name);
    expect(na).toMatch(/^fn-gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(nb).not.toBe(na);
    expect(a.json).toMatchObject({ metadata: { generation: 1 }, status: { phase: "Pending" } });
    const noNs = await call("POST", "/api/v1/namespaces/no-such-ns/secrets", { body: secret("x") });
    expect(noNs.json).toEqual(status(404, "NotFound", 'namespaces "no-such-ns" not found', { name: "no-such-ns", kind: "namespaces" }));
    server.createNamespace("late-ns");
    expect((await call("POST", "/api/v1/namespaces/late-ns/secrets", { body: secret("x") })).status).toBe(201);
  });

  test("list: items without kind/apiVersion, filtered by label selectors; a malformed selector is 400", async () => {
    const labels: Record<string, Record<string, string>> = { "sel-a": { app: "fn", env: "prod" }, "sel-b": { app: "fn" }, "sel-c": { app: "other" } };
    for (const [name, l] of Object.entries(labels)) await call("POST", core("pods"), { body: pod(name, l) });
    const names = async (selector: string): Promise<string[]> => {
      const list = await call("GET", `${core("pods")}?labelSelector=${encodeURIComponent(selector)}`);
      expect(list.json).toMatchObject({ kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: String(server.store.currentRevision()) } });
      const items = list.json.items as KubeObject[];
      expect(items.every((i) => i.kind === undefined && i.apiVersion === undefined)).toBe(true);
      return items.map((p) => p.metadata.name ?? "").filter((n) => n.startsWith("sel-"));
    };
    expect(await names("app=fn")).toEqual(["sel-a", "sel-b"]);
    expect(await names("app,!env")).toEqual(["sel-b", "sel-c"]);
    expect(await names("app==fn,!env")).toEqual(["sel-b"]);
    expect(await names("app notin (fn)")).toEqual(["sel-c"]);
    const bad = await call("GET", `${core("pods")}?labelSelector=${encodeURIComponent("a in (")}`);
    expect(bad.status).toBe(400);
    expect(bad.json.reason).toBe("BadRequest");
  });

  test("replace: a stale resourceVersion is 409 Conflict, none is unconditional, a no-op keeps the resourceVersion; an absent object is 404", async () => {
    const created = (await call("POST", core("secrets"), { body: secret("occ") })).json as unknown as KubeObject;
    const same = (await call("PUT", core("secrets", "occ"), { body: created })).json as unknown as KubeObject;
    expect(same.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    const changed = (await call("PUT", core("secrets", "occ"), { body: { ...created, data: { k: "dw==" } } })).json as unknown as KubeObject;
    expect(Number(changed.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    const stale = await call("PUT", core("secrets", "occ"), { body: created });
    expect(stale.json).toEqual(
      status(409, "Conflict", 'Operation cannot be fulfilled on secrets "occ": the object has been modified; please apply your changes to the latest version and try again', {
        name: "occ",
        kind: "secrets",
      }),
    );
    const unconditional = await call("PUT", core("secrets", "occ"), { body: { ...created, metadata: { ...created.metadata, resourceVersion: undefined } } });
    expect(unconditional.json).toMatchObject({ data: created.data, metadata: { uid: created.metadata.uid } });
    expect((await call("PUT", core("secrets", "occ"), { body: secret("other") })).json.message).toBe("the name of the object (other) does not match the name on the URL (occ)");
    expect((await call("PUT", core("secrets", "ghost"), { body: secret("ghost") })).status).toBe(404);
  });

  test("patch: JSON Patch and merge patch; a stale resourceVersion is 409; a pod's spec is immutable; other types are 415", async () => {
    await call("POST", core("pods"), { body: pod("patched", { a: "1" }) });
    const json = { contentType: "application/json-patch+json" };
    const merge = { contentType: "application/merge-patch+json" };
    const jp = await call("PATCH", core("pods", "patched"), { ...json, body: [{ op: "add", path: "/metadata/annotations", value: { "fn.kpt.dev/reclaim-after": "1" } }] });
    expect(jp.json).toMatchObject({ metadata: { labels: { a: "1" }, annotations: { "fn.kpt.dev/reclaim-after": "1" }, generation: 1 } });
    const escaped = await call("PATCH", core("pods", "patched"), { ...json, body: [{ op: "add", path: "/metadata/annotations/fn.kpt.dev~1reclaim-after", value: "2" }] });
    expect(escaped.json).toMatchObject({ metadata: { annotations: { "fn.kpt.dev/reclaim-after": "2" } } });
    const missing = await call("PATCH", core("pods", "patched"), { ...json, body: [{ op: "add", path: "/metadata/nothing/x", value: "1" }] });
    expect(missing.status).toBe(422);
    const mp = await call("PATCH", core("pods", "patched"), { ...merge, body: { metadata: { labels: { a: null, c: "3" } } } });
    expect((mp.json as unknown as KubeObject).metadata.labels).toEqual({ c: "3" });
    expect((await call("PATCH", core("pods", "patched"), { ...merge, body: { metadata: { resourceVersion: "1", labels: { d: "4" } } } })).json.reason).toBe("Conflict");
    const spec = await call("PATCH", core("pods", "patched"), { ...merge, body: { spec: { restartPolicy: "Never" } } });
    expect(spec.status).toBe(422);
    expect((spec.json.details as { causes: { field: string }[] }).causes[0]?.field).toBe("spec");
    for (const contentType of ["application/strategic-merge-patch+json", "application/apply-patch+yaml", "text/plain"]) {
      const res = await call("PATCH", core("pods", "patched"), { contentType, body: {} });
      expect(res.status).toBe(415);
      expect(res.json.reason).toBe("UnsupportedMediaType");
    }
  });

  test("status is ignored on the main resource and written through /status", async () => {
    await call("POST", core("pods"), { body: pod("st") });
    const merge = { contentType: "application/merge-patch+json" };
    expect((await call("PATCH", core("pods", "st"), { ...merge, body: { status: { phase: "Running" } } })).json.status).toEqual({ phase: "Pending" });
    const sub = await call("PATCH", `${core("pods", "st")}/status`, { ...merge, body: { status: { phase: "Running", podIP: "10.0.0.9" } } });
    expect(sub.json.status).toEqual({ phase: "Running", podIP: "10.0.0.9" });
    expect((await call("GET", `${core("pods", "st")}/status`)).json.status).toEqual({ phase: "Running", podIP: "10.0.0.9" });
  });

  test("delete answers the Pod (ReturnDeletedObject) but a Success Status for a Secret; a uid precondition that differs is 409", async () => {
    await call("POST", core("pods"), { body: pod("del-pod") });
    expect((await call("DELETE", core("pods", "del-pod"))).json).toMatchObject({ kind: "Pod", metadata: { name: "del-pod" } });
    const s = (await call("POST", core("secrets"), { body: secret("del-secret") })).json as unknown as KubeObject;
    const pre = await call("DELETE", core("secrets", "del-secret"), { body: { preconditions: { uid: "other-uid" } } });
    expect(pre.status).toBe(409);
    expect(pre.json.message).toBe(`Operation cannot be fulfilled on secrets "del-secret": Precondition failed: UID in precondition: other-uid, UID in object meta: ${s.metadata.uid}`);
    const done = await call("DELETE", core("secrets", "del-secret"), { body: { preconditions: { uid: s.metadata.uid } } });
    expect(done.json).toMatchObject({ kind: "Status", status: "Success", details: { name: "del-secret", kind: "secrets", uid: s.metadata.uid } });
    expect(server.getObject("secrets", NS, "del-secret")).toBeUndefined();
    expect((await call("DELETE", core("secrets", "del-secret"))).status).toBe(404);
  });

  test("finalizers keep a deleted object (deletionTimestamp set, none may be added) until they are removed", async () => {
    await call("POST", core("secrets"), { body: { ...secret("fin"), metadata: { name: "fin", finalizers: ["example.com/hold"] } } });
    const del = await call("DELETE", core("secrets", "fin"));
    expect((del.json.metadata as { deletionTimestamp?: string }).deletionTimestamp).toBeDefined();
    expect(server.getObject("secrets", NS, "fin")).toBeDefined();
    const merge = { contentType: "application/merge-patch+json" };
    const more = await call("PATCH", core("secrets", "fin"), { ...merge, body: { metadata: { finalizers: ["example.com/hold", "example.com/more"] } } });
    expect(more.status).toBe(422);
    expect((await call("PATCH", core("secrets", "fin"), { ...merge, body: { metadata: { finalizers: null } } })).status).toBe(200);
    expect(server.getObject("secrets", NS, "fin")).toBeUndefined();
  });
});

describe("Porch's custom resources", () => {
  const fc = (name: string, spec: Record<string, unknown> = { image: "set-labels", podExecutor: { tags: ["v1"] } }) => ({
    apiVersion: "config.porch.kpt.dev/v1alpha1",
    kind: "FunctionConfig",
    metadata: { name },
    spec,
    status: { functionRunnerObservedGeneration: 9 },
  });

  test("FunctionConfig: the CRD's default and rules, generation, status only through /status (merge patch)", async () => {
    const created = await call("POST", FC, { body: fc("set-labels") });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ apiVersion: "config.porch.kpt.dev/v1alpha1", metadata: { generation: 1 }, spec: { podExecutor: { timeToLive: "30m" } } });
    expect(created.json.status).toBeUndefined();
    const merge = { contentType: "application/merge-patch+json" };
    const st = await call("PATCH", `${FC}/set-labels/status`, { ...merge, body: { status: { functionRunnerObservedGeneration: 1 }, spec: { image: "ignored" } } });
    expect(st.json).toMatchObject({ metadata: { generation: 1 }, spec: { image: "set-labels" }, status: { functionRunnerObservedGeneration: 1 } });
    const spec = await call("PATCH", `${FC}/set-labels`, { ...merge, body: { spec: { podExecutor: { tags: ["v2"] } } } });
    expect(spec.json).toMatchObject({ metadata: { generation: 2 }, status: { functionRunnerObservedGeneration: 1 } });
    expect((await call("GET", FC)).json).toMatchObject({ kind: "FunctionConfigList", apiVersion: "config.porch.kpt.dev/v1alpha1", items: [{ metadata: { name: "set-labels" } }] });
    expect((await call("POST", FC, { body: fc("bad", { image: "x" }) })).status).toBe(422);
    const st2 = await call("POST", "/apis/config.porch.kpt.dev/v1alpha1/namespaces/raw-ns/servicetemplates", { body: { metadata: { name: "t" } } });
    expect(st2.status).toBe(422);
  });
});

describe("validation (422 Invalid)", () => {
  test("names by the rule of each type: a Pod's is a DNS-1123 subdomain, a Service's a DNS-1035 label", async () => {
    const bad = await call("POST", core("pods"), { body: pod("Bad_Name") });
    expect(bad.status).toBe(422);
    expect(bad.json).toMatchObject({ reason: "Invalid", details: { kind: "Pod", name: "Bad_Name" } });
    expect((bad.json.details as { causes: unknown[] }).causes).toEqual([
      { reason: "FieldValueInvalid", message: expect.stringContaining('Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'), field: "metadata.name" },
    ]);
    expect(String(bad.json.message)).toStartWith('Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"');
    const svc = await call("POST", core("services"), { body: { metadata: { name: "1svc" }, spec: { ports: [{ port: 80 }] } } });
    expect((svc.json.details as { causes: { message: string }[] }).causes[0]?.message).toContain("a DNS-1035 label");
    expect((await call("POST", core("secrets"), { body: secret("dotted.name") })).status).toBe(201);
    const label = await call("POST", core("secrets"), { body: { metadata: { name: "badlabel", labels: { "fn.kpt.dev/image": "x".repeat(64) } } } });
    expect((label.json.details as { causes: { field: string }[] }).causes[0]?.field).toBe("metadata.labels");
  });

  test("what a runner's objects could get wrong: containers, images, mounts, Service ports, a pull Secret's key and type", async () => {
    const noContainers = await call("POST", core("pods"), { body: { metadata: { name: "empty" }, spec: { containers: [] } } });
    expect(noContainers.json).toMatchObject({
      message: 'Pod "empty" is invalid: spec.containers: Required value',
      details: { causes: [{ reason: "FieldValueRequired", message: "Required value", field: "spec.containers" }] },
    });
    const noImage = await call("POST", core("pods"), {
      body: { metadata: { name: "noimage" }, spec: { containers: [{ name: "c", image: "", volumeMounts: [{ name: "v", mountPath: "/v" }] }] } },
    });
    expect((noImage.json.details as { causes: { field: string }[] }).causes.map((c) => c.field)).toEqual(["spec.containers[0].image", "spec.containers[0].volumeMounts[0].name"]);
    expect((await call("POST", core("services"), { body: { metadata: { name: "noports" }, spec: {} } })).status).toBe(422);
    const svc = (await call("POST", core("services"), { body: { metadata: { name: "svc" }, spec: { ports: [{ port: 9446 }] } } })).json;
    expect(svc).toMatchObject({ spec: { type: "ClusterIP", ports: [{ port: 9446, targetPort: 9446, protocol: "TCP" }] } });
    const noKey = await call("POST", core("secrets"), { body: { metadata: { name: "nokey" }, type: "kubernetes.io/dockerconfigjson", data: {} } });
    expect(noKey.json.message).toBe('Secret "nokey" is invalid: data[.dockerconfigjson]: Required value');
    const imm = (await call("POST", core("secrets"), { body: secret("imm", { immutable: true }) })).json as unknown as KubeObject;
    const changed = await call("PUT", core("secrets", "imm"), { body: { ...imm, data: { k: "dw==" } } });
    expect(changed.json.message).toBe('Secret "imm" is invalid: data: Forbidden: field is immutable when `immutable` is set');
    const typed = await call("PUT", core("secrets", "imm"), { body: { ...imm, type: "kubernetes.io/tls" } });
    expect((typed.json.details as { causes: { field: string }[] }).causes.map((c) => c.field)).toContain("type");
  });
});

describe("faults", () => {
  test("429: Retry-After header and TooManyRequests body, for `times` requests", async () => {
    server.faults.add({ match: { resource: "secrets" }, times: 2, action: { status: 429, retryAfterSeconds: 3 } });
    const res = await call("GET", core("secrets"));
    expect(res.status).toBe(429);
    expect(res.headers["retry-after"]).toBe("3");
    expect(res.json).toEqual(status(429, "TooManyRequests", "Too many requests, please try again later.", { retryAfterSeconds: 3 }));
    expect((await call("GET", core("secrets"))).status).toBe(429);
    expect((await call("GET", core("secrets"))).status).toBe(200);
  });

  test("429 as the real flow control sends it: plain text, Retry-After", async () => {
    server.faults.add({ times: 1, action: { status: 429, retryAfterSeconds: 1, plainText: true } });
    const res = await call("GET", core("secrets"));
    expect(res.status).toBe(429);
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(res.text).toBe("Too many requests, please try again later.\n");
  });

  test("500, 503, 409 and 403 bodies; nothing is written", async () => {
    const rule = server.faults.add({ match: { verb: "create" }, times: 1, action: { status: 500, message: "etcdserver: request timed out" } });
    const r500 = await call("POST", core("secrets"), { body: secret("f500") });
    expect(r500.json).toEqual(
      status(500, "InternalError", "Internal error occurred: etcdserver: request timed out", { causes: [{ message: "etcdserver: request timed out" }] }),
    );
    expect(server.getObject("secrets", NS, "f500")).toBeUndefined();
    expect([rule.hits, rule.active]).toEqual([1, false]);
    server.faults.add({ times: 1, action: { status: 503, retryAfterSeconds: 1 } });
    const r503 = await call("GET", core("secrets"));
    expect([r503.status, r503.headers["retry-after"], r503.json.reason]).toEqual([503, "1", "ServiceUnavailable"]);
    server.faults.add({ match: { verb: "update", name: "x" }, times: 1, action: { status: 409 } });
    expect((await call("PUT", core("secrets", "x"), { body: secret("x") })).json.reason).toBe("Conflict");
    server.faults.add({ match: { resource: "serviceaccounts" }, times: 1, action: { status: 403 } });
    expect((await call("GET", core("serviceaccounts", "sa"))).json.message).toBe('serviceaccounts "sa" is forbidden: injected fault');
    expect(server.requests().map((r) => [r.status, r.fault])).toEqual([
      [500, "status"],
      [503, "status"],
      [409, "status"],
      [403, "status"],
    ]);
  });

  test("latency delays the answer; a rule without `times` stays until removed", async () => {
    const rule = server.faults.add({ match: { verb: "get", resource: "secrets", name: "slow" }, action: { latencyMs: 150 } });
    for (let i = 0; i < 2; i++) expect((await call("GET", core("secrets", "slow"))).status).toBe(404);
    expect(rule.hits).toBe(2);
    rule.remove();
    expect(rule.active).toBe(false);
    await call("GET", core("secrets", "slow"));
    expect(server.requests().map((r) => r.fault)).toEqual(["latency", "latency", undefined]);
    expect(server.requests()[0]?.durationMs).toBeGreaterThanOrEqual(140);
  });

  test("dropConnection closes the socket without an answer", async () => {
    server.faults.add({ match: { verb: "create", resource: "secrets" }, times: 1, action: { dropConnection: true } });
    const err = await call("POST", core("secrets"), { body: secret("dropped") }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String((err as { code?: string }).code ?? err)).toMatch(/UND_ERR_SOCKET|ECONNRESET|closed|socket/i);
    expect(server.requests().at(-1)).toMatchObject({ verb: "create", status: 0, fault: "drop" });
    expect(server.getObject("secrets", NS, "dropped")).toBeUndefined();
    expect((await call("POST", core("secrets"), { body: secret("dropped") })).status).toBe(201);
  });
});

describe("watches", () => {
  /** Events of a watch stream as they arrive. */
  async function watch(path: string): Promise<{ events: { type: string; name: string }[]; stop(): Promise<void> }> {
    const res = await request(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}` }, dispatcher: agent });
    expect(res.statusCode).toBe(200);
    const events: { type: string; name: string }[] = [];
    let buffer = "";
    const reading = (async () => {
      for await (const chunk of res.body) {
        buffer += Buffer.from(chunk as Uint8Array).toString("utf8");
        for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
          const e = JSON.parse(buffer.slice(0, nl)) as { type: string; object: KubeObject };
          buffer = buffer.slice(nl + 1);
          events.push({ type: e.type, name: e.object.metadata?.name ?? "" });
        }
      }
    })().catch(() => undefined);
    return {
      events,
      stop: async () => {
        res.body.destroy();
        await reading;
      },
    };
  }

  test("ADDED/MODIFIED/DELETED in order, by label selector (starting or stopping to match), resumable from a resourceVersion", async () => {
    const rv = String(server.store.currentRevision());
    const w = await watch(`${core("pods")}?watch=true&labelSelector=w%3Dyes&resourceVersion=${rv}`);
    const merge = { contentType: "application/merge-patch+json" };
    await call("POST", core("pods"), { body: pod("w1", { w: "yes" }) });
    await call("POST", core("pods"), { body: pod("w2", { w: "no" }) });
    await call("PATCH", core("pods", "w1"), { ...merge, body: { metadata: { annotations: { x: "1" } } } });
    await call("PATCH", core("pods", "w2"), { ...merge, body: { metadata: { labels: { w: "yes" } } } });
    await call("PATCH", core("pods", "w1"), { ...merge, body: { metadata: { labels: { w: "no" } } } });
    await call("DELETE", core("pods", "w2"));
    const expected = [
      { type: "ADDED", name: "w1" },
      { type: "MODIFIED", name: "w1" },
      { type: "ADDED", name: "w2" },
      { type: "DELETED", name: "w1" },
      { type: "DELETED", name: "w2" },
    ];
    const deadline = Date.now() + 3000;
    while (w.events.length < expected.length && Date.now() < deadline) await Bun.sleep(10);
    expect(w.events).toEqual(expected);
    expect(server.openWatches).toBe(1);
    await w.stop();
    // Resuming from the same resourceVersion replays the history; timeoutSeconds ends the stream.
    const replay = await request(`${server.url}${core("pods")}?watch=1&labelSelector=w%3Dyes&resourceVersion=${rv}&timeoutSeconds=1`, {
      headers: { authorization: `Bearer ${server.token}` },
      dispatcher: agent,
    });
    const lines = (await replay.body.text()).trim().split("\n").map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual(expected.map((e) => e.type));
  });

  test("without a resourceVersion it starts with the current objects; a compacted one gets a 410 Expired ERROR event", async () => {
    await call("POST", FC, { body: { metadata: { name: "watched-now" }, spec: { image: "x", podExecutor: {} } } });
    const now = await request(`${server.url}${FC}?watch=true&timeoutSeconds=1`, { headers: { authorization: `Bearer ${server.token}` }, dispatcher: agent });
    const events = (await now.body.text()).trim().split("\n").map((l) => JSON.parse(l) as { type: string; object: KubeObject });
    expect(events.map((e) => [e.type, e.object.kind, e.object.metadata.name])).toContainEqual(["ADDED", "FunctionConfig", "watched-now"]);
    expect(events.every((e) => e.type === "ADDED")).toBe(true);
    const srv = await startKubeApiServer({ pki: server.pki, watchHistory: 5 });
    try {
      for (let i = 0; i < 10; i++) srv.seed("secrets", secret(`s-${i}`));
      const old = await request(`${srv.url}/api/v1/namespaces/default/secrets?watch=true&resourceVersion=1`, { headers: { authorization: `Bearer ${srv.token}` }, dispatcher: agent });
      const event = JSON.parse((await old.body.text()).trim()) as { type: string; object: Record<string, unknown> };
      expect(event.type).toBe("ERROR");
      expect(event.object).toEqual(status(410, "Expired", "too old resource version: 1 (5)"));
    } finally {
      await srv.stop();
    }
  });
});
