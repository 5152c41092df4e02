// Regression tests for hostile or failing registries, in process, against real registries behind the fault proxy.
// The process-level ones (bounds, listing, connection caps, scrubbing) are in test/registry/binary-hardening.e2e.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Socket } from "node:net";
import { classifyTransportError } from "../../src/http/request.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCA, makeServerCert } from "../support/certs.ts";
import { pushImage } from "../support/push.ts";
import { startProxy, type ProxyAction, type ProxyRequest, type TestProxy } from "../support/proxy.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { basicAuth, dockerConfigFile, makeClient, rejection } from "./helpers.ts";

let plain: TestRegistry; // plain HTTP, anonymous
let secure: TestRegistry; // TLS + htpasswd
let proxy: TestProxy; // plain-HTTP fault proxy in front of `plain`
let front: TestProxy; // plain-HTTP front of `secure`: a password-protected registry on a loopback port

const isManifest = (r: ProxyRequest) => r.method === "GET" && r.path.includes("/manifests/");

beforeAll(async () => {
  [plain, secure] = await Promise.all([startRegistry({ mode: "http" }), startRegistry({ mode: "tls-htpasswd", users: { dev: "Dev-pa55" } })]);
  for (const n of ["a", "b", "c"]) await pushImage(plain, `hard/${n}`, "v1", { format: "oci", entrypoint: [`/${n}`] });
  await pushImage(secure, "team/fn", "v1", { format: "oci", entrypoint: ["/fn"] });
  proxy = await startProxy({ upstream: plain.url });
  front = await startProxy({ upstream: secure.url, dispatcher: secure.dispatcher });
});
afterAll(async () => {
  await Promise.all([proxy?.stop(), front?.stop()]);
  await Promise.all([plain?.stop(), secure?.stop()]);
});

function inject(p: TestProxy, pred: (r: ProxyRequest) => boolean, action: ProxyAction | (() => ProxyAction)) {
  p.clear();
  p.setOnRequest((r) => (pred(r) ? (typeof action === "function" ? action() : action) : undefined));
}

describe("host names are normalised once, at parse time", () => {
  const port = () => front.host.split(":")[1];

  test("an upper-case registry host gets its credentials (and keeps them on the same-origin check)", async () => {
    // Credentials and the insecure listing are written in lower case, the image in upper case.
    const cfg = dockerConfigFile({ [`localhost:${port()}`]: basicAuth("dev", "Dev-pa55") });
    const { resolver, close } = makeClient({ dockerConfig: cfg, insecure: [`localhost:${port()}`] });
    const r = await resolver.resolve(`LOCALHOST:${port()}/team/fn:v1`);
    expect(r.metadata.entrypoint).toEqual(["/fn"]);
    expect(r.metadata.registry).toBe(`localhost:${port()}`);
    await close();
  });

  test("the other way round: an upper-case config key and insecure entry serve a lower-case image", async () => {
    const cfg = dockerConfigFile({ [`LocalHost:${port()}`]: basicAuth("dev", "Dev-pa55") });
    const { resolver, close } = makeClient({ dockerConfig: cfg, insecure: [`LOCALHOST:${port()}`] });
    expect((await resolver.resolve(`localhost:${port()}/team/fn:v1`)).metadata.entrypoint).toEqual(["/fn"]);
    await close();
  });

  test("spellings of one host share one cache record", async () => {
    const { resolver, cache, close } = makeClient();
    const p = plain.host.split(":")[1];
    await resolver.resolve(`localhost:${p}/hard/a:v1`);
    expect((await resolver.resolve(`LocalHost:${p}/hard/a:v1`)).cached).toBe(true);
    expect(cache.stats().size).toBe(1);
    await close();
  });
});

describe("a connection cut mid-body", () => {
  test("is NETWORK, not TLS: no fallback to https once plain HTTP has answered", async () => {
    const { resolver, close } = makeClient();
    proxy.setOnRequest(undefined);
    // The first resolve teaches the transport that this loopback registry speaks plain HTTP.
    await resolver.resolve(`${proxy.host}/hard/a:v1`);
    inject(proxy, isManifest, { cutAfterBytes: 10 });
    const err = await rejection(resolver.resolve(`${proxy.host}/hard/b:v1`));
    expect(err.code).toBe("NETWORK");
    expect(err.message).toContain("connection lost while reading the response");
    expect(err.message).not.toContain("TLS");
    expect((err as Error & { retryable?: boolean }).retryable).toBe(true);
    proxy.setOnRequest(undefined);
    await close();
  });
});

describe("cache invalidation during a fetch", () => {
  test("a DELETE while the fetch is in flight wins: the fetch does not store the old record", async () => {
    const { resolver, cache, close } = makeClient();
    inject(proxy, isManifest, { delayMs: 300 });
    const image = `${proxy.host}/hard/c:v1`;
    const inflight = resolver.resolve(image);
    await new Promise((r) => setTimeout(r, 50));
    resolver.forget(image);
    expect((await inflight).metadata.entrypoint).toEqual(["/c"]);
    expect(cache.list()).toEqual([]);
    proxy.setOnRequest(undefined);
    const again = await resolver.resolve(image);
    expect(again.cached).toBe(false);
    await close();
  });
});

