import { describe, expect, test } from "../support/testing.ts";
import {
  DOCKER_HUB_KEY,
  canonicalRegistry,
  credentialFromConfig,
  credentialHelperFor,
  credentialHelperSource,
  entryToCredential,
  helperServerURL,
  normaliseRegistryKey,
  parseDockerConfig,
  selectCredentials,
  selectKey,
} from "../../src/auth/docker-config.ts";
import { RunnerError } from "../../src/errors.ts";

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const FILE = "/tmp/conf/config.json";

/** Runs f, expects AUTH_CONFIG_INVALID, returns the message. */
function authInvalid(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RunnerError);
    expect((e as RunnerError).code).toBe("AUTH_CONFIG_INVALID");
    return (e as RunnerError).message;
  }
  throw new Error("expected AUTH_CONFIG_INVALID");
}

describe("normaliseRegistryKey", () => {
  test.each([
    ["ghcr.io", "ghcr.io"],
    ["https://ghcr.io", "ghcr.io"],
    ["https://ghcr.io/", "ghcr.io"],
    ["http://localhost:5000/v2/", "localhost:5000"],
    ["localhost:5000/v2/", "localhost:5000"],
    ["https://index.docker.io/v1/", "index.docker.io"],
    ["GHCR.IO", "ghcr.io"],
    ["quay.io/org/repo", "quay.io"],
    ["https://user@reg.example.com:8443/path", "reg.example.com:8443"],
    ["  ghcr.io  ", "ghcr.io"],
  ])("%s → %s", (input, want) => {
    expect(normaliseRegistryKey(input)).toBe(want);
  });

  test("canonicalRegistry maps every Hub alias to index.docker.io", () => {
    for (const r of ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"]) {
      expect(canonicalRegistry(r)).toBe("index.docker.io");
    }
    expect(canonicalRegistry("ghcr.io")).toBe("ghcr.io");
  });

  test("helperServerURL uses the Hub key for Docker Hub only", () => {
    expect(helperServerURL("index.docker.io")).toBe(DOCKER_HUB_KEY);
    expect(helperServerURL("docker.io")).toBe(DOCKER_HUB_KEY);
    expect(helperServerURL("ghcr.io")).toBe("ghcr.io");
    expect(helperServerURL("127.0.0.1:5000")).toBe("127.0.0.1:5000");
  });
});

describe("selectCredentials: key forms", () => {
  const entry = { auth: b64("u:p") };
  test.each([
    ["ghcr.io", "ghcr.io"],
    ["https://ghcr.io", "ghcr.io"],
    ["https://ghcr.io/", "ghcr.io"],
    ["http://ghcr.io", "ghcr.io"],
    ["ghcr.io/v2/", "ghcr.io"],
    ["http://localhost:5000/v2/", "localhost:5000"],
    ["https://localhost:5000", "localhost:5000"],
    ["127.0.0.1:5000", "127.0.0.1:5000"],
    ["http://127.0.0.1:5000/v2/", "127.0.0.1:5000"],
    ["GHCR.io", "ghcr.io"],
  ])("key %s serves %s", (key, registry) => {
    const got = selectCredentials({ auths: { [key]: entry } }, registry);
    expect(got).toEqual({ key, auth: entry.auth });
  });

  test.each([
    ["ghcr.io", "gcr.io"],
    ["localhost:5000", "localhost:5001"],
    ["localhost:5000", "localhost"],
    ["https://ghcr.io.evil.com", "ghcr.io"],
    ["evil.com/ghcr.io", "ghcr.io"],
    ["ghcr.io", "index.docker.io"],
  ])("key %s does not serve %s", (key, registry) => {
    expect(selectCredentials({ auths: { [key]: entry } }, registry)).toBeUndefined();
  });

  test("no auths, empty auths, non-object entries", () => {
    expect(selectCredentials({}, "ghcr.io")).toBeUndefined();
    expect(selectCredentials({ auths: {} }, "ghcr.io")).toBeUndefined();
    expect(selectCredentials({ auths: { "ghcr.io": "nope" } }, "ghcr.io")).toBeUndefined();
    expect(selectCredentials({ auths: { "ghcr.io": null, "https://ghcr.io": { username: "a" } } }, "ghcr.io")).toEqual({
      key: "https://ghcr.io",
      username: "a",
    });
  });

  test("returns a copy with the key, not the original entry", () => {
    const auths = { "ghcr.io": { auth: "x" } };
    const got = selectCredentials({ auths }, "ghcr.io");
    expect(got).toEqual({ key: "ghcr.io", auth: "x" });
    expect(auths["ghcr.io"]).toEqual({ auth: "x" });
  });
});

