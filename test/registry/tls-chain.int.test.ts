// The private-registry TLS chain against real registries (docs/tls.md; scenarios a–h, in process).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { parseCommandLine } from "../../src/config/config.ts";
import { memoryLogger } from "../../src/log.ts";
import { createRunner } from "../../src/runner.ts";
import { pushImage } from "../support/push.ts";
import { startProxy, type TestProxy } from "../support/proxy.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { basicAuth, dockerConfigFile, rejection } from "./helpers.ts";
import { chainClient, kubeSecretDir, secretDir, strayCA } from "./tls-helpers.ts";

const manifestGet = (e: { method: string; path: string }) => e.method === "GET" && e.path.includes("/manifests/");

let secure: TestRegistry; // TLS + htpasswd, its own CA
let token: TestRegistry; // TLS + bearer tokens, its own CA
let plain: TestRegistry; // plain HTTP, anonymous
let front: TestProxy; // plain-HTTP front of `secure`: sees every Authorization header sent over plain HTTP
const stray = strayCA("Unknown CA");

beforeAll(async () => {
  [secure, token, plain] = await Promise.all([
    startRegistry({ mode: "tls-htpasswd", users: { dev: "Dev-pa55" } }),
    startRegistry({ mode: "tls-token", users: { dev: "Dev-pa55" } }),
    startRegistry({ mode: "http" }),
  ]);
  for (const r of [secure, token, plain]) {
    await pushImage(r, "team/fn", "v1", { format: "oci", entrypoint: ["/fn"] });
    await pushImage(r, "team/fn", "v2", { format: "docker", entrypoint: ["/fn2"] });
    await pushImage(r, "team/other", "v1", { format: "oci", entrypoint: ["/other"] });
  }
  front = await startProxy({ upstream: secure.url, dispatcher: secure.dispatcher });
});
afterAll(async () => {
  await front?.stop();
  await Promise.all([secure?.stop(), token?.stop(), plain?.stop()]);
});

const creds = (r: { host: string }) => ({ [r.host]: basicAuth("dev", "Dev-pa55") });

describe("(a) registry signed by the mounted CA", () => {
  test("htpasswd: step 1 (mounted-ca), no fallback, no warning", async () => {
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": secure.caPem! }), auths: creds(secure) });
    const r = await c.resolver.resolve(`${secure.host}/team/fn:v1`);
    expect(r.metadata.entrypoint).toEqual(["/fn"]);
    expect(r.transport).toBe("mounted-ca");
    expect(r.auth.strategy).toBe("custom");
    expect(c.warnings()).toEqual([]);
    expect(c.transport.stats().succeeded["mounted-ca"]).toBe(1);
    expect(c.transport.stats().fallbacks).toEqual({ "mounted-ca": 0, "system-ca": 0, "plain-http": 0 });
    const d = await c.transport.describe(secure.host, { registry: secure.host, repository: "team/fn" });
    expect(d).toMatchObject({ kind: "private-tls", step: "mounted-ca" });
    expect(d.detail).toContain("ca.crt (1 certificate) plus the system roots");
    // A cache hit still says how the record was fetched.
    expect((await c.resolver.resolve(`${secure.host}/team/fn:v1`)).transport).toBe("mounted-ca");
    await c.close();
  });

  test("token auth: the token realm is reached with the mounted CA too", async () => {
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": token.caPem! }), auths: creds(token) });
    const r = await c.resolver.resolve(`${token.host}/team/fn:v2`);
    expect(r.metadata.entrypoint).toEqual(["/fn2"]);
    expect(r.transport).toBe("mounted-ca");
    expect(token.tokenServer).toBeDefined();
    expect(c.warnings()).toEqual([]);
    await c.close();
  });

  test("a PEM bundle: any of its CAs is trusted", async () => {
    const bundle = `${stray.certPem}${token.caPem!}${secure.caPem!}`;
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": bundle }), auths: { ...creds(secure), ...creds(token) } });
    expect((await c.resolver.resolve(`${secure.host}/team/fn:v1`)).transport).toBe("mounted-ca");
    expect((await c.resolver.resolve(`${token.host}/team/fn:v1`)).transport).toBe("mounted-ca");
    await c.close();
  });
});

