// Regression tests for hostile or failing registries, in process, against real registries behind the fault proxy.
// The process-level ones (bounds, listing, connection caps, scrubbing) are in test/registry/binary-hardening.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
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
