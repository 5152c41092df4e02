// Smoke tests for the registry test harness (real docker-registry, token server, push, proxy).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { request } from "undici-real";
import { startRegistry, type RegistryMode, type TestRegistry } from "../support/registry.ts";
import { ACCEPT_ALL, MT, authHeaders, pushBlob, pushImage, pushIndex, sha256 } from "../support/push.ts";
import { startBlobHost, startProxy } from "../support/proxy.ts";

interface Got {
  status: number;
  headers: Record<string, string>;
  bytes: Uint8Array;
}

async function get(reg: TestRegistry, url: string, headers: Record<string, string> = {}, method: "GET" | "HEAD" = "GET"): Promise<Got> {
  const res = await request(url, { method, headers, dispatcher: reg.dispatcher });
  const bytes = new Uint8Array(await res.body.arrayBuffer());
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(", ") : v;
  return { status: res.statusCode, headers: h, bytes };
}

function json(bytes: Uint8Array): Record<string, unknown> {
  const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
  return v as Record<string, unknown>;
}

async function getManifest(reg: TestRegistry, repo: string, ref: string): Promise<Got> {
  const auth = await authHeaders(reg, repo);
  return get(reg, `${reg.url}/v2/${repo}/manifests/${ref}`, { ...auth, accept: ACCEPT_ALL });
}

const modes: RegistryMode[] = ["http", "tls-htpasswd", "tls-token"];

