import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { pushImage, pushIndex } from "../support/push.ts";
import { startBlobHost, startProxy, type ProxyAction, type ProxyRequest, type TestProxy } from "../support/proxy.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { basicAuth, dockerConfigFile, makeClient, rejection } from "./helpers.ts";

/** A proxy in front of a real registry injects the faults; the registry log shows what reached it. */
let reg: TestRegistry;
let proxy: TestProxy;
let image: { digest: string; configDigest: string; manifestBytes: Uint8Array };
let index: { digest: string; children: Array<{ digest: string }> };

const isManifest = (r: ProxyRequest) => r.method === "GET" && r.path.includes("/manifests/");
const isBlob = (r: ProxyRequest) => r.method === "GET" && r.path.includes("/blobs/");

beforeAll(async () => {
  reg = await startRegistry({ mode: "http" });
  image = await pushImage(reg, "faults/img", "v1", { format: "oci", entrypoint: ["/f"] });
  index = await pushIndex(
    reg,
    "faults/idx",
    "v1",
    [
      { platform: { os: "linux", architecture: "amd64" }, entrypoint: ["/amd"] },
      { platform: { os: "linux", architecture: "arm64" }, entrypoint: ["/arm"] },
    ],
    { format: "oci" },
  );
  proxy = await startProxy({ upstream: reg.url });
});
afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
});

/** Installs `action` for requests matching `pred`, `times` times. */
function inject(pred: (r: ProxyRequest) => boolean, action: ProxyAction, times = Infinity) {
  let left = times;
  proxy.clear();
  proxy.setOnRequest((r) => {
    if (left > 0 && pred(r)) {
      left--;
      return action;
    }
    return undefined;
  });
}

const tamper = (bytes: Uint8Array) => {
  const out = new Uint8Array(bytes.byteLength + 1);
  out.set(bytes);
  out[bytes.byteLength] = 0x20; // a trailing space: still valid JSON, different hash
  return out;
};

describe("digest verification", () => {
  test("a digest-pinned manifest altered in transit is DIGEST_MISMATCH", async () => {
    inject(isManifest, { rewriteBody: tamper, removeHeaders: ["docker-content-digest"] });
    const { resolver, close } = makeClient();
    const err = await rejection(resolver.resolve(`${proxy.host}/faults/img@${image.digest}`));
    expect(err.code).toBe("DIGEST_MISMATCH");
    expect(err.message).toContain(image.digest);
    await close();
  });

  test("the same pinned reference untouched resolves", async () => {
    inject(() => false, {});
    const { resolver, close } = makeClient();
    expect((await resolver.resolve(`${proxy.host}/faults/img@${image.digest}`)).metadata.digest).toBe(image.digest);
    await close();
  });

  test("a tag whose bytes disagree with the registry's Docker-Content-Digest is DIGEST_MISMATCH", async () => {
    inject(isManifest, { rewriteBody: tamper });
    const { resolver, close } = makeClient();
    expect((await rejection(resolver.resolve(`${proxy.host}/faults/img:v1`))).code).toBe("DIGEST_MISMATCH");
    await close();
  });

  test("an index child altered in transit is DIGEST_MISMATCH", async () => {
    const child = index.children[0]!.digest;
    inject((r) => isManifest(r) && r.path.endsWith(child), { rewriteBody: tamper, removeHeaders: ["docker-content-digest"] });
    const { resolver, close } = makeClient();
    const err = await rejection(resolver.resolve(`${proxy.host}/faults/idx:v1`));
    expect(err.code).toBe("DIGEST_MISMATCH");
    expect(err.message).toContain(child);
    await close();
  });

  test("a config blob altered in transit is DIGEST_MISMATCH", async () => {
    inject(isBlob, { rewriteBody: tamper });
    const { resolver, close } = makeClient();
    expect((await rejection(resolver.resolve(`${proxy.host}/faults/img:v1`))).code).toBe("DIGEST_MISMATCH");
    await close();
  });
});