describe("deadlines", () => {
  test("a registry dripping its body hits the per-request deadline: TIMEOUT, not an endless wait", async () => {
    const { resolver, close } = makeClient({ requestTimeoutMs: 300, retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 5, deadlineMs: 5_000 } });
    inject(proxy, isManifest, { dripMs: 100 });
    const err = await rejection(resolver.resolve(`${proxy.host}/hard/a:v1`));
    expect(err.code).toBe("TIMEOUT");
    expect(err.message).toContain("within 300 ms");
    proxy.setOnRequest(undefined);
    await close();
  });

  test("the whole resolve has its own deadline, across retries and steps", async () => {
    const { resolver, close } = makeClient({ requestTimeoutMs: 60_000, resolveTimeoutMs: 400 });
    inject(proxy, isManifest, { dripMs: 100 });
    const err = await rejection(resolver.resolve(`${proxy.host}/hard/b:v1`));
    expect(err.code).toBe("TIMEOUT");
    expect(err.message).toContain("--resolve-timeout");
    proxy.setOnRequest(undefined);
    await close();
  });

  test("a caller that gives up stops waiting; the shared fetch goes on for the others and is cached", async () => {
    const { resolver, cache, close } = makeClient();
    inject(proxy, isManifest, { delayMs: 300 });
    const image = `${proxy.host}/hard/c:v1`;
    resolver.forget(image);
    const quitter = new AbortController();
    const leaving = resolver.resolve(image, undefined, { signal: quitter.signal });
    const staying = resolver.resolve(image);
    await new Promise((r) => setTimeout(r, 50));
    quitter.abort();
    const err = await rejection(leaving);
    expect(err.code).toBe("TIMEOUT");
    expect(cache.stats().size).toBe(0); // the fetch is still running
    expect((await staying).metadata.entrypoint).toEqual(["/c"]);
    expect(cache.stats()).toMatchObject({ size: 1, misses: 1, joined: 1 });
    expect(proxy.requests().filter(isManifest)).toHaveLength(1);
    proxy.setOnRequest(undefined);
    await close();
  });
});

describe("outbound connections", () => {
  test("capped per host: a never-answering registry gets its share and valid resolves elsewhere still work", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => {
      sockets.push(s); // accept, never answer
      s.on("error", () => {});
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const { resolver, client, close } = makeClient({ connections: { perHost: 3, total: 8 }, requestTimeoutMs: 2_000, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1, deadlineMs: 1 } });
    // Many spellings of one host are one host (and one share).
    const spellings = ["localhost", "LOCALHOST", "LocalHost", "localHOST"];
    const stuck = Array.from({ length: 40 }, (_, i) => resolver.resolve(`${spellings[i % 4]}:${port}/never/x${i}:v1`).catch((e: unknown) => e));
    await new Promise((r) => setTimeout(r, 300));
    expect(sockets.length).toBeLessThanOrEqual(3);
    expect(client.limiter.stats().queued).toBeGreaterThan(0);
    proxy.setOnRequest(undefined);
    expect((await resolver.resolve(`${proxy.host}/hard/a:v1`)).metadata.entrypoint).toEqual(["/a"]);
    expect(sockets.length).toBeLessThanOrEqual(3);
    // Let the queue drain: new connections are refused, held ones are cut.
    silent.close();
    for (const s of sockets) s.destroy();
    const outcomes = await Promise.all(stuck);
    expect(outcomes.every((o) => o instanceof Error)).toBe(true);
    expect(client.limiter.stats()).toEqual({ active: 0, queued: 0, hosts: 0 });
    await close();
  }, 30_000);

  test("running out of descriptors is a retryable NETWORK error, never a configuration error", () => {
    const e = classifyTransportError(Object.assign(new Error("connect EMFILE 127.0.0.1:5000 - Local (undefined:undefined)"), { code: "EMFILE" }));
    expect(e.code).toBe("NETWORK");
    expect(e.retryable).toBe(true);
    expect(e.message).toContain("EMFILE");
  });
});

describe("targets that are never registries", () => {
  test("link-local registries are refused before any connection", async () => {
    const { resolver, close } = makeClient();
    for (const image of ["169.254.169.254/latest/meta:v1", "[fe80::1]:5000/x/y:v1", "169.254.0.1:80/a/b:v1"]) {
      const err = await rejection(resolver.resolve(image));
      expect(err.code).toBe("INVALID_REFERENCE");
      expect(err.message).toContain("link-local");
    }
    await close();
  });

  test("a redirect to a link-local address is refused", async () => {
    const { resolver, close } = makeClient();
    inject(proxy, (r) => r.method === "GET" && r.path.includes("/blobs/"), { redirect: "http://169.254.169.254/latest/meta-data/" });
    const err = await rejection(resolver.resolve(`${proxy.host}/hard/b:v1`));
    expect(err.message).toContain("link-local");
    expect(err.message).toContain("169.254.169.254");
    proxy.setOnRequest(undefined);
    await close();
  });

  test("a redirect from https to plain http is refused (never a downgrade)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fr-hard-tls-"));
    const ca = makeCA(dir);
    const leaf = makeServerCert(ca, dir);
    // A TLS front of the plain registry whose blobs redirect to the plain registry itself.
    const tlsFront = await startProxy({
      upstream: plain.url,
      tls: { cert: leaf.certPem, key: leaf.keyPem },
      onRequest: (r) => (r.method === "GET" && r.path.includes("/blobs/") ? { redirect: `${plain.url}${r.path}` } : undefined),
    });
    const { resolver, close } = makeClient({ registries: [{ caPem: ca.certPem } as TestRegistry] });
    const err = await rejection(resolver.resolve(`${tlsFront.host}/hard/a:v1`));
    expect(err.message).toContain("redirected from https to plain http");
    await close();
    await tlsFront.stop();
  });
});