describe("selectCredentials: Docker Hub aliases", () => {
  const hubKeys = ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io", "https://registry-1.docker.io/v2/"];
  const hubRegistries = ["index.docker.io", "docker.io", "registry-1.docker.io"];
  for (const key of hubKeys) {
    for (const registry of hubRegistries) {
      test(`${key} serves ${registry}`, () => {
        expect(selectCredentials({ auths: { [key]: { auth: "a" } } }, registry)?.key).toBe(key);
      });
    }
  }

  test("the canonical key wins among aliases (JSON order irrelevant)", () => {
    const auths = { "docker.io": { a: 1 }, "registry-1.docker.io": { a: 2 }, "https://index.docker.io/v1/": { a: 3 } };
    expect(selectCredentials({ auths }, "index.docker.io")?.key).toBe("https://index.docker.io/v1/");
    expect(selectCredentials({ auths }, "docker.io")?.key).toBe("docker.io"); // exact first
    const reversed = Object.fromEntries(Object.entries(auths).reverse());
    expect(selectCredentials({ auths: reversed }, "index.docker.io")?.key).toBe("https://index.docker.io/v1/");
  });

  test("without the canonical key: asked host, then alias order", () => {
    expect(selectCredentials({ auths: { "registry-1.docker.io": {}, "docker.io": {} } }, "index.docker.io")?.key).toBe(
      "docker.io",
    );
    expect(
      selectCredentials({ auths: { "https://docker.io": {}, "https://registry-1.docker.io": {} } }, "registry-1.docker.io")
        ?.key,
    ).toBe("https://registry-1.docker.io");
  });

  test("a Hub key does not serve another registry", () => {
    expect(selectCredentials({ auths: { [DOCKER_HUB_KEY]: {} } }, "ghcr.io")).toBeUndefined();
  });
});

describe("selectCredentials: precedence among keys normalising equal", () => {
  test("exact key first, wherever it is", () => {
    const auths = { "https://ghcr.io": { n: 1 }, "ghcr.io/v2/": { n: 2 }, "ghcr.io": { n: 3 } };
    expect(selectCredentials({ auths }, "ghcr.io")).toEqual({ key: "ghcr.io", n: 3 });
  });

  test("bare host, then https, then other schemes; no path before path; then code-unit order", () => {
    const order = ["GHCR.IO", "ghcr.io/v2/", "https://ghcr.io", "https://ghcr.io/v2/", "http://ghcr.io", "http://ghcr.io/v2/"];
    // Every rotation of the JSON order gives the same answer.
    for (let i = 0; i < order.length; i++) {
      const rotated = [...order.slice(i), ...order.slice(0, i)];
      const auths = Object.fromEntries(rotated.map((k) => [k, {}]));
      expect(selectKey(Object.keys(auths), "ghcr.io")).toBe("GHCR.IO");
    }
    expect(selectKey(order.slice(1), "ghcr.io")).toBe("ghcr.io/v2/");
    expect(selectKey(order.slice(2), "ghcr.io")).toBe("https://ghcr.io");
    expect(selectKey(order.slice(3), "ghcr.io")).toBe("https://ghcr.io/v2/");
    expect(selectKey(order.slice(4), "ghcr.io")).toBe("http://ghcr.io");
    expect(selectKey(["https://ghcr.io/", "https://ghcr.io"], "ghcr.io")).toBe("https://ghcr.io");
  });

  test("the asked registry itself may carry a scheme", () => {
    expect(selectKey(["ghcr.io"], "https://ghcr.io/")).toBe("ghcr.io");
  });
});