for (const mode of modes) {
  describe(`registry ${mode}`, () => {
    let reg: TestRegistry;
    beforeAll(async () => {
      reg = await startRegistry({ mode, users: { alice: "alice-pw" } });
    });
    afterAll(async () => {
      await reg.stop();
    });

    test("push OCI image, Docker image and index; manifests round-trip by tag and digest", async () => {
      expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(reg.url).toBe(`${mode === "http" ? "http" : "https"}://${reg.host}`);

      const oci = await pushImage(reg, "private/x", "oci", { format: "oci", cmd: ["--help"] });
      const docker = await pushImage(reg, "private/x", "docker", { format: "docker", entrypoint: null, cmd: ["/bin/sh"] });
      const ociIdx = await pushIndex(
        reg,
        "private/x",
        "oci-index",
        [{ platform: { os: "linux", architecture: "amd64" } }, { platform: { os: "linux", architecture: "arm64", variant: "v8" } }],
        { format: "oci" },
      );
      const dockerIdx = await pushIndex(reg, "public/x", "list", [{ platform: { os: "linux", architecture: "arm", variant: "v7" } }], {
        format: "docker",
      });

      const cases: Array<[string, string, string, Uint8Array, string]> = [
        ["private/x", "oci", oci.digest, oci.manifestBytes, MT.ociManifest],
        ["private/x", "docker", docker.digest, docker.manifestBytes, MT.dockerManifest],
        ["private/x", "oci-index", ociIdx.digest, ociIdx.bytes, MT.ociIndex],
        ["public/x", "list", dockerIdx.digest, dockerIdx.bytes, MT.dockerList],
      ];
      for (const [repo, tag, digest, bytes, mt] of cases) {
        for (const ref of [tag, digest]) {
          const r = await getManifest(reg, repo, ref);
          expect(r.status).toBe(200);
          expect(r.headers["content-type"]).toBe(mt);
          expect(r.headers["docker-content-digest"]).toBe(digest);
          expect(sha256(r.bytes)).toBe(digest);
          expect(r.bytes).toEqual(bytes);
        }
      }

      // Config blob content (Entrypoint null / Cmd) and index children.
      const auth = await authHeaders(reg, "private/x");
      const cfg = await get(reg, `${reg.url}/v2/private/x/blobs/${docker.configDigest}`, auth);
      expect(cfg.status).toBe(200);
      expect(sha256(cfg.bytes)).toBe(docker.configDigest);
      const c = json(cfg.bytes);
      expect(c.config).toEqual({ Env: expect.any(Array), Entrypoint: null, Cmd: ["/bin/sh"] });
      expect(c.rootfs).toEqual({ type: "layers", diff_ids: [expect.stringMatching(/^sha256:[0-9a-f]{64}$/)] });
      const idx = json(ociIdx.bytes);
      expect(idx.manifests).toEqual([
        expect.objectContaining({ digest: ociIdx.children[0]?.digest, platform: { architecture: "amd64", os: "linux" } }),
        expect.objectContaining({ digest: ociIdx.children[1]?.digest, platform: { architecture: "arm64", os: "linux", variant: "v8" } }),
      ]);
      const child = await getManifest(reg, "private/x", ociIdx.children[1]?.digest ?? "");
      expect(child.status).toBe(200);

      // pushBlob is idempotent (HEAD skip).
      const blob = new TextEncoder().encode("raw blob");
      expect(await pushBlob(reg, "private/x", blob)).toBe(sha256(blob));
      await reg.clearLog();
      expect(await pushBlob(reg, "private/x", blob)).toBe(sha256(blob));
      expect(await reg.count((e) => e.method === "HEAD")).toBe(1);
      expect(await reg.count((e) => e.method === "POST")).toBe(0);
    });

    test("access log counting is exact", async () => {
      await pushImage(reg, "private/count", "v1", { format: "oci" });
      const auth = await authHeaders(reg, "private/count");
      await reg.clearLog();
      expect(await reg.accessLog()).toEqual([]);
      for (let i = 0; i < 2; i++) {
        const r = await get(reg, `${reg.url}/v2/private/count/manifests/v1`, { ...auth, accept: ACCEPT_ALL });
        expect(r.status).toBe(200);
      }
      await get(reg, `${reg.url}/v2/private/count/manifests/nope`, { ...auth, accept: ACCEPT_ALL });
      expect(await reg.count((e) => e.method === "GET" && e.path === "/v2/private/count/manifests/v1")).toBe(2);
      const log = await reg.accessLog();
      expect(log.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
        "GET /v2/private/count/manifests/v1 200",
        "GET /v2/private/count/manifests/v1 200",
        "GET /v2/private/count/manifests/nope 404",
      ]);
      expect(log[0]?.raw).toContain('"GET /v2/private/count/manifests/v1 HTTP/');
      // Repeated settles add nothing visible.
      expect((await reg.accessLog()).length).toBe(3);
    });

    if (mode !== "http") {
      test("no credentials / wrong password → 401", async () => {
        const anon = await get(reg, `${reg.url}/v2/private/x/manifests/oci`, { accept: ACCEPT_ALL });
        expect(anon.status).toBe(401);
        expect(anon.headers["www-authenticate"]).toMatch(mode === "tls-token" ? /^Bearer realm="https:\/\/127\.0\.0\.1:\d+\/token",service="test-registry"/ : /^Basic realm="test-registry"/);
        const wrong = { user: reg.adminUser, password: "wrong" };
        if (mode === "tls-htpasswd") {
          const h = await authHeaders(reg, "private/x", ["pull"], wrong);
          expect((await get(reg, `${reg.url}/v2/private/x/manifests/oci`, { ...h, accept: ACCEPT_ALL })).status).toBe(401);
          const ok = await authHeaders(reg, "private/x", ["pull"], { user: "alice", password: "alice-pw" });
          expect((await get(reg, `${reg.url}/v2/private/x/manifests/oci`, { ...ok, accept: ACCEPT_ALL })).status).toBe(200);
        } else {
          await expect(authHeaders(reg, "private/x", ["pull"], wrong)).rejects.toThrow(/HTTP 401/);
        }
      });
    }

    if (mode === "tls-token") {
      test("token policy: anonymous public pull, private needs a user, push needs admin", async () => {
        const ts = reg.tokenServer;
        if (!ts) throw new Error("no token server");
        ts.clear();
        const anonToken = async (repo: string): Promise<string> => {
          const r = await get(reg, `${ts.realm}?service=${ts.service}&scope=${encodeURIComponent(`repository:${repo}:pull`)}`);
          expect(r.status).toBe(200);
          const b = json(r.bytes);
          expect(b.token).toBe(b.access_token);
          expect(b.expires_in).toBe(300);
          expect(typeof b.issued_at).toBe("string");
          return String(b.token);
        };
        const pub = await get(reg, `${reg.url}/v2/public/x/manifests/list`, {
          authorization: `Bearer ${await anonToken("public/x")}`,
          accept: ACCEPT_ALL,
        });
        expect(pub.status).toBe(200);
        const priv = await get(reg, `${reg.url}/v2/private/x/manifests/oci`, {
          authorization: `Bearer ${await anonToken("private/x")}`,
          accept: ACCEPT_ALL,
        });
        expect(priv.status).toBe(401);
        expect(priv.headers["www-authenticate"]).toContain('scope="repository:private/x:pull"');

        // alice can pull private, but gets no push.
        const alice = { user: "alice", password: "alice-pw" };
        const pull = await authHeaders(reg, "private/x", ["pull"], alice);
        expect((await get(reg, `${reg.url}/v2/private/x/manifests/oci`, { ...pull, accept: ACCEPT_ALL })).status).toBe(200);
        const pushAuth = await authHeaders(reg, "private/x", ["pull", "push"], alice);
        const up = await request(`${reg.url}/v2/private/x/blobs/uploads/`, { method: "POST", headers: pushAuth, dispatcher: reg.dispatcher });
        await up.body.dump();
        expect(up.statusCode).toBe(401);

        // The log records the flow without secrets.
        const log = ts.requests();
        expect(log.length).toBe(4);
        expect(log[0]).toMatchObject({ method: "GET", path: "/token", hadAuthorization: false, status: 200, scopes: ["repository:public/x:pull"] });
        expect(log[2]).toMatchObject({ hadAuthorization: true, user: "alice", status: 200 });
        expect(JSON.stringify(log)).not.toContain("alice-pw");
      });

      test("token server: POST password and refresh_token grants, bad credentials 401", async () => {
        const ts = reg.tokenServer;
        if (!ts) throw new Error("no token server");
        const post = async (form: Record<string, string>): Promise<Got> => {
          const res = await request(ts.realm, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams(form).toString(),
            dispatcher: reg.dispatcher,
          });
          const bytes = new Uint8Array(await res.body.arrayBuffer());
          return { status: res.statusCode, headers: {}, bytes };
        };
        const scope = "repository:private/x:pull";
        const ok = await post({ grant_type: "password", username: "alice", password: "alice-pw", service: ts.service, scope, access_type: "offline", client_id: "t" });
        expect(ok.status).toBe(200);
        const b = json(ok.bytes);
        expect(typeof b.access_token).toBe("string");
        expect(b.expires_in).toBe(300);
        expect(typeof b.refresh_token).toBe("string");
        const r = await get(reg, `${reg.url}/v2/private/x/manifests/oci`, { authorization: `Bearer ${String(b.access_token)}`, accept: ACCEPT_ALL });
        expect(r.status).toBe(200);

        const refreshed = await post({ grant_type: "refresh_token", refresh_token: String(b.refresh_token), service: ts.service, scope });
        expect(refreshed.status).toBe(200);
        expect((await post({ grant_type: "refresh_token", refresh_token: "unknown", service: ts.service, scope })).status).toBe(401);
        expect((await post({ grant_type: "password", username: "alice", password: "nope", service: ts.service, scope })).status).toBe(401);
        expect(JSON.stringify(ts.requests())).not.toContain(String(b.refresh_token));
      });
    }
  });
}

