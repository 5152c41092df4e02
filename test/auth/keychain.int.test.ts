import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getFromCredentialHelper, parseHelperOutput, sanitiseHelperMessage } from "../../src/auth/credential-helper.ts";
import type { Credential } from "../../src/registry/credential.ts";
import type { DockerConfig } from "../../src/auth/docker-config.ts";
import { DefaultKeychain, FileCredentials, type ServiceAccountPullSecrets } from "../../src/auth/keychain.ts";
import { RunnerError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log.ts";

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const authConfig = (auths: Record<string, unknown>, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ auths, ...extra });
const basic = (u: string, p: string): Credential => ({ kind: "basic", username: u, password: p });

let root: string;
let binDir: string;
let n = 0;
/** A fresh directory per test so tests never see each other's files. */
const fresh = (): string => {
  const d = join(root, `t${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};
const write = (path: string, text: string): string => {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  return path;
};
/** Replace a file by rename, as editors and Kubernetes do (new inode). */
const replace = (path: string, text: string): void => {
  const tmp = `${path}.tmp${n++}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
};

/** The JSON log lines a memory logger collected. */
const logLines = (lines: string[]): Array<Record<string, unknown>> => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

const HELPER_SECRET = "HelperSecretValue123456789";

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "fr-keychain-"));
  binDir = join(root, "bin");
  mkdirSync(binDir);
  const script = (name: string, body: string): void => {
    const p = join(binDir, `docker-credential-${name}`);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
  };
  // Echoes the server URL it was given, so tests can check what Docker would pass.
  script(
    "test",
    `[ "$1" = "get" ] || exit 9
read url
case "$url" in
  tok.example.com) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-tok"}' "$url" ;;
  none.example.com) echo "credentials not found in native keychain"; exit 1 ;;
  *) printf '{"ServerURL":"%s","Username":"url=%s","Secret":"${HELPER_SECRET}"}' "$url" "$url" ;;
esac`,
  );
  script("notfound", `cat >/dev/null; echo "credentials not found in native keychain"; exit 1`);
  script("fail", `cat >/dev/null; echo "error talking to store; token=${HELPER_SECRET}" >&2; exit 3`);
  script("failplain", `cat >/dev/null; echo "backend unavailable" >&2; exit 4`);
  script("hang", `sleep 30`);
  script("garbage", `cat >/dev/null; echo "{not json ${HELPER_SECRET}"`);
  script("empty", `cat >/dev/null; echo '{"ServerURL":"","Username":"","Secret":""}'`);
  script("noread", `echo '{"Username":"u","Secret":"s"}'`);
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const helperEnv = (): Record<string, string> => ({ PATH: `${binDir}:/usr/bin:/bin` });

async function rejection(p: Promise<unknown>): Promise<RunnerError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RunnerError);
    return e as RunnerError;
  }
  throw new Error("expected a rejection");
}

