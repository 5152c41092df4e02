// The test Kubernetes API server over plain HTTPS (real undici): exact Status
// bodies and headers, fault details client-node hides, watches, pagination,
// lifecycle semantics (graceful deletion, finalizers, namespaces), decoding.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Agent, request } from "undici-real";
import { type KubeApiServer, startKubeApiServer } from "../support/kube/index.ts";
import type { KubeObject } from "../support/kube/types.ts";

const NS = "raw-ns";

let server: KubeApiServer;
let agent: Agent;

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

async function call(
  method: string,
  path: string,
  opts: { body?: unknown; contentType?: string; token?: string | null; srv?: KubeApiServer; dispatcher?: Agent } = {},
): Promise<RawResponse> {
  const srv = opts.srv ?? server;
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? srv.token : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["content-type"] = opts.contentType ?? "application/json";
  }
  const res = await request(`${srv.url}${path}`, { method: method as "GET", headers, body, dispatcher: opts.dispatcher ?? agent });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

const secret = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name },
  data: { k: Buffer.from("v").toString("base64") },
  ...extra,
});

const pod = (name: string, labels: Record<string, string> = {}) => ({
  metadata: { name, labels },
  spec: { containers: [{ name: "c", image: "example.com/fn:v1" }] },
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

describe("authentication and discovery", () => {
  test("no token and a wrong token are 401 with the exact Status body", async () => {
    const expected = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401,
    };
    const none = await call("GET", "/api/v1/namespaces", { token: null });
    expect(none.status).toBe(401);
    expect(none.json).toEqual(expected);
    expect(none.headers["content-type"]).toBe("application/json");
    const wrong = await call("GET", "/api/v1/namespaces", { token: "nope" });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual(expected);
  });

  test("healthz and version need no token; /api/v1 lists the resources served", async () => {
    expect((await call("GET", "/healthz", { token: null })).text).toBe("ok");
    expect((await call("GET", "/version", { token: null })).json.gitVersion).toMatch(/^v1\./);
    const list = await call("GET", "/api/v1");
    const names = (list.json.resources as { name: string }[]).map((r) => r.name);
    expect(names).toEqual(
      expect.arrayContaining(["pods", "pods/status", "services", "endpoints", "secrets", "podtemplates", "serviceaccounts", "namespaces"]),
    );
  });

  test("unknown paths are 404 with a Status", async () => {
    const res = await call("GET", "/api/v1/namespaces/raw-ns/replicationcontrollers");
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ kind: "Status", reason: "NotFound", message: "the server could not find the requested resource", code: 404 });
  });

  test("Porch's custom resources are served under /apis only, with the status subresource", async () => {
    expect((await call("GET", "/api/v1/namespaces/raw-ns/functionconfigs")).status).toBe(404);
    const base = "/apis/config.porch.kpt.dev/v1alpha1/namespaces/raw-ns/functionconfigs";
    const created = await call("POST", base, {
      body: {
        apiVersion: "config.porch.kpt.dev/v1alpha1",
        kind: "FunctionConfig",
        metadata: { name: "set-labels" },
        spec: { image: "set-labels", podExecutor: { tags: ["v1"] } },
        status: { functionRunnerObservedGeneration: 9 },
      },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ apiVersion: "config.porch.kpt.dev/v1alpha1", metadata: { generation: 1 }, spec: { podExecutor: { timeToLive: "30m" } } });
    expect((created.json as { status?: unknown }).status).toBeUndefined();
    const patched = await call("PATCH", `${base}/set-labels/status`, { body: { status: { functionRunnerObservedGeneration: 1 } }, contentType: "application/merge-patch+json" });
    expect(patched.json).toMatchObject({ metadata: { generation: 1 }, status: { functionRunnerObservedGeneration: 1 } });
    const list = await call("GET", base);
    expect(list.json).toMatchObject({ kind: "FunctionConfigList", apiVersion: "config.porch.kpt.dev/v1alpha1", items: [{ metadata: { name: "set-labels" } }] });
    expect((await call("POST", base, { body: { metadata: { name: "bad" }, spec: { image: "x" } } })).status).toBe(422);
  });

  test("an authorize hook answers 403 with the RBAC message", async () => {
    const srv = await startKubeApiServer({
      pki: server.pki,
      authorize: (a) => !(a.verb === "get" && a.resource === "secrets"),
    });
    try {
      const res = await call("GET", "/api/v1/namespaces/default/secrets/s1", { srv });
      expect(res.status).toBe(403);
      expect(res.json).toEqual({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: 'secrets "s1" is forbidden: User "test-user" cannot get resource "secrets" in API group "" in the namespace "default"',
        reason: "Forbidden",
        details: { name: "s1", kind: "secrets" },
        code: 403,
      });
    } finally {
      await srv.stop();
    }
  });
});