describe("status codes and retries", () => {
  test("500 then success: retried once, resolved", async () => {
    inject(isManifest, { respond: { status: 500, body: "boom" } }, 1);
    const { resolver, client, close } = makeClient();
    await reg.clearLog();
    const { metadata } = await resolver.resolve(`${proxy.host}/faults/img:v1`);
    expect(metadata.digest).toBe(image.digest);
    expect(proxy.requests().filter(isManifest)).toHaveLength(2);
    expect(await reg.count((e) => e.path === "/v2/faults/img/manifests/v1")).toBe(1);
    expect(client.stats.snapshot()["manifest:500"]).toBe(1);
    await close();
  });

  test("500 every time: bounded attempts, then a retryable error naming the registry", async () => {
    inject(isManifest, { respond: { status: 503 } });
    const { resolver, close } = makeClient();
    const err = await rejection(resolver.resolve(`${proxy.host}/faults/img:v1`));
    expect(err.code).toBe("NETWORK");
    expect(err.message).toContain(proxy.host);
    expect((err as Error & { retryable?: boolean }).retryable).toBe(true);
    expect(proxy.requests().filter(isManifest)).toHaveLength(4);
    await close();
  });

  test("429 with Retry-After: waits at least that long, then succeeds", async () => {
    inject(isManifest, { respond: { status: 429, headers: { "retry-after": "1" } } }, 1);
    const { resolver, close } = makeClient();
    const started = Date.now();
    await resolver.resolve(`${proxy.host}/faults/img:v1`);
    // A lower bound only: the client must not come back before the registry allowed it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(proxy.requests().filter(isManifest)).toHaveLength(2);
    await close();
  });

  test("429 with a Retry-After beyond the deadline fails at once with TOO_MANY_REQUESTS", async () => {
    inject(isManifest, { respond: { status: 429, headers: { "retry-after": "3600" } } });
    const { resolver, close } = makeClient();
    expect((await rejection(resolver.resolve(`${proxy.host}/faults/img:v1`))).code).toBe("TOO_MANY_REQUESTS");
    expect(proxy.requests().filter(isManifest)).toHaveLength(1);
    await close();
  });

  const answers: Array<[number, string, string]> = [
    [401, JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }), "UNAUTHORIZED"],
    [403, JSON.stringify({ errors: [{ code: "DENIED", message: "requested access to the resource is denied" }] }), "DENIED"],
    [404, JSON.stringify({ errors: [{ code: "NAME_UNKNOWN", message: "repository name not known to registry" }] }), "NAME_UNKNOWN"],
    [404, "", "MANIFEST_UNKNOWN"],
  ];
  for (const [status, body, code] of answers) {
    test(`${status} ${code}: not retried`, async () => {
      inject(isManifest, { respond: { status, body, headers: { "content-type": "application/json" } } });
      const { resolver, close } = makeClient();
      const err = await rejection(resolver.resolve(`${proxy.host}/faults/img:v1`));
      expect(err.code).toBe(code);
      expect(proxy.requests().filter(isManifest)).toHaveLength(1);
      await close();
    });
  }

  test("a dropped connection is retried", async () => {
    inject(isManifest, { drop: true }, 1);
    const { resolver, close } = makeClient();
    expect((await resolver.resolve(`${proxy.host}/faults/img:v1`)).metadata.digest).toBe(image.digest);
    expect(proxy.requests().filter(isManifest).length).toBeGreaterThanOrEqual(2);
    await close();
  });
});

describe("size limits", () => {
  test("a manifest over 4 MiB is TOO_LARGE, never truncated", async () => {
    inject(isManifest, { rewriteBody: (b) => { const out = new Uint8Array((4 << 20) + 1).fill(0x20); out.set(b); return out; } });
    const { resolver, close } = makeClient();
    const err = await rejection(resolver.resolve(`${proxy.host}/faults/img:v1`));
    expect(err.code).toBe("TOO_LARGE");
    await close();
  });

  test("a config blob over 4 MiB is TOO_LARGE", async () => {
    inject(isBlob, { rewriteBody: () => new Uint8Array(5 << 20).fill(0x20) });
    const { resolver, close } = makeClient();
    expect((await rejection(resolver.resolve(`${proxy.host}/faults/img:v1`))).code).toBe("TOO_LARGE");
    await close();
  });

  test("an error body over 1 MiB is TOO_LARGE (error bodies have their own, smaller cap)", async () => {
    inject(isManifest, { respond: { status: 404, body: new Uint8Array((1 << 20) + 1).fill(0x20) } });
    const { resolver, close } = makeClient();
    expect((await rejection(resolver.resolve(`${proxy.host}/faults/img:v1`))).code).toBe("TOO_LARGE");
    await close();
  });

  test("exactly at the limit is accepted (the check is not off by one)", async () => {
    inject(isManifest, { rewriteBody: (b) => { const out = new Uint8Array(4 << 20).fill(0x20); out.set(b); return out; }, removeHeaders: ["docker-content-digest"] });
    const { resolver, close } = makeClient();
    const { metadata } = await resolver.resolve(`${proxy.host}/faults/img:v1`);
    expect(metadata.entrypoint).toEqual(["/f"]);
    await close();
  });
});