describe("credential helper protocol", () => {
  test("basic answer; the server URL arrives on stdin", async () => {
    expect(await getFromCredentialHelper("test", "ghcr.io", { env: helperEnv() })).toEqual(
      basic("url=ghcr.io", HELPER_SECRET),
    );
  });

  test("<token> user name → identity token", async () => {
    expect(await getFromCredentialHelper("test", "tok.example.com", { env: helperEnv() })).toEqual({
      kind: "identityToken",
      token: "refresh-tok",
    });
  });

  test("credentials not found → undefined", async () => {
    expect(await getFromCredentialHelper("test", "none.example.com", { env: helperEnv() })).toBeUndefined();
    expect(await getFromCredentialHelper("notfound", "x", { env: helperEnv() })).toBeUndefined();
    expect(await getFromCredentialHelper("empty", "x", { env: helperEnv() })).toBeUndefined();
  });

  test("a helper that does not read stdin still works", async () => {
    expect(await getFromCredentialHelper("noread", "x", { env: helperEnv() })).toEqual(basic("u", "s"));
  });

  test("failure → AUTH_CONFIG_INVALID with name and exit code, secret redacted", async () => {
    const e = await rejection(getFromCredentialHelper("fail", "x", { env: helperEnv() }));
    expect(e.code).toBe("AUTH_CONFIG_INVALID");
    expect(e.message).toContain("docker-credential-fail");
    expect(e.message).toContain("exited with code 3");
    expect(e.message).not.toContain(HELPER_SECRET);
    const plain = await rejection(getFromCredentialHelper("failplain", "x", { env: helperEnv() }));
    expect(plain.message).toBe("credential helper docker-credential-failplain exited with code 4: backend unavailable");
  });

  test("non-JSON answer → AUTH_CONFIG_INVALID without echoing it", async () => {
    const e = await rejection(getFromCredentialHelper("garbage", "x", { env: helperEnv() }));
    expect(e.code).toBe("AUTH_CONFIG_INVALID");
    expect(e.message).not.toContain(HELPER_SECRET);
  });

  test("missing helper binary → clear AUTH_CONFIG_INVALID", async () => {
    const e = await rejection(getFromCredentialHelper("does-not-exist", "x", { env: helperEnv() }));
    expect(e.code).toBe("AUTH_CONFIG_INVALID");
    expect(e.message).toContain("docker-credential-does-not-exist");
    expect(e.message).toContain("not found on PATH");
  });

  test("a helper name that is a path is refused", async () => {
    const e = await rejection(getFromCredentialHelper("../../bin/sh", "x", { env: helperEnv() }));
    expect(e.code).toBe("AUTH_CONFIG_INVALID");
  });

  test("hanging helper → TIMEOUT, promptly", async () => {
    const started = Date.now();
    const e = await rejection(getFromCredentialHelper("hang", "x", { env: helperEnv(), timeoutMs: 300 }));
    expect(e.code).toBe("TIMEOUT");
    expect(e.message).toContain("docker-credential-hang");
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  test("pure parts", () => {
    expect(parseHelperOutput('{"ServerURL":"a","Username":"u","Secret":"s","Extra":1}', "x")).toEqual(basic("u", "s"));
    expect(() => parseHelperOutput('{"Username":"u"}', "x")).toThrow(RunnerError);
    expect(sanitiseHelperMessage('{"Secret":"abc"}')).toBe("");
    expect(sanitiseHelperMessage("password: hunter2")).toBe("");
    expect(sanitiseHelperMessage(`\n  failed ${"A".repeat(30)} here\nsecond`)).toBe("failed [redacted] here");
    expect(sanitiseHelperMessage("x".repeat(500)).length).toBeLessThanOrEqual(201);
  });
});

describe("DefaultKeychain", () => {
  test("nothing configured → anonymous", async () => {
    const home = fresh();
    const kc = new DefaultKeychain({ env: {}, homeDir: home });
    expect(await kc.forRegistry("ghcr.io")).toEqual({ credential: { kind: "anonymous" }, source: "anonymous" });
  });

  test("~/.docker/config.json, matched like Docker", async () => {
    const home = fresh();
    const file = write(join(home, ".docker", "config.json"), authConfig({ "https://ghcr.io": { auth: b64("a:b:c") } }));
    const kc = new DefaultKeychain({ env: {}, homeDir: home });
    expect(await kc.forRegistry("ghcr.io")).toEqual({
      credential: basic("a", "b:c"),
      source: `default:docker-config:${file}#https://ghcr.io`,
    });
    expect((await kc.forRegistry("quay.io")).source).toBe("anonymous");
  });

  test("$DOCKER_CONFIG replaces ~/.docker", async () => {
    const home = fresh();
    write(join(home, ".docker", "config.json"), authConfig({ "ghcr.io": { auth: b64("home:x") } }));
    const dc = fresh();
    const file = write(join(dc, "config.json"), authConfig({ "ghcr.io": { auth: b64("dc:y") } }));
    const kc = new DefaultKeychain({ env: { DOCKER_CONFIG: dc }, homeDir: home });
    expect(await kc.forRegistry("ghcr.io")).toEqual({ credential: basic("dc", "y"), source: `default:docker-config:${file}#ghcr.io` });
    // A DOCKER_CONFIG without a config.json means no Docker config, not a fall back to ~.
    const empty = fresh();
    expect((await new DefaultKeychain({ env: { DOCKER_CONFIG: empty }, homeDir: home }).forRegistry("ghcr.io")).source).toBe(
      "anonymous",
    );
  });

  test("order: docker config, REGISTRY_AUTH_FILE, XDG auth.json, credsStore, service account, anonymous", async () => {
    const home = fresh();
    const docker = join(home, ".docker", "config.json");
    const raf = join(fresh(), "auth.json");
    const xdg = fresh();
    const xdgFile = join(xdg, "containers", "auth.json");
    write(docker, authConfig({ "one.io": { auth: b64("docker:1") } }, { credsStore: "test" }));
    write(raf, authConfig({ "one.io": { auth: b64("raf:1") }, "two.io": { auth: b64("raf:2") } }));
    write(
      xdgFile,
      authConfig({ "one.io": { auth: b64("xdg:1") }, "two.io": { auth: b64("xdg:2") }, "three.io": { auth: b64("xdg:3") } }),
    );
    const sa: ServiceAccountPullSecrets = {
      dockerConfigs: async (): Promise<Array<{ name: string; config: DockerConfig }>> => [
        { name: "pull-a", config: { auths: { "five.io": { auth: b64("sa:5") } } } },
        { name: "pull-b", config: { auths: { "five.io": { auth: b64("sb:5") }, "six.io": { identitytoken: "it" } } } },
      ],
    };
    const kc = new DefaultKeychain({
      env: { REGISTRY_AUTH_FILE: raf, XDG_RUNTIME_DIR: xdg, ...helperEnv() },
      homeDir: home,
      serviceAccount: sa,
    });
    expect(await kc.forRegistry("one.io")).toEqual({ credential: basic("docker", "1"), source: `default:docker-config:${docker}#one.io` });
    expect(await kc.forRegistry("two.io")).toEqual({ credential: basic("raf", "2"), source: `default:registry-auth-file:${raf}#two.io` });
    expect(await kc.forRegistry("three.io")).toEqual({
      credential: basic("xdg", "3"),
      source: `default:containers-auth:${xdgFile}#three.io`,
    });
    expect(await kc.forRegistry("four.io")).toEqual({
      credential: basic("url=four.io", HELPER_SECRET),
      source: "default:credsStore:test",
    });
    expect(kc.describeSources()).toEqual([
      `docker-config:${docker}`,
      `registry-auth-file:${raf}`,
      `containers-auth:${xdgFile}`,
    ]);

    // Without the credsStore, the service account and then anonymous are reached.
    replace(docker, authConfig({ "one.io": { auth: b64("docker:1") } }));
    expect(await kc.forRegistry("five.io")).toEqual({ credential: basic("sa", "5"), source: "default:serviceaccount:pull-a#five.io" });
    expect(await kc.forRegistry("six.io")).toEqual({
      credential: { kind: "identityToken", token: "it" },
      source: "default:serviceaccount:pull-b#six.io",
    });
    expect((await kc.forRegistry("seven.io")).source).toBe("anonymous");
  });

  test("credsStore 'not found' falls through to the service account", async () => {
    const home = fresh();
    write(join(home, ".docker", "config.json"), authConfig({}, { credsStore: "test" }));
    const sa: ServiceAccountPullSecrets = {
      dockerConfigs: async () => [{ name: "ps", config: { auths: { "none.example.com": { auth: b64("sa:x") } } } }],
    };
    const kc = new DefaultKeychain({ env: helperEnv(), homeDir: home, serviceAccount: sa });
    expect((await kc.forRegistry("none.example.com")).source).toBe("default:serviceaccount:ps#none.example.com");
  });

  test("Docker Desktop's empty auths markers fall through to credsStore; Hub gets the Hub server URL", async () => {
    const home = fresh();
    write(
      join(home, ".docker", "config.json"),
      authConfig({ "https://index.docker.io/v1/": {}, "ghcr.io": {} }, { credsStore: "test" }),
    );
    const kc = new DefaultKeychain({ env: helperEnv(), homeDir: home });
    expect(await kc.forRegistry("index.docker.io")).toEqual({
      credential: basic("url=https://index.docker.io/v1/", HELPER_SECRET),
      source: "default:credsStore:test",
    });
    expect((await kc.forRegistry("ghcr.io")).credential).toEqual(basic("url=ghcr.io", HELPER_SECRET));
  });

  test("an explicit credHelpers entry overrides auths in the same file, and beats REGISTRY_AUTH_FILE", async () => {
    const home = fresh();
    const raf = write(join(fresh(), "auth.json"), authConfig({ "tok.example.com": { auth: b64("raf:x") } }));
    write(
      join(home, ".docker", "config.json"),
      authConfig(
        { "tok.example.com": { auth: b64("stale:x") }, "none.example.com": { auth: b64("file:y") } },
        { credHelpers: { "https://tok.example.com": "test", "none.example.com": "test" } },
      ),
    );
    const kc = new DefaultKeychain({ env: { REGISTRY_AUTH_FILE: raf, ...helperEnv() }, homeDir: home });
    expect(await kc.forRegistry("tok.example.com")).toEqual({
      credential: { kind: "identityToken", token: "refresh-tok" },
      source: "default:credHelper:test",
    });
    // The helper has nothing → the file's own auths entry.
    expect((await kc.forRegistry("none.example.com")).credential).toEqual(basic("file", "y"));
  });

  test("missing helper → clear error; hanging helper → timeout", async () => {
    const home = fresh();
    const file = join(home, ".docker", "config.json");
    write(file, authConfig({}, { credsStore: "desktop" }));
    const kc = new DefaultKeychain({ env: helperEnv(), homeDir: home, helperTimeoutMs: 300 });
    const e = await rejection(kc.forRegistry("ghcr.io"));
    expect(e.code).toBe("AUTH_CONFIG_INVALID");
    expect(e.message).toContain("docker-credential-desktop");
    replace(file, authConfig({}, { credHelpers: { "ghcr.io": "hang" } }));
    expect((await rejection(kc.forRegistry("ghcr.io"))).code).toBe("TIMEOUT");
  });

  test("a file rewritten → the new credentials; unchanged → not re-read", async () => {
    const home = fresh();
    const file = write(join(home, ".docker", "config.json"), authConfig({ "ghcr.io": { auth: b64("old:1") } }));
    const kc = new DefaultKeychain({ env: {}, homeDir: home });
    expect((await kc.forRegistry("ghcr.io")).credential).toEqual(basic("old", "1"));
    replace(file, authConfig({ "ghcr.io": { auth: b64("new:22") } }));
    expect((await kc.forRegistry("ghcr.io")).credential).toEqual(basic("new", "22"));
    // Rewritten in place (same inode), different size.
    writeFileSync(file, authConfig({ "ghcr.io": { auth: b64("inplace:333") } }));
    expect((await kc.forRegistry("ghcr.io")).credential).toEqual(basic("inplace", "333"));
    // Deleted → skipped, then back.
    rmSync(file);
    expect((await kc.forRegistry("ghcr.io")).source).toBe("anonymous");
    write(file, authConfig({ "ghcr.io": { auth: b64("back:4") } }));
    expect((await kc.forRegistry("ghcr.io")).credential).toEqual(basic("back", "4"));
  });

  test("a broken docker config is skipped with one warning naming the file, not the secret; fixing it recovers", async () => {
    const home = fresh();
    const secret = b64("user:VerySecretPassword");
    const file = write(join(home, ".docker", "config.json"), `{"auths":{"ghcr.io":{"auth":"${secret}"}}`);
    const logger = memoryLogger();
    const kc = new DefaultKeychain({ env: {}, homeDir: home, logger });
    expect(await kc.forRegistry("ghcr.io")).toEqual({ credential: { kind: "anonymous" }, source: "anonymous" });
    expect(await kc.forRegistry("quay.io")).toEqual({ credential: { kind: "anonymous" }, source: "anonymous" });
    const warnings = logLines(logger.lines).filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.file).toBe(file);
    expect(String(warnings[0]?.error)).toContain("not valid JSON");
    for (const line of logger.lines) {
      expect(line).not.toContain(secret);
      expect(line).not.toContain("VerySecretPassword");
    }
    replace(file, `{"auths":{"ghcr.io":{"auth":"${secret}"}}}`);
    expect((await kc.forRegistry("ghcr.io")).credential).toEqual(basic("user", "VerySecretPassword"));
    // Broken again after a good spell: reported again.
    replace(file, `{"auths":[]}`);
    expect((await kc.forRegistry("ghcr.io")).source).toBe("anonymous");
    expect(logLines(logger.lines).filter((l) => l.level === "warn")).toHaveLength(2);
  });

  test("a broken docker config does not hide the other sources", async () => {
    const home = fresh();
    write(join(home, ".docker", "config.json"), "not json at all");
    const raf = write(join(fresh(), "auth.json"), authConfig({ "ghcr.io": { auth: b64("raf:5") } }));
    const xdg = fresh();
    write(join(xdg, "containers", "auth.json"), authConfig({ "quay.io": { auth: b64("xdg:6") } }));
    const logger = memoryLogger();
    const kc = new DefaultKeychain({ env: { REGISTRY_AUTH_FILE: raf, XDG_RUNTIME_DIR: xdg }, homeDir: home, logger });
    expect((await kc.forRegistry("ghcr.io")).credential).toEqual(basic("raf", "5"));
    expect((await kc.forRegistry("quay.io")).credential).toEqual(basic("xdg", "6"));
    expect(logLines(logger.lines).filter((l) => l.level === "warn")).toHaveLength(1);
  });

  test("an unreadable docker config (a directory) and a broken containers auth.json are skipped too", async () => {
    const home = fresh();
    mkdirSync(join(home, ".docker", "config.json"), { recursive: true });
    const xdg = fresh();
    const containers = write(join(xdg, "containers", "auth.json"), `{"auths": 5}`);
    const logger = memoryLogger();
    const kc = new DefaultKeychain({ env: { XDG_RUNTIME_DIR: xdg }, homeDir: home, logger });
    expect((await kc.forRegistry("ghcr.io")).source).toBe("anonymous");
    const files = logLines(logger.lines).filter((l) => l.level === "warn").map((l) => l.file);
    expect(files).toEqual([join(home, ".docker", "config.json"), containers]);
  });

  test("broken base64 in REGISTRY_AUTH_FILE: that entry is skipped with a warning naming file and key, never the value", async () => {
    const raf = write(join(fresh(), "auth.json"), authConfig({ "ghcr.io": { auth: "%%%notbase64%%%" }, "quay.io": { auth: b64("q:7") } }));
    const logger = memoryLogger();
    const kc = new DefaultKeychain({ env: { REGISTRY_AUTH_FILE: raf }, homeDir: fresh(), logger });
    expect((await kc.forRegistry("ghcr.io")).source).toBe("anonymous");
    expect((await kc.forRegistry("ghcr.io")).source).toBe("anonymous");
    expect((await kc.forRegistry("quay.io")).credential).toEqual(basic("q", "7"));
    const warnings = logLines(logger.lines).filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.error)).toContain(raf);
    expect(String(warnings[0]?.error)).toContain('"ghcr.io"');
    expect(logger.lines.join("\n")).not.toContain("notbase64");
  });

  test("service-account configs are used as given (DockerConfig type)", async () => {
    const config: DockerConfig = { auths: { "https://index.docker.io/v1/": { registrytoken: "rt" } } };
    const kc = new DefaultKeychain({
      env: {},
      homeDir: fresh(),
      serviceAccount: { dockerConfigs: async () => [{ name: "hub", config }] },
    });
    expect(await kc.forRegistry("docker.io")).toEqual({
      credential: { kind: "registryToken", token: "rt" },
      source: "default:serviceaccount:hub#https://index.docker.io/v1/",
    });
  });
});