describe("(b) plain-HTTP registry with TLS on", () => {
  test("steps 1 and 2 fail, step 3 works; one warning per fallback, naming the image", async () => {
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": secure.caPem! }) });
    const image = `${plain.host}/team/fn:v1`;
    const r = await c.resolver.resolve(image);
    expect(r.metadata.entrypoint).toEqual(["/fn"]);
    expect(r.transport).toBe("plain-http");
    const w = c.warnings();
    expect(w.map((x) => `${x.step}->${x.next}`)).toEqual(["mounted-ca->system-ca", "system-ca->plain-http"]);
    for (const x of w) {
      expect(x.image).toBe(image);
      expect(String(x.reason)).toMatch(/TLS|SSL|handshake|connection/i);
    }
    expect(c.transport.stats().fallbacks).toEqual({ "mounted-ca": 0, "system-ca": 1, "plain-http": 1 });

    // Remembered: the next image of this registry goes straight to plain HTTP, and metrics say so.
    await plain.clearLog();
    expect((await c.resolver.resolve(`${plain.host}/team/other:v1`)).transport).toBe("plain-http");
    expect(c.warnings()).toHaveLength(2);
    expect(c.transport.stats().skipped).toEqual({ "mounted-ca": 1, "system-ca": 1, "plain-http": 0 });
    expect(await plain.count(manifestGet)).toBe(1);
    expect((await c.transport.describe(plain.host, { registry: plain.host, repository: "team/other" })).order[0]).toBe("plain-http");
    await c.close();
  });

  test("no credentials over plain HTTP when the host is not listed insecure", async () => {
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": secure.caPem! }), auths: creds(front) });
    front.clear();
    const err = await rejection(c.resolver.resolve(`${front.host}/team/fn:v1`));
    // The registry's own answer to an anonymous request: final, and no credentials were sent.
    expect(err.code).toBe("UNAUTHORIZED");
    expect(front.requests().length).toBeGreaterThan(0);
    expect(front.requests().filter((q) => q.headers.authorization !== undefined)).toEqual([]);
    expect(c.warnings()).toHaveLength(2);
    await c.close();
  });

  test("credentials over plain HTTP when the host is listed in --insecure-registries", async () => {
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": secure.caPem! }), auths: creds(front), insecure: [front.host] });
    front.clear();
    const r = await c.resolver.resolve(`${front.host}/team/fn:v1`);
    expect(r.transport).toBe("plain-http");
    expect(r.metadata.entrypoint).toEqual(["/fn"]);
    expect(front.requests().some((q) => q.headers.authorization?.startsWith("Basic "))).toBe(true);
    await c.close();
  });
});

describe("(c) registry signed by an unknown CA, nothing plain on its port", () => {
  test("an error naming all three attempts and their causes", async () => {
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": stray.certPem }), auths: creds(secure) });
    const image = `${secure.host}/team/fn:v1`;
    const err = await rejection(c.resolver.resolve(image));
    expect(err.code).toBe("TLS");
    expect(err.message).toContain(image);
    expect(err.message).toMatch(/\(1\) mounted-ca \(https\): TLS handshake failed .*(certificate|issuer|verify)/i);
    expect(err.message).toMatch(/\(2\) system-ca \(https\): TLS handshake failed .*(certificate|issuer|verify)/i);
    expect(err.message).toContain("(3) plain-http (http): plain HTTP refused");
    expect(c.warnings()).toHaveLength(2);
    await c.close();
  });
});

describe("(d) a registry answer at step 1 is final", () => {
  test("manifest unknown: one manifest request, no fallback, no warning", async () => {
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": secure.caPem! }), auths: creds(secure) });
    // Learn the Basic challenge first, so the unknown tag costs exactly one request (no 401 round).
    await c.resolver.resolve(`${secure.host}/team/fn:v1`);
    await secure.clearLog();
    const err = await rejection(c.resolver.resolve(`${secure.host}/team/fn:nope`));
    expect(err.code).toBe("MANIFEST_UNKNOWN");
    expect(await secure.count(manifestGet)).toBe(1);
    expect(await secure.count((e) => manifestGet(e) && e.status === 404)).toBe(1);
    expect(c.warnings()).toEqual([]);
    expect(c.transport.stats().fallbacks).toEqual({ "mounted-ca": 0, "system-ca": 0, "plain-http": 0 });
    await c.close();
  });

  test("unauthorized (wrong password): final too", async () => {
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": secure.caPem! }), auths: { [secure.host]: basicAuth("dev", "wrong") } });
    const err = await rejection(c.resolver.resolve(`${secure.host}/team/fn:v1`));
    expect(err.code).toBe("UNAUTHORIZED");
    expect(c.warnings()).toEqual([]);
    await c.close();
  });
});

describe("(e) ca.pem when ca.crt is absent", () => {
  test("step 1 with ca.pem", async () => {
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.pem": secure.caPem! }), auths: creds(secure) });
    expect((await c.resolver.resolve(`${secure.host}/team/fn:v1`)).transport).toBe("mounted-ca");
    expect((await c.transport.describe(secure.host, { registry: secure.host, repository: "team/fn" })).detail).toContain("ca.pem");
    await c.close();
  });
});