describe("faults in detail", () => {
  test("429: Retry-After header and TooManyRequests body", async () => {
    server.faults.add({ match: { resource: "secrets" }, times: 2, action: { status: 429, retryAfterSeconds: 3 } });
    const res = await call("GET", `/api/v1/namespaces/${NS}/secrets`);
    expect(res.status).toBe(429);
    expect(res.headers["retry-after"]).toBe("3");
    expect(res.json).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Too many requests, please try again later.",
      reason: "TooManyRequests",
      details: { retryAfterSeconds: 3 },
      code: 429,
    });
    expect((await call("GET", `/api/v1/namespaces/${NS}/secrets`)).status).toBe(429);
    expect((await call("GET", `/api/v1/namespaces/${NS}/secrets`)).status).toBe(200);
  });

  test("429 as the real flow control sends it: plain text, Retry-After", async () => {
    server.faults.add({ times: 1, action: { status: 429, retryAfterSeconds: 1, plainText: true } });
    const res = await call("GET", `/api/v1/namespaces/${NS}/secrets`);
    expect(res.status).toBe(429);
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(res.text).toBe("Too many requests, please try again later.\n");
  });

  test("500 and 503 bodies", async () => {
    server.faults.add({ match: { verb: "create" }, times: 1, action: { status: 500, message: "etcdserver: request timed out" } });
    const r500 = await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: secret("f500") });
    expect(r500.json).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Internal error occurred: etcdserver: request timed out",
      reason: "InternalError",
      details: { causes: [{ message: "etcdserver: request timed out" }] },
      code: 500,
    });
    expect(server.getObject("secrets", NS, "f500")).toBeUndefined();
    server.faults.add({ times: 1, action: { status: 503, retryAfterSeconds: 1 } });
    const r503 = await call("GET", `/api/v1/namespaces/${NS}`);
    expect(r503.status).toBe(503);
    expect(r503.headers["retry-after"]).toBe("1");
    expect(r503.json.reason).toBe("ServiceUnavailable");
  });

  test("latency delays the answer; rules without `times` stay until removed", async () => {
    const rule = server.faults.add({ match: { verb: "get", resource: "namespaces", name: NS }, action: { latencyMs: 150 } });
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      expect((await call("GET", `/api/v1/namespaces/${NS}`)).status).toBe(200);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    }
    expect(rule.hits).toBe(2);
    rule.remove();
    expect(rule.active).toBe(false);
    await call("GET", `/api/v1/namespaces/${NS}`);
    expect(server.requests().map((r) => r.fault)).toEqual(["latency", "latency", undefined]);
    expect(server.requests()[0]?.durationMs).toBeGreaterThanOrEqual(140);
  });

  test("dropConnection closes the socket without an answer", async () => {
    server.faults.add({ match: { verb: "create", resource: "secrets" }, times: 1, action: { dropConnection: true } });
    const err = await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: secret("dropped") }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(String((err as { code?: string }).code ?? (err as Error).message)).toMatch(/UND_ERR_SOCKET|ECONNRESET|closed|socket/i);
    expect(server.getObject("secrets", NS, "dropped")).toBeUndefined();
    expect((await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: secret("dropped") })).status).toBe(201);
  });
});

describe("request log", () => {
  test("records verb, resource, namespace, name, query, status, body and user", async () => {
    await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: secret("logged") });
    await call("GET", `/api/v1/namespaces/${NS}/secrets?labelSelector=a%3Db&limit=5`);
    await call("GET", `/api/v1/namespaces/${NS}/secrets/missing`);
    const [create, list, get] = server.requests();
    expect(create).toMatchObject({
      method: "POST",
      path: `/api/v1/namespaces/${NS}/secrets`,
      verb: "create",
      resource: "secrets",
      namespace: NS,
      name: undefined,
      status: 201,
      user: "test-user",
      contentType: "application/json",
      body: secret("logged"),
    });
    expect(create?.time).toBeInstanceOf(Date);
    expect(list).toMatchObject({ verb: "list", query: { labelSelector: "a=b", limit: "5" }, status: 200 });
    expect(get).toMatchObject({ verb: "get", name: "missing", status: 404, reason: "NotFound" });
    const waited = await server.waitForRequest((r) => r.name === "missing");
    expect(waited.status).toBe(404);
  });
});

