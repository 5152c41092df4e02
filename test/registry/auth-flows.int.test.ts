import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { pushImage, pushIndex } from "../support/push.ts";
import { startProxy } from "../support/proxy.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { basicAuth, dockerConfigFile, makeClient, rejection } from "./helpers.ts";

const isManifestGet = (e: { method: string; path: string }) => e.method === "GET" && e.path.includes("/manifests/");
const isBlobGet = (e: { method: string; path: string }) => e.method === "GET" && e.path.includes("/blobs/");
const isRegistryGet = (e: { method: string; path: string }) => e.method === "GET" && e.path.startsWith("/v2/");

describe("Basic auth (htpasswd over TLS)", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ mode: "tls-htpasswd", users: { alice: "s3cr:et-pa55" } });
    await pushImage(reg, "basic/a", "v1", { format: "docker", entrypoint: ["/a"] });
    await pushImage(reg, "basic/b", "v1", { format: "oci", entrypoint: ["/b"] });
  });
  afterAll(async () => reg?.stop());

  test("credentials from a Docker config; the challenge is learned once", async () => {
    const cfg = dockerConfigFile({ [`https://${reg.host}`]: basicAuth("alice", "s3cr:et-pa55") });
    const { resolver, close } = makeClient({ dockerConfig: cfg, registries: [reg] });
    await reg.clearLog();
    expect((await resolver.resolve(`${reg.host}/basic/a:v1`)).metadata.entrypoint).toEqual(["/a"]);
    // 401 challenge, manifest, config.
    expect(await reg.count(isRegistryGet)).toBe(3);
    await reg.clearLog();
    expect((await resolver.resolve(`${reg.host}/basic/b:v1`)).metadata.entrypoint).toEqual(["/b"]);
    // Known Basic challenge: manifest + config, no ping, no 401.
    expect(await reg.count(isRegistryGet)).toBe(2);
    await close();
  });

  test("a wrong password is UNAUTHORIZED without a retry storm, and never logged", async () => {
    const cfg = dockerConfigFile({ [reg.host]: basicAuth("alice", "wrong-Pa55word") });
    const { resolver, logger, close } = makeClient({ dockerConfig: cfg, registries: [reg] });
    await reg.clearLog();
    const err = await rejection(resolver.resolve(`${reg.host}/basic/a:v1`));
    expect(err.code).toBe("UNAUTHORIZED");
    expect(await reg.count(isManifestGet)).toBe(2); // the challenge, then one try with the password
    const b64 = Buffer.from("alice:wrong-Pa55word").toString("base64");
    for (const text of [err.message, ...logger.lines]) {
      expect(text).not.toContain("wrong-Pa55word");
      expect(text).not.toContain(b64);
    }
    await close();
  });

  test("no credentials is UNAUTHORIZED", async () => {
    const { resolver, close } = makeClient({ registries: [reg] });
    expect((await rejection(resolver.resolve(`${reg.host}/basic/a:v1`))).code).toBe("UNAUTHORIZED");
    await close();
  });
});