describe("connections", () => {
  test("keep-alive: after the first resolve, nine more open no new connection", async () => {
    inject(() => false, {});
    const front = await startProxy({ upstream: reg.url });
    const { resolver, close } = makeClient({ insecure: [front.host] });
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      resolver.forget(`${front.host}/faults/img:v1`);
      await resolver.resolve(`${front.host}/faults/img:v1`);
      seen.push(front.connections());
    }
    expect(front.requests().filter((r) => r.method === "GET")).toHaveLength(20);
    // The first resolve pays for the https probe and the plain-HTTP pool; the rest reuse it.
    expect(seen.every((n) => n === seen[0])).toBe(true);
    expect(seen[0]).toBeLessThanOrEqual(3);
    await close();
    await front.stop();
  });
});

describe("redirects", () => {
  test("a config blob redirected to another host is fetched without Authorization", async () => {
    const secure = await startRegistry({ mode: "tls-htpasswd" });
    const pushed = await pushImage(secure, "redir/img", "v1", { format: "oci", entrypoint: ["/r"] });
    const front = await startProxy({ upstream: secure.url, dispatcher: secure.dispatcher });
    const blobs = await startBlobHost();
    // The blob host serves the real config bytes, as a CDN would.
    const configRes = await fetchConfig(secure, "redir/img", pushed.configDigest);
    blobs.put(`/cdn/${pushed.configDigest}`, configRes);
    front.setOnRequest((r) => (isBlob(r) ? { redirect: `${blobs.url}/cdn/${pushed.configDigest}` } : undefined));
    const cfg = dockerConfigFile({ [front.host]: basicAuth(secure.adminUser, secure.adminPassword) });
    const { resolver, close } = makeClient({ dockerConfig: cfg, insecure: [front.host] });
    const { metadata } = await resolver.resolve(`${front.host}/redir/img:v1`);
    expect(metadata.entrypoint).toEqual(["/r"]);
    const manifestReqs = front.requests().filter(isManifest);
    expect(manifestReqs.at(-1)?.headers.authorization).toStartWith("Basic ");
    expect(front.requests().filter(isBlob)[0]?.headers.authorization).toStartWith("Basic ");
    expect(blobs.requests()).toHaveLength(1);
    expect(blobs.requests()[0]?.headers.authorization).toBeUndefined();
    await close();
    await front.stop();
    await blobs.stop();
    await secure.stop();
  });

  test("a redirect loop stops after 10 hops with a clear error", async () => {
    inject(isBlob, { redirect: `${proxy.url}/v2/faults/img/blobs/${"sha256:" + "0".repeat(64)}` });
    const { resolver, close } = makeClient();
    const err = await rejection(resolver.resolve(`${proxy.host}/faults/img:v1`));
    expect(err.message).toContain("redirects");
    expect(proxy.requests().filter(isBlob)).toHaveLength(11);
    await close();
  });
});

async function fetchConfig(r: TestRegistry, repo: string, digest: string): Promise<Uint8Array> {
  const { request } = await import("undici-real");
  const res = await request(`${r.url}/v2/${repo}/blobs/${digest}`, {
    dispatcher: r.dispatcher,
    headers: { authorization: `Basic ${Buffer.from(`${r.adminUser}:${r.adminPassword}`).toString("base64")}` },
  });
  return new Uint8Array(await res.body.arrayBuffer());
}