describe("lists and watches", () => {
  test("list items carry no kind/apiVersion; limit/continue paginate", async () => {
    for (const n of ["page-1", "page-2", "page-3"]) {
      await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: secret(n, { metadata: { name: n, labels: { page: "yes" } } }) });
    }
    const first = await call("GET", `/api/v1/namespaces/${NS}/secrets?labelSelector=page&limit=2`);
    expect(first.json.kind).toBe("SecretList");
    const items = first.json.items as KubeObject[];
    expect(items.map((i) => i.metadata.name)).toEqual(["page-1", "page-2"]);
    expect(items[0]?.kind).toBeUndefined();
    const meta = first.json.metadata as { continue: string; remainingItemCount: number; resourceVersion: string };
    expect(meta.remainingItemCount).toBe(1);
    expect(Number(meta.resourceVersion)).toBe(server.store.currentRevision());
    const second = await call("GET", `/api/v1/namespaces/${NS}/secrets?labelSelector=page&limit=2&continue=${encodeURIComponent(meta.continue)}`);
    expect((second.json.items as KubeObject[]).map((i) => i.metadata.name)).toEqual(["page-3"]);
    expect((second.json.metadata as { continue?: string }).continue).toBeUndefined();
    const bad = await call("GET", `/api/v1/namespaces/${NS}/secrets?fieldSelector=spec.foo%3Dbar`);
    expect(bad.status).toBe(400);
    expect(bad.json.message).toBe("field label not supported: spec.foo");
  });

  test("watch streams ADDED/MODIFIED/DELETED, honours selectors and resumes from a resourceVersion", async () => {
    const rv = String(server.store.currentRevision());
    const res = await request(`${server.url}/api/v1/namespaces/${NS}/pods?watch=true&labelSelector=w%3Dyes&resourceVersion=${rv}`, {
      headers: { authorization: `Bearer ${server.token}` },
      dispatcher: agent,
    });
    expect(res.statusCode).toBe(200);
    const events: { type: string; name: string }[] = [];
    let buffer = "";
    const reading = (async () => {
      for await (const chunk of res.body) {
        buffer += Buffer.from(chunk as Uint8Array).toString("utf8");
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          const e = JSON.parse(line) as { type: string; object: KubeObject };
          events.push({ type: e.type, name: e.object.metadata.name ?? "" });
        }
      }
    })();
    await call("POST", `/api/v1/namespaces/${NS}/pods`, { body: pod("w1", { w: "yes" }) });
    await call("POST", `/api/v1/namespaces/${NS}/pods`, { body: pod("w2", { w: "no" }) });
    const merge = { contentType: "application/merge-patch+json" };
    await call("PATCH", `/api/v1/namespaces/${NS}/pods/w1`, { ...merge, body: { metadata: { annotations: { x: "1" } } } });
    await call("PATCH", `/api/v1/namespaces/${NS}/pods/w2`, { ...merge, body: { metadata: { labels: { w: "yes" } } } });
    await call("PATCH", `/api/v1/namespaces/${NS}/pods/w1`, { ...merge, body: { metadata: { labels: { w: "no" } } } });
    await call("DELETE", `/api/v1/namespaces/${NS}/pods/w2`);
    const deadline = Date.now() + 3000;
    while (events.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual([
      { type: "ADDED", name: "w1" },
      { type: "MODIFIED", name: "w1" },
      { type: "ADDED", name: "w2" }, // started matching
      { type: "DELETED", name: "w1" }, // stopped matching
      { type: "DELETED", name: "w2" },
    ]);
    expect(server.openWatches).toBe(1);
    res.body.destroy();
    await reading.catch(() => undefined);

    // Resuming from the first resourceVersion replays the same history.
    const replay = await request(`${server.url}/api/v1/namespaces/${NS}/pods?watch=1&labelSelector=w%3Dyes&resourceVersion=${rv}&timeoutSeconds=1`, {
      headers: { authorization: `Bearer ${server.token}` },
      dispatcher: agent,
    });
    const lines = (await replay.body.text()).trim().split("\n").map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual(["ADDED", "MODIFIED", "ADDED", "DELETED", "DELETED"]);
  });

  test("a watch without resourceVersion starts with the current objects; a too old one gets 410 Expired", async () => {
    await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: secret("watched-now") });
    const res = await request(
      `${server.url}/api/v1/watch/namespaces/${NS}/secrets/watched-now?timeoutSeconds=1`,
      { headers: { authorization: `Bearer ${server.token}` }, dispatcher: agent },
    );
    const first = JSON.parse((await res.body.text()).split("\n")[0] ?? "{}") as { type: string; object: KubeObject };
    expect(first.type).toBe("ADDED");
    expect(first.object.kind).toBe("Secret");
    expect(first.object.metadata.name).toBe("watched-now");

    const srv = await startKubeApiServer({ pki: server.pki });
    try {
      // Fill the history past its limit so resourceVersion 1 is compacted away.
      for (let i = 0; i < 2100; i++) srv.createNamespace(`ns-${i}`);
      const old = await request(`${srv.url}/api/v1/namespaces?watch=true&resourceVersion=1`, {
        headers: { authorization: `Bearer ${srv.token}` },
        dispatcher: agent,
      });
      const event = JSON.parse((await old.body.text()).trim()) as { type: string; object: Record<string, unknown> };
      expect(event.type).toBe("ERROR");
      expect(event.object).toMatchObject({ kind: "Status", status: "Failure", reason: "Expired", code: 410 });
      expect(String(event.object.message)).toMatch(/^too old resource version: 1 \(\d+\)$/);
    } finally {
      await srv.stop();
    }
  });
});