describe("identity tokens and token expiry config", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ mode: "tls-token", identityTokens: { "id-token-1": "admin" }, tokenExpiresIn: 30 });
  });
  afterAll(async () => {
    await reg.stop();
  });
  test("configured identity token works as a refresh_token for the admin", async () => {
    const ts = reg.tokenServer;
    if (!ts) throw new Error("no token server");
    const res = await request(ts.realm, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: "id-token-1", service: ts.service, scope: "repository:a/b:pull,push" }).toString(),
      dispatcher: reg.dispatcher,
    });
    const b = json(new Uint8Array(await res.body.arrayBuffer()));
    expect(res.statusCode).toBe(200);
    expect(b.expires_in).toBe(30);
    const up = await request(`${reg.url}/v2/a/b/blobs/uploads/`, {
      method: "POST",
      headers: { authorization: `Bearer ${String(b.access_token)}` },
      dispatcher: reg.dispatcher,
    });
    await up.body.dump();
    expect(up.statusCode).toBe(202);
  });
});

describe("proxy and blob host", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ mode: "tls-htpasswd" });
  });
  afterAll(async () => {
    await reg.stop();
  });

  test("forward, inject, tamper, redirect; blob host records headers", async () => {
    const img = await pushImage(reg, "p/img", "v1", { format: "oci" });
    const proxy = await startProxy({ upstream: reg.url, dispatcher: reg.dispatcher });
    const blobHost = await startBlobHost();
    try {
      const auth = await authHeaders(reg, "p/img");
      const url = `${proxy.url}/v2/p/img/manifests/v1`;
      const h = { ...auth, accept: ACCEPT_ALL };

      const plain = await get(reg, url, h);
      expect(plain.status).toBe(200);
      expect(sha256(plain.bytes)).toBe(img.digest);

      proxy.setOnRequest((r) => (r.index === 2 ? { respond: { status: 429, headers: { "retry-after": "1" } } } : undefined));
      const limited = await get(reg, url, h);
      expect(limited.status).toBe(429);
      expect(limited.headers["retry-after"]).toBe("1");

      proxy.setOnRequest(() => ({ rewriteBody: (b) => new Uint8Array([...b, 32]) }));
      const tampered = await get(reg, url, h);
      expect(tampered.headers["docker-content-digest"]).toBe(img.digest);
      expect(sha256(tampered.bytes)).not.toBe(img.digest);
      const head = await get(reg, url, h, "HEAD");
      expect(head.status).toBe(200);
      expect(head.headers["content-length"]).toBe(String(img.manifestBytes.length));

      blobHost.put(`/blob/${img.configDigest}`, new TextEncoder().encode("{}"));
      proxy.setOnRequest((r) => (r.path.includes("/blobs/") ? { redirect: `${blobHost.url}/blob/${img.configDigest}` } : undefined));
      const redir = await get(reg, `${proxy.url}/v2/p/img/blobs/${img.configDigest}`, auth);
      expect(redir.status).toBe(307);
      const loc = redir.headers.location ?? "";
      expect(new URL(loc).hostname).not.toBe("127.0.0.1");
      const fetched = await get(reg, loc);
      expect(new TextDecoder().decode(fetched.bytes)).toBe("{}");
      expect(blobHost.requests()[0]?.headers.authorization).toBeUndefined();

      expect(proxy.requests().every((r) => r.headers.authorization?.startsWith("Basic ") === true)).toBe(true);
      expect(proxy.requests().length).toBe(5);

      // Upload through the proxy: Location is rewritten to the proxy.
      proxy.setOnRequest(undefined);
      const start = await request(`${proxy.url}/v2/p/img/blobs/uploads/`, { method: "POST", headers: auth, dispatcher: reg.dispatcher });
      await start.body.dump();
      expect(start.statusCode).toBe(202);
      expect(String(start.headers.location)).toStartWith(proxy.url);
    } finally {
      await proxy.stop();
      await blobHost.stop();
    }
  });
});