describe("credentialHelperFor", () => {
  test("credHelpers with the same matching, else credsStore", () => {
    const config = {
      credHelpers: { "https://123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login", "gcr.io": "gcloud", "docker.io": "hub" },
      credsStore: "desktop",
    };
    expect(credentialHelperFor(config, "123.dkr.ecr.us-east-1.amazonaws.com")).toBe("ecr-login");
    expect(credentialHelperFor(config, "gcr.io")).toBe("gcloud");
    expect(credentialHelperFor(config, "index.docker.io")).toBe("hub");
    expect(credentialHelperFor(config, "ghcr.io")).toBe("desktop");
    expect(credentialHelperSource(config, "ghcr.io")).toEqual({ name: "desktop", from: "credsStore" });
    expect(credentialHelperSource(config, "gcr.io")).toEqual({ name: "gcloud", from: "credHelpers" });
    expect(credentialHelperFor({}, "ghcr.io")).toBeUndefined();
    expect(credentialHelperFor({ credsStore: "" }, "ghcr.io")).toBeUndefined();
    expect(credentialHelperFor({ credHelpers: { "ghcr.io": "" }, credsStore: "s" }, "ghcr.io")).toBe("s");
  });
});

describe("entryToCredential", () => {
  test("auth = base64 user:password", () => {
    expect(entryToCredential({ auth: b64("alice:s3cret") }, FILE, "ghcr.io")).toEqual({
      kind: "basic",
      username: "alice",
      password: "s3cret",
    });
  });

  test("password containing ':' and non-ASCII", () => {
    expect(entryToCredential({ auth: b64("bob:pa:ss:wörd") }, FILE, "k")).toEqual({
      kind: "basic",
      username: "bob",
      password: "pa:ss:wörd",
    });
  });

  test("auth without padding and with a line break is accepted", () => {
    const v = b64("ab:c").replace(/=+$/, "");
    expect(entryToCredential({ auth: v }, FILE, "k")).toEqual({ kind: "basic", username: "ab", password: "c" });
    const wrapped = b64("user:" + "p".repeat(80)).replace(/(.{60})/, "$1\n");
    expect(entryToCredential({ auth: wrapped }, FILE, "k")).toEqual({ kind: "basic", username: "user", password: "p".repeat(80) });
  });

  test("auth overrides username/password (Docker decodes it over them)", () => {
    expect(entryToCredential({ auth: b64("a:b"), username: "x", password: "y" }, FILE, "k")).toEqual({
      kind: "basic",
      username: "a",
      password: "b",
    });
  });

  test("username/password", () => {
    expect(entryToCredential({ username: "u", password: "p", email: "e@x" }, FILE, "k")).toEqual({
      kind: "basic",
      username: "u",
      password: "p",
    });
  });

  test("identitytoken, with and without a user name", () => {
    expect(entryToCredential({ identitytoken: "rt" }, FILE, "k")).toEqual({ kind: "identityToken", token: "rt" });
    expect(entryToCredential({ identitytoken: "rt", username: "u" }, FILE, "k")).toEqual({
      kind: "identityToken",
      token: "rt",
      username: "u",
    });
    expect(entryToCredential({ identitytoken: "rt", auth: b64("u2:ignored") }, FILE, "k")).toEqual({
      kind: "identityToken",
      token: "rt",
      username: "u2",
    });
  });

  test("registrytoken wins over everything", () => {
    expect(entryToCredential({ registrytoken: "bt", identitytoken: "rt", auth: b64("a:b") }, FILE, "k")).toEqual({
      kind: "registryToken",
      token: "bt",
    });
  });

  test("nothing usable → undefined (falls through to the next source)", () => {
    expect(entryToCredential({}, FILE, "k")).toBeUndefined();
    expect(entryToCredential({ auth: "", email: "x@y" }, FILE, "k")).toBeUndefined();
    expect(entryToCredential({ key: "k" }, FILE, "k")).toBeUndefined(); // selectCredentials adds `key`
    expect(entryToCredential({ unknownField: 1 }, FILE, "k")).toBeUndefined();
  });

  test("selectCredentials output feeds entryToCredential", () => {
    const sel = selectCredentials({ auths: { "https://ghcr.io": { auth: b64("a:b") } } }, "ghcr.io");
    expect(sel).toBeDefined();
    if (sel === undefined) return;
    expect(entryToCredential(sel, FILE, sel.key)).toEqual({ kind: "basic", username: "a", password: "b" });
    expect(credentialFromConfig({ auths: { "https://ghcr.io": { auth: b64("a:b") } } }, "ghcr.io", FILE)).toEqual({
      key: "https://ghcr.io",
      credential: { kind: "basic", username: "a", password: "b" },
    });
    expect(credentialFromConfig({ auths: { "ghcr.io": {} } }, "ghcr.io", FILE)).toBeUndefined();
  });

  const PASSWORD = "Sup3rS3cretPassw0rdValue";
  const brokenCases: Array<[string, Record<string, unknown>, string]> = [
    ["not base64", { auth: "!!" + PASSWORD + "!!" }, "not base64"],
    ["base64 of a value without ':'", { auth: b64("user" + PASSWORD) }, "user:password"],
    ["base64 of invalid UTF-8", { auth: Buffer.from([0xff, 0xfe, 0x3a, 0x41]).toString("base64") }, "UTF-8"],
    ["length 1 mod 4", { auth: "QUJDR" }, "not base64"],
    ["username without password", { username: PASSWORD }, "no password"],
    ["password without username", { password: PASSWORD }, "no username"],
    ["auth not a string", { auth: 12345 }, "field auth"],
    ["password not a string", { username: "u", password: { v: PASSWORD } }, "field password"],
  ];
  for (const [name, entry, fragment] of brokenCases) {
    test(`broken entry: ${name} → AUTH_CONFIG_INVALID naming file and key, no secret`, () => {
      const msg = authInvalid(() => entryToCredential(entry, FILE, "ghcr.io"));
      expect(msg).toContain(FILE);
      expect(msg).toContain('"ghcr.io"');
      expect(msg).toContain(fragment);
      expect(msg).not.toContain(PASSWORD);
      if (typeof entry.auth === "string") expect(msg).not.toContain(entry.auth);
    });
  }
});