describe("Bearer token auth", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ mode: "tls-token", users: { bob: "b0b-Secret" }, identityTokens: { "refresh-abc": "bob" } });
    for (const repo of ["public/one", "public/two", "private/one"]) {
      await pushImage(reg, repo, "v1", { format: "oci", entrypoint: [`/${repo}`] });
      await pushImage(reg, repo, "v2", { format: "oci", entrypoint: [`/${repo}`] });
    }
    await pushIndex(reg, "public/idx", "v1", [{ platform: { os: "linux", architecture: "amd64" }, entrypoint: ["/i"] }], { format: "oci" });
  });
  afterAll(async () => reg?.stop());

  const tokens = () => reg.tokenServer!.requests();

  test("anonymous public pulls: 4 requests on first contact, then 3 per new repository, 2 with a live token", async () => {
    const { resolver, close } = makeClient({ registries: [reg] });
    await reg.clearLog();
    reg.tokenServer!.clear();
    await resolver.resolve(`${reg.host}/public/one:v1`);
    expect(await reg.count(isRegistryGet)).toBe(3); // 401, manifest, config
    expect(tokens()).toHaveLength(1);

    await reg.clearLog();
    reg.tokenServer!.clear();
    await resolver.resolve(`${reg.host}/public/two:v1`);
    expect(await reg.count(isRegistryGet)).toBe(2); // manifest, config: no 401 thanks to the remembered challenge
    expect(tokens()).toHaveLength(1);

    await reg.clearLog();
    reg.tokenServer!.clear();
    await resolver.resolve(`${reg.host}/public/two:v2`);
    expect(await reg.count(isRegistryGet)).toBe(2);
    expect(tokens()).toHaveLength(0);

    await reg.clearLog();
    reg.tokenServer!.clear();
    await resolver.resolve(`${reg.host}/public/idx:v1`);
    expect(await reg.count(isRegistryGet)).toBe(3); // index, child, config
    expect(tokens()).toHaveLength(1);
    await close();
  });

  test("a private repository needs credentials", async () => {
    const { resolver, close } = makeClient({ registries: [reg] });
    expect((await rejection(resolver.resolve(`${reg.host}/private/one:v1`))).code).toBe("UNAUTHORIZED");
    await close();
  });

  test("Basic credentials are exchanged for a token, which concurrent resolves share", async () => {
    const cfg = dockerConfigFile({ [reg.host]: basicAuth("bob", "b0b-Secret") });
    const { resolver, close } = makeClient({ dockerConfig: cfg, registries: [reg] });
    await resolver.resolve(`${reg.host}/public/one:v1`); // learn the challenge
    reg.tokenServer!.clear();
    const [a, b] = await Promise.all([resolver.resolve(`${reg.host}/private/one:v1`), resolver.resolve(`${reg.host}/private/one:v2`)]);
    expect(a.metadata.entrypoint).toEqual(["/private/one"]);
    expect(b.metadata.entrypoint).toEqual(["/private/one"]);
    expect(tokens()).toHaveLength(1);
    expect(tokens()[0]?.hadAuthorization).toBe(true);
    expect(tokens()[0]?.user).toBe("bob");
    await close();
  });

  test("a wrong password: one token request, UNAUTHORIZED, secret absent from logs and error", async () => {
    const cfg = dockerConfigFile({ [reg.host]: basicAuth("bob", "not-Bobs-pass") });
    const { resolver, logger, close } = makeClient({ dockerConfig: cfg, registries: [reg] });
    reg.tokenServer!.clear();
    await reg.clearLog();
    const err = await rejection(resolver.resolve(`${reg.host}/private/one:v1`));
    expect(err.code).toBe("UNAUTHORIZED");
    expect(tokens()).toHaveLength(1);
    expect(await reg.count(isManifestGet)).toBe(1);
    const b64 = Buffer.from("bob:not-Bobs-pass").toString("base64");
    for (const text of [err.message, ...logger.lines]) {
      expect(text).not.toContain("not-Bobs-pass");
      expect(text).not.toContain(b64);
    }
    await close();
  });

  test("identitytoken: exchanged at the realm with grant_type=refresh_token", async () => {
    const cfg = dockerConfigFile({ [reg.host]: { identitytoken: "refresh-abc" } });
    const { resolver, close } = makeClient({ dockerConfig: cfg, registries: [reg] });
    reg.tokenServer!.clear();
    expect((await resolver.resolve(`${reg.host}/private/one:v1`)).metadata.entrypoint).toEqual(["/private/one"]);
    const exchanges = tokens().filter((t) => t.grantType === "refresh_token");
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]?.method).toBe("POST");
    await close();
  });

  test("registrytoken: sent as the bearer, no token request at all", async () => {
    const token = reg.tokenServer!.issue("bob", [{ type: "repository", name: "private/one", actions: ["pull"] }]);
    const cfg = dockerConfigFile({ [reg.host]: { registrytoken: token } });
    const { resolver, close } = makeClient({ dockerConfig: cfg, registries: [reg] });
    reg.tokenServer!.clear();
    await reg.clearLog();
    expect((await resolver.resolve(`${reg.host}/private/one:v1`)).metadata.entrypoint).toEqual(["/private/one"]);
    expect(tokens()).toHaveLength(0);
    expect(await reg.count(isRegistryGet)).toBe(2);
    await close();
  });

  test("a cached token the registry rejects is refreshed once", async () => {
    const front = await startProxy({ upstream: reg.url, dispatcher: reg.dispatcher });
    const cfg = dockerConfigFile({ [front.host]: basicAuth("bob", "b0b-Secret") });
    const { resolver, close } = makeClient({ dockerConfig: cfg, registries: [reg], insecure: [front.host] });
    await resolver.resolve(`${front.host}/private/one:v1`);
    reg.tokenServer!.clear();
    let rejected = 0;
    const challenge = `Bearer realm="${reg.tokenServer!.realm}",service="${reg.tokenServer!.service}"`;
    front.setOnRequest((r) => (r.path.includes("/manifests/v2") && rejected++ === 0 ? { respond: { status: 401, headers: { "www-authenticate": challenge } } } : undefined));
    expect((await resolver.resolve(`${front.host}/private/one:v2`)).metadata.entrypoint).toEqual(["/private/one"]);
    expect(rejected).toBe(2);
    expect(tokens()).toHaveLength(1);
    await close();
    await front.stop();
  });

  test("a failed token fetch is not cached: the next resolve fetches again and succeeds", async () => {
    const { resolver, close } = makeClient({ registries: [reg] });
    await resolver.resolve(`${reg.host}/public/one:v1`);
    let failures = 0;
    reg.tokenServer!.setFault(() => (failures++ < 4 ? { status: 500 } : undefined));
    expect((await rejection(resolver.resolve(`${reg.host}/public/two:v1`))).code).toBe("NETWORK");
    reg.tokenServer!.setFault(undefined);
    expect((await resolver.resolve(`${reg.host}/public/two:v1`)).metadata.entrypoint).toEqual(["/public/two"]);
    await close();
  });

  test("the custom Docker config rewritten between two resolves: the new credentials are used", async () => {
    const cfg = dockerConfigFile({ [reg.host]: basicAuth("bob", "stale-password") });
    const { resolver, close } = makeClient({ dockerConfig: cfg, registries: [reg] });
    expect((await rejection(resolver.resolve(`${reg.host}/private/one:v1`))).code).toBe("UNAUTHORIZED");
    writeFileSync(cfg, JSON.stringify({ auths: { [reg.host]: basicAuth("bob", "b0b-Secret") } }));
    expect((await resolver.resolve(`${reg.host}/private/one:v1`)).metadata.entrypoint).toEqual(["/private/one"]);
    await close();
  });
});
