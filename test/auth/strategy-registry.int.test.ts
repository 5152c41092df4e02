import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { explain } from "../../src/cli/explain.ts";
import { parseCommandLine } from "../../src/config/config.ts";
import { memoryLogger } from "../../src/log.ts";
import { createRunner, type Runner } from "../../src/runner.ts";
import { basicAuth, dockerConfigFile, rejection } from "../registry/helpers.ts";
import { pushImage } from "../support/push.ts";
import { startProxy, type TestProxy } from "../support/proxy.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

// The runner as main.ts builds it, against a real htpasswd registry behind a
// plain-HTTP front listed insecure (TLS itself is covered by test/registry/tls-*.test.ts).
let reg: TestRegistry;
let front: TestProxy;
const GOOD = "G00d-pass:word";
const saved = { DOCKER_CONFIG: process.env.DOCKER_CONFIG, PATH: process.env.PATH };
let runners: Runner[] = [];

beforeAll(async () => {
  reg = await startRegistry({ mode: "tls-htpasswd", users: { dave: GOOD } });
  for (const repo of ["team/fn", "team/other", "catalog/fn"]) await pushImage(reg, repo, "v1", { format: "oci", entrypoint: [`/${repo}`] });
  front = await startProxy({ upstream: reg.url, dispatcher: reg.dispatcher });
});
afterAll(async () => {
  await front?.stop();
  await reg?.stop();
});
/** Assigning undefined to process.env stores the string "undefined": delete instead. */
function restoreEnv(name: keyof typeof saved): void {
  const value = saved[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

afterEach(async () => {
  restoreEnv("DOCKER_CONFIG");
  restoreEnv("PATH");
  for (const r of runners) await r.close();
  runners = [];
});

/** DOCKER_CONFIG pointing at a directory whose config.json holds `content`. */
function defaultDockerConfig(content: object): string {
  const dir = mkdtempSync(join(tmpdir(), "fr-default-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify(content));
  process.env.DOCKER_CONFIG = dir;
  return join(dir, "config.json");
}

function runner(flags: string[]): Runner & { lines: string[] } {
  const logger = memoryLogger();
  const r = createRunner(parseCommandLine([...flags, "--insecure-registries", front.host]).config, logger);
  runners.push(r);
  return Object.assign(r, { lines: logger.lines });
}

const right = () => ({ auths: { [front.host]: basicAuth("dave", GOOD) } });
const wrong = () => ({ auths: { [front.host]: basicAuth("dave", "not-it") } });

describe("auth strategy end to end", () => {
  test("private registries on, custom registry: the mounted secret's credentials, not the default keychain's", async () => {
    defaultDockerConfig(wrong());
    const secret = dockerConfigFile(right().auths);
    const r = runner(["--enable-private-registries", "--registry-auth-secret-path", secret]);
    const res = await r.resolver.resolve(`${front.host}/team/fn:v1`);
    expect(res.metadata.entrypoint).toEqual(["/team/fn"]);
    expect(res.auth.strategy).toBe("custom");
    expect(res.auth.source).toBe(`custom:${secret}#${front.host}`);
    expect((await r.resolver.resolve(`${front.host}/team/fn:v1`)).auth).toEqual(res.auth);
  });

  test("private registries off: the default keychain (Docker config), the secret ignored", async () => {
    const cfg = defaultDockerConfig(right());
    const secret = dockerConfigFile(wrong().auths);
    const r = runner(["--registry-auth-secret-path", secret]);
    const res = await r.resolver.resolve(`${front.host}/team/fn:v1`);
    expect(res.auth.strategy).toBe("default");
    expect(res.auth.reason).toContain("disabled");
    expect(res.auth.source).toBe(`default:docker-config:${cfg}#${front.host}`);
  });

  test("an image under the configured default prefix uses the default keychain even with private registries on", async () => {
    defaultDockerConfig(right());
    const secret = dockerConfigFile(wrong().auths);
    const r = runner(["--enable-private-registries", "--registry-auth-secret-path", secret, "--default-image-prefix", `${front.host}/catalog/`]);
    const res = await r.resolver.resolve("fn:v1"); // a short name, expanded with the prefix
    expect(res.metadata.reference).toBe(`${front.host}/catalog/fn:v1`);
    expect(res.auth.strategy).toBe("default");
    // ...while a custom image on the same host goes through the (wrong) secret.
    expect((await rejection(r.resolver.resolve(`${front.host}/team/other:v1`))).code).toBe("UNAUTHORIZED");
  });

  test("a credential helper on PATH (credsStore) supplies the default keychain", async () => {
    defaultDockerConfig({ credsStore: "frtest" });
    const bin = mkdtempSync(join(tmpdir(), "fr-helper-"));
    const script = join(bin, "docker-credential-frtest");
    writeFileSync(script, `#!/bin/sh\nread server\nprintf '{"ServerURL":"%s","Username":"dave","Secret":"${GOOD}"}' "$server"\n`);
    chmodSync(script, 0o755);
    process.env.PATH = `${bin}:${saved.PATH}`;
    const r = runner([]);
    const res = await r.resolver.resolve(`${front.host}/team/fn:v1`);
    expect(res.auth.source).toBe("default:credsStore:frtest");
  });

  test("the custom secret rewritten between two resolves: the new credentials are used", async () => {
    defaultDockerConfig({});
    const secret = dockerConfigFile(wrong().auths);
    const r = runner(["--enable-private-registries", "--registry-auth-secret-path", secret]);
    const err = await rejection(r.resolver.resolve(`${front.host}/team/other:v1`));
    expect(err.code).toBe("UNAUTHORIZED");
    writeFileSync(secret, JSON.stringify(right()));
    expect((await r.resolver.resolve(`${front.host}/team/other:v1`)).metadata.entrypoint).toEqual(["/team/other"]);
  });

  test("a broken custom secret is AUTH_CONFIG_INVALID naming the file, never its content", async () => {
    defaultDockerConfig({});
    const secret = dockerConfigFile({});
    const b64 = Buffer.from(`dave:${GOOD}`).toString("base64");
    writeFileSync(secret, `{"auths": {"${front.host}": {"auth": "${b64}"`); // truncated JSON
    const r = runner(["--enable-private-registries", "--registry-auth-secret-path", secret]);
    const err = await rejection(r.resolver.resolve(`${front.host}/team/fn:v1`));
    expect(err.code).toBe("AUTH_CONFIG_INVALID");
    expect(err.message).toContain(secret);
    for (const text of [err.message, ...r.lines]) {
      expect(text).not.toContain(b64);
      expect(text).not.toContain(GOOD);
    }
  });

  test("explain names strategy, reason and source without contacting the registry or printing secrets", async () => {
    defaultDockerConfig({});
    const secret = dockerConfigFile(right().auths);
    const r = runner(["--enable-private-registries", "--registry-auth-secret-path", secret]);
    front.clear();
    const e = await explain(r, `${front.host}/team/fn:v1`);
    expect(e.auth.strategy).toBe("custom");
    expect(e.auth.source).toBe(`custom:${secret}#${front.host}`);
    expect(e.pullSecret).toContain("auth-secret");
    expect(front.requests()).toHaveLength(0);
    expect(JSON.stringify(e)).not.toContain(GOOD);
    expect(JSON.stringify(e)).not.toContain(Buffer.from(`dave:${GOOD}`).toString("base64"));
  });
});