describe("parseDockerConfig", () => {
  test("full config with unknown fields tolerated", () => {
    const text = JSON.stringify({
      auths: {
        "ghcr.io": { auth: b64("u:p"), email: "x@y", extra: true },
        "https://index.docker.io/v1/": { identitytoken: "t" },
      },
      credHelpers: { "gcr.io": "gcloud" },
      credsStore: "desktop",
      HttpHeaders: { "User-Agent": "x" },
      currentContext: "default",
    });
    const c = parseDockerConfig(text, FILE);
    expect(c.credsStore).toBe("desktop");
    expect(c.credHelpers).toEqual({ "gcr.io": "gcloud" });
    expect(Object.keys(c.auths ?? {})).toEqual(["ghcr.io", "https://index.docker.io/v1/"]);
    expect(credentialFromConfig(c, "docker.io", FILE)?.credential).toEqual({ kind: "identityToken", token: "t" });
  });

  test("empty file and {} are empty configs; null maps are absent", () => {
    expect(parseDockerConfig("", FILE)).toEqual({});
    expect(parseDockerConfig("  \n", FILE)).toEqual({});
    expect(parseDockerConfig("{}", FILE).auths).toBeUndefined();
    const c = parseDockerConfig('{"auths":null,"credHelpers":null}', FILE);
    expect(c.auths).toBeUndefined();
    expect(c.credHelpers).toBeUndefined();
  });

  const SECRET = "c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw==";
  test.each([
    ["broken JSON", `{"auths": {"ghcr.io": {"auth": "${SECRET}"}`, "not valid JSON", undefined],
    ["trailing garbage", `{"auths": {}} ${SECRET}`, "not valid JSON", undefined],
    ["array at top", `["${SECRET}"]`, "top level", undefined],
    ["auths not an object", `{"auths": "${SECRET}"}`, "auths", undefined],
    ["entry not an object", `{"auths": {"ghcr.io": "${SECRET}"}}`, "not an object", "ghcr.io"],
    ["entry auth not a string", `{"auths": {"ghcr.io": {"auth": ["${SECRET}"]}}}`, "field auth", "ghcr.io"],
    ["credHelpers value not a string", `{"credHelpers": {"gcr.io": ["${SECRET}"]}}`, "credHelpers", undefined],
    ["credsStore not a string", `{"credsStore": {"x": "${SECRET}"}}`, "credsStore", undefined],
  ])("%s → AUTH_CONFIG_INVALID without the value", (_name, text, fragment, key) => {
    const msg = authInvalid(() => parseDockerConfig(text, FILE));
    expect(msg).toContain(FILE);
    expect(msg).toContain(fragment);
    if (key !== undefined) expect(msg).toContain(`"${key}"`);
    expect(msg).not.toContain(SECRET);
    expect(msg).not.toContain("secret-value");
  });

  test("a key carrying user info is not echoed", () => {
    const msg = authInvalid(() => parseDockerConfig('{"auths": {"https://bob:hunter2@reg.io": 5}}', FILE));
    expect(msg).not.toContain("hunter2");
    expect(msg).toContain("reg.io");
  });
});