describe("write semantics", () => {
  test("decoding errors are 400 BadRequest", async () => {
    const b64 = await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: { metadata: { name: "b64" }, data: { k: "not base64!" } } });
    expect(b64.status).toBe(400);
    expect(b64.json).toMatchObject({ reason: "BadRequest", message: 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3' });
    const type = await call("POST", `/api/v1/namespaces/${NS}/pods`, { body: { metadata: { name: "t" }, spec: { containers: "nope" } } });
    expect(type.status).toBe(400);
    expect(type.json.message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container',
    );
    const notJson = await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: "{" });
    expect(notJson.status).toBe(400);
  });

  test("name and namespace mismatches are 400; a resourceVersion on create is refused", async () => {
    await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: secret("mm") });
    const put = await call("PUT", `/api/v1/namespaces/${NS}/secrets/mm`, { body: secret("other") });
    expect(put.status).toBe(400);
    expect(put.json.message).toBe("the name of the object (other) does not match the name on the URL (mm)");
    const ns = await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: { ...secret("mm2"), metadata: { name: "mm2", namespace: "default" } } });
    expect(ns.status).toBe(400);
    expect(ns.json.message).toBe("the namespace of the provided object does not match the namespace sent on the request");
    const rv = await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: { ...secret("mm3"), metadata: { name: "mm3", resourceVersion: "5" } } });
    expect(rv.status).toBe(500);
    expect(rv.json.message).toBe("Internal error occurred: resourceVersion should not be set on objects to be created");
  });

  test("a no-op update keeps the resourceVersion; Secret type and immutable data cannot change", async () => {
    const created = (await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: secret("imm", { immutable: true }) })).json as unknown as KubeObject;
    const same = (await call("PUT", `/api/v1/namespaces/${NS}/secrets/imm`, { body: created })).json as unknown as KubeObject;
    expect(same.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    const changed = await call("PUT", `/api/v1/namespaces/${NS}/secrets/imm`, {
      body: { ...created, data: { k: Buffer.from("w").toString("base64") } },
    });
    expect(changed.status).toBe(422);
    expect(changed.json.message).toBe('Secret "imm" is invalid: data: Forbidden: field is immutable when `immutable` is set');
    const typed = await call("PUT", `/api/v1/namespaces/${NS}/secrets/imm`, { body: { ...created, type: "kubernetes.io/tls" } });
    expect(typed.status).toBe(422);
    expect((typed.json.details as { causes: { field: string }[] }).causes.map((c) => c.field)).toContain("type");
  });

  test("dryRun=All validates without persisting", async () => {
    const res = await call("POST", `/api/v1/namespaces/${NS}/secrets?dryRun=All`, { body: secret("dry") });
    expect(res.status).toBe(201);
    expect(server.getObject("secrets", NS, "dry")).toBeUndefined();
  });

  test("YAML bodies are accepted; unknown patch types are 415", async () => {
    const yaml = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-yaml\nstringData:\n  a: b\n";
    expect((await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: yaml, contentType: "application/yaml" })).status).toBe(201);
    const res = await call("PATCH", `/api/v1/namespaces/${NS}/secrets/from-yaml`, { body: "{}", contentType: "text/plain" });
    expect(res.status).toBe(415);
    expect(res.json.reason).toBe("UnsupportedMediaType");
  });

  test("status is ignored on the main resource and written through /status", async () => {
    await call("POST", `/api/v1/namespaces/${NS}/pods`, { body: pod("st") });
    const main = await call("PATCH", `/api/v1/namespaces/${NS}/pods/st`, {
      contentType: "application/merge-patch+json",
      body: { status: { phase: "Running" } },
    });
    expect((main.json.status as { phase: string }).phase).toBe("Pending");
    const sub = await call("PATCH", `/api/v1/namespaces/${NS}/pods/st/status`, {
      contentType: "application/merge-patch+json",
      body: { status: { phase: "Running", podIP: "10.0.0.9" } },
    });
    expect(sub.status).toBe(200);
    expect(sub.json.status).toMatchObject({ phase: "Running", podIP: "10.0.0.9" });
  });

  test("pods get the apiserver's defaults and admission mutations", async () => {
    const created = (await call("POST", `/api/v1/namespaces/${NS}/pods`, { body: pod("defaults") })).json as unknown as {
      spec: Record<string, unknown> & { containers: Record<string, unknown>[]; volumes: { name: string }[]; tolerations: unknown[] };
      status: Record<string, unknown>;
    };
    expect(created.spec).toMatchObject({
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      terminationGracePeriodSeconds: 30,
      schedulerName: "default-scheduler",
      serviceAccountName: "default",
      serviceAccount: "default",
      enableServiceLinks: true,
      priority: 0,
      preemptionPolicy: "PreemptLowerPriority",
    });
    expect(created.spec.containers[0]).toMatchObject({
      imagePullPolicy: "IfNotPresent",
      terminationMessagePath: "/dev/termination-log",
      terminationMessagePolicy: "File",
    });
    expect(created.spec.volumes[0]?.name).toMatch(/^kube-api-access-[a-z0-9]{5}$/);
    expect(created.spec.tolerations).toHaveLength(2);
    expect(created.status).toEqual({ phase: "Pending", qosClass: "BestEffort" });
    const noSa = await call("POST", `/api/v1/namespaces/${NS}/pods`, {
      body: { ...pod("nosa"), spec: { serviceAccountName: "runner", containers: [{ name: "c", image: "x" }] } },
    });
    expect(noSa.status).toBe(403);
    expect(noSa.json.message).toBe(
      `pods "nosa" is forbidden: error looking up service account ${NS}/runner: serviceaccount "runner" not found`,
    );
  });

  test("a Service keeps its clusterIP across an update that omits it; changing it is 422", async () => {
    const svc = (await call("POST", `/api/v1/namespaces/${NS}/services`, { body: { metadata: { name: "keep" }, spec: { ports: [{ port: 80 }] } } }))
      .json as unknown as KubeObject & { spec: { clusterIP: string; ports: { targetPort: number }[] } };
    expect(svc.spec.ports[0]?.targetPort).toBe(80);
    const put = await call("PUT", `/api/v1/namespaces/${NS}/services/keep`, {
      body: { metadata: { name: "keep", labels: { a: "b" } }, spec: { ports: [{ port: 80 }] } },
    });
    expect(put.status).toBe(200);
    expect((put.json.spec as { clusterIP: string }).clusterIP).toBe(svc.spec.clusterIP);
    const change = await call("PUT", `/api/v1/namespaces/${NS}/services/keep`, {
      body: { metadata: { name: "keep" }, spec: { clusterIP: "10.96.200.200", ports: [{ port: 80 }] } },
    });
    expect(change.status).toBe(422);
    // PUT on an absent Service creates it (AllowCreateOnUpdate), answering 201.
    expect((await call("PUT", `/api/v1/namespaces/${NS}/services/fresh`, { body: { metadata: { name: "fresh" }, spec: { ports: [{ port: 81 }] } } })).status).toBe(201);
  });
});