describe("(f) a missing directory or garbage PEM: clear errors", () => {
  test("missing directory: named in step 1's cause, the chain goes on", async () => {
    const c = chainClient({ tlsSecretPath: "/nonexistent/tls-secret", auths: creds(secure) });
    const err = await rejection(c.resolver.resolve(`${secure.host}/team/fn:v1`));
    expect(err.message).toContain("(1) mounted-ca (https): TLS configuration: --tls-secret-path /nonexistent/tls-secret does not exist");
    expect(err.message).toContain("(2) system-ca (https)");
    expect(err.message).toContain("(3) plain-http (http)");
    // The operator also sees it once in the log, without resolving anything else.
    expect(c.logger.lines.filter((l) => l.includes("registry CA unusable"))).toHaveLength(1);
    await c.close();
  });

  test("garbage PEM: the file is named; a plain registry is still reached at step 3", async () => {
    const dir = secretDir({ "ca.crt": "-----BEGIN GARBAGE-----\nxx\n" });
    const c = chainClient({ tlsSecretPath: dir });
    const r = await c.resolver.resolve(`${plain.host}/team/fn:v1`);
    expect(r.transport).toBe("plain-http");
    expect(String(c.warnings()[0]?.reason)).toContain(`TLS configuration: CA file ${dir}/ca.crt holds no PEM certificate`);
    await c.close();
  });

  test("garbage PEM against a TLS registry: the final error names the file", async () => {
    const dir = secretDir({ "ca.crt": "garbage" });
    const c = chainClient({ tlsSecretPath: dir, auths: creds(secure) });
    const err = await rejection(c.resolver.resolve(`${secure.host}/team/fn:v1`));
    expect(err.message).toContain(`(1) mounted-ca (https): TLS configuration: CA file ${dir}/ca.crt holds no PEM certificate`);
    await c.close();
  });
});

describe("(h) the CA file swapped between two resolves", () => {
  test("Kubernetes symlink swap: the new CA is trusted, the old one no longer", async () => {
    const secret = kubeSecretDir({ "ca.crt": secure.caPem! });
    const c = chainClient({ tlsSecretPath: secret.dir, auths: { ...creds(secure), ...creds(token) } });
    expect((await c.resolver.resolve(`${secure.host}/team/fn:v1`)).transport).toBe("mounted-ca");
    // The token registry's CA is not mounted yet.
    const before = await rejection(c.resolver.resolve(`${token.host}/team/fn:v1`));
    expect(before.message).toContain("(1) mounted-ca (https): TLS handshake failed");

    secret.swap({ "ca.crt": token.caPem! });
    expect((await c.resolver.resolve(`${token.host}/team/fn:v1`)).transport).toBe("mounted-ca");
    expect(c.transport.stats().caReloads).toBe(1);
    // The pool holding a live connection to `secure` was replaced: its CA is no longer trusted.
    const after = await rejection(c.resolver.resolve(`${secure.host}/team/fn:v2`));
    expect(after.message).toContain("(1) mounted-ca (https): TLS handshake failed");
    expect(c.logger.lines.filter((l) => l.includes("registry CA changed, reloaded"))).toHaveLength(1);
    await c.close();
  });

  test("a broken CA fixed in place: step 1 is tried again (the remembered step is forgotten)", async () => {
    const dir = secretDir({ "ca.crt": "garbage" });
    const c = chainClient({ tlsSecretPath: dir, auths: creds(secure), insecure: [] });
    await rejection(c.resolver.resolve(`${secure.host}/team/fn:v1`));
    writeFileSync(`${dir}/ca.crt`, secure.caPem!);
    expect((await c.resolver.resolve(`${secure.host}/team/fn:v1`)).transport).toBe("mounted-ca");
    await c.close();
  });
});

describe("default-prefix images keep the default transport with the flags on", () => {
  test("a registry listed in --default-registries is not reached with the mounted CA", async () => {
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": secure.caPem! }), auths: creds(secure), flags: [`--default-registries=${secure.host}`] });
    const err = await rejection(c.resolver.resolve(`${secure.host}/team/fn:v1`));
    // System CAs only (then loopback plain HTTP): the private CA is not in play.
    expect(err.message).toContain("(1) system-ca (https)");
    expect(err.message).not.toContain("mounted-ca");
    expect((await c.transport.describe(secure.host, { registry: secure.host, repository: "team/fn" })).kind).toBe("default");
    await c.close();
  });
});

describe("metrics", () => {
  test("the runner counts each fallback by step left and step tried", async () => {
    const { config } = parseCommandLine([
      "--enable-private-registries",
      "--enable-private-registries-tls",
      `--tls-secret-path=${secretDir({ "ca.crt": secure.caPem! })}`,
      `--registry-auth-secret-path=${dockerConfigFile({})}`,
    ]);
    const runner = createRunner(config, memoryLogger());
    try {
      expect((await runner.resolver.resolve(`${plain.host}/team/fn:v1`)).transport).toBe("plain-http");
      const text = await runner.metrics.text();
      expect(text).toContain('function_runner_registry_transport_fallbacks_total{from="mounted-ca",to="system-ca"} 1');
      expect(text).toContain('function_runner_registry_transport_fallbacks_total{from="system-ca",to="plain-http"} 1');
      expect(runner.transports.chain?.stats().fallbacks).toEqual({ "mounted-ca": 0, "system-ca": 1, "plain-http": 1 });
    } finally {
      await runner.close();
    }
  });
});