describe("FileCredentials", () => {
  test("custom:PATH#KEY, anonymous when no entry, custom prefix", async () => {
    const file = write(join(fresh(), ".dockerconfigjson"), authConfig({ "http://localhost:5000/v2/": { auth: b64("c:d") } }));
    const fc = new FileCredentials(file);
    expect(await fc.forRegistry("localhost:5000")).toEqual({ credential: basic("c", "d"), source: `custom:${file}#http://localhost:5000/v2/` });
    expect((await fc.forRegistry("ghcr.io")).source).toBe("anonymous");
    expect((await new FileCredentials(file, { sourcePrefix: "docker-config" }).forRegistry("localhost:5000")).source).toBe(
      `docker-config:${file}#http://localhost:5000/v2/`,
    );
  });

  test("credential helpers in the custom file are not run (the kubelet would not either)", async () => {
    const file = write(join(fresh(), "cfg.json"), authConfig({}, { credsStore: "hang" }));
    expect((await new FileCredentials(file).forRegistry("ghcr.io")).source).toBe("anonymous");
  });

  test("a broken file stays an error (it was asked for): AUTH_CONFIG_INVALID naming the path", async () => {
    const file = write(join(fresh(), ".dockerconfigjson"), `{"auths":{"ghcr.io":{"auth":"${b64("c:d")}"}}`);
    const fc = new FileCredentials(file);
    for (let i = 0; i < 2; i++) {
      const e = await rejection(fc.forRegistry("ghcr.io"));
      expect(e.code).toBe("AUTH_CONFIG_INVALID");
      expect(e.message).toContain(file);
    }
    replace(file, authConfig({ "ghcr.io": { auth: b64("c:d") } }));
    expect((await fc.forRegistry("ghcr.io")).credential).toEqual(basic("c", "d"));
  });

  test("a missing file → AUTH_CONFIG_INVALID naming the path", async () => {
    const path = join(fresh(), "nope", ".dockerconfigjson");
    const e = await rejection(new FileCredentials(path).forRegistry("ghcr.io"));
    expect(e.code).toBe("AUTH_CONFIG_INVALID");
    expect(e.message).toContain(path);
  });

  test("a Kubernetes-style secret mount swapped through ..data symlink → new credentials", async () => {
    const mount = fresh();
    const v1 = join(mount, "..2024_01_01_v1");
    const v2 = join(mount, "..2024_01_02_v2");
    mkdirSync(v1);
    mkdirSync(v2);
    // Same size on purpose: the change must be seen through the inode, not the size.
    writeFileSync(join(v1, ".dockerconfigjson"), authConfig({ "ghcr.io": { auth: b64("v1:aaaa") } }));
    writeFileSync(join(v2, ".dockerconfigjson"), authConfig({ "ghcr.io": { auth: b64("v2:bbbb") } }));
    symlinkSync("..2024_01_01_v1", join(mount, "..data"));
    symlinkSync("..data/.dockerconfigjson", join(mount, ".dockerconfigjson"));
    const path = join(mount, ".dockerconfigjson");
    const fc = new FileCredentials(path);
    expect((await fc.forRegistry("ghcr.io")).credential).toEqual(basic("v1", "aaaa"));
    // Atomic swap as the kubelet does it: new symlink renamed over ..data.
    symlinkSync("..2024_01_02_v2", join(mount, "..data_tmp"));
    renameSync(join(mount, "..data_tmp"), join(mount, "..data"));
    rmSync(v1, { recursive: true });
    expect((await fc.forRegistry("ghcr.io")).credential).toEqual(basic("v2", "bbbb"));
    expect((await fc.forRegistry("ghcr.io")).source).toBe(`custom:${path}#ghcr.io`);
  });
});