describe("deletion lifecycle", () => {
  test("finalizers keep an object until they are removed", async () => {
    await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: { ...secret("fin"), metadata: { name: "fin", finalizers: ["example.com/hold"] } } });
    const del = await call("DELETE", `/api/v1/namespaces/${NS}/secrets/fin`);
    expect(del.status).toBe(200);
    expect((del.json.metadata as { deletionTimestamp?: string }).deletionTimestamp).toBeDefined();
    expect(server.getObject("secrets", NS, "fin")).toBeDefined();
    const patch = await call("PATCH", `/api/v1/namespaces/${NS}/secrets/fin`, {
      contentType: "application/json-patch+json",
      body: [{ op: "remove", path: "/metadata/finalizers" }],
    });
    expect(patch.status).toBe(200);
    expect(server.getObject("secrets", NS, "fin")).toBeUndefined();
  });

  test("delete preconditions mismatch is 409", async () => {
    await call("POST", `/api/v1/namespaces/${NS}/secrets`, { body: secret("pre") });
    const res = await call("DELETE", `/api/v1/namespaces/${NS}/secrets/pre`, { body: { preconditions: { resourceVersion: "1" } } });
    expect(res.status).toBe(409);
    expect(String(res.json.message)).toContain("Precondition failed: ResourceVersion in precondition: 1");
  });

  test("graceful pod deletion: deletionTimestamp first, gone once the kubelet confirms", async () => {
    const srv = await startKubeApiServer({ pki: server.pki, gracefulPodDeletion: true, kubelet: { terminationDelayMs: 50 } });
    try {
      await call("POST", "/api/v1/namespaces/default/pods", { srv, body: pod("graceful") });
      await srv.waitForObject<KubeObject>("pods", "default", "graceful", (p) => (p.status as { phase?: string }).phase === "Running");
      const del = await call("DELETE", "/api/v1/namespaces/default/pods/graceful", { srv });
      expect(del.status).toBe(200);
      const meta = del.json.metadata as { deletionTimestamp?: string; deletionGracePeriodSeconds?: number };
      expect(meta.deletionTimestamp).toBeDefined();
      expect(meta.deletionGracePeriodSeconds).toBe(30);
      expect(srv.getObject("pods", "default", "graceful")).toBeDefined();
      await srv.settle();
      expect(srv.getObject("pods", "default", "graceful")).toBeUndefined();
      // An unscheduled pod is deleted at once even so.
      srv.kubelet.disable();
      await call("POST", "/api/v1/namespaces/default/pods", { srv, body: pod("unscheduled") });
      await call("DELETE", "/api/v1/namespaces/default/pods/unscheduled", { srv });
      expect(srv.getObject("pods", "default", "unscheduled")).toBeUndefined();
    } finally {
      await srv.stop();
    }
  });

  test("a deleted namespace is Terminating, refuses new content, then vanishes with its contents", async () => {
    const srv = await startKubeApiServer({ pki: server.pki, namespaceDeletionDelayMs: 100 });
    try {
      await call("POST", "/api/v1/namespaces", { srv, body: { metadata: { name: "doomed" } } });
      expect(srv.getObject("serviceaccounts", "doomed", "default")).toBeDefined();
      await call("POST", "/api/v1/namespaces/doomed/secrets", { srv, body: secret("inside") });
      const del = await call("DELETE", "/api/v1/namespaces/doomed", { srv });
      expect(del.status).toBe(200);
      expect(del.json.status).toEqual({ phase: "Terminating" });
      const refused = await call("POST", "/api/v1/namespaces/doomed/secrets", { srv, body: secret("late") });
      expect(refused.status).toBe(403);
      expect(refused.json.message).toBe('secrets "late" is forbidden: unable to create new content in namespace doomed because it is being terminated');
      await srv.waitForObject("namespaces", undefined, "doomed", () => false, 20).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 150));
      expect(srv.getObject("namespaces", undefined, "doomed")).toBeUndefined();
      expect(srv.listObjects("secrets", "doomed")).toEqual([]);
      expect((await call("DELETE", "/api/v1/namespaces/default", { srv })).status).toBe(403);
    } finally {
      await srv.stop();
    }
  });
});
