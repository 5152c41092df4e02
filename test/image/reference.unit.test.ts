import { describe, expect, test } from "../support/testing.ts";
import { RunnerError } from "../../src/errors.ts";
import {
  expandShortName,
  formatReference,
  type ImageReference,
  isLoopbackRegistry,
  parseReference,
  pinnedReference,
  registryHost,
} from "../../src/image/reference.ts";

const D = `sha256:${"a1".repeat(32)}`;
const HUB = "index.docker.io";

const valid: Array<[string, ImageReference]> = [
  ["ubuntu", { registry: HUB, repository: "library/ubuntu", tag: "latest" }],
  ["library/ubuntu", { registry: HUB, repository: "library/ubuntu", tag: "latest" }],
  ["docker.io/ubuntu", { registry: HUB, repository: "library/ubuntu", tag: "latest" }],
  ["docker.io/library/ubuntu", { registry: HUB, repository: "library/ubuntu", tag: "latest" }],
  ["index.docker.io/ubuntu", { registry: HUB, repository: "library/ubuntu", tag: "latest" }],
  ["index.docker.io/library/ubuntu:20.04", { registry: HUB, repository: "library/ubuntu", tag: "20.04" }],
  ["ubuntu:20.04", { registry: HUB, repository: "library/ubuntu", tag: "20.04" }],
  ["user/repo", { registry: HUB, repository: "user/repo", tag: "latest" }],
  ["docker.io/user/repo:v1", { registry: HUB, repository: "user/repo", tag: "v1" }],
  ["user/deep/path/repo", { registry: HUB, repository: "user/deep/path/repo", tag: "latest" }],
  // Only docker.io is an alias; other Hub host names are taken literally (ggcr).
  ["registry-1.docker.io/ubuntu", { registry: "registry-1.docker.io", repository: "ubuntu", tag: "latest" }],
  ["gcr.io/kpt-fn/set-namespace:v0.4.1", { registry: "gcr.io", repository: "kpt-fn/set-namespace", tag: "v0.4.1" }],
  [
    "ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1",
    { registry: "ghcr.io", repository: "kptdev/krm-functions-catalog/set-namespace", tag: "v0.4.1" },
  ],
  ["localhost/foo", { registry: "localhost", repository: "foo", tag: "latest" }],
  ["localhost/foo:bar", { registry: "localhost", repository: "foo", tag: "bar" }],
  ["localhost:5000/foo", { registry: "localhost:5000", repository: "foo", tag: "latest" }],
  ["localhost:5000/foo:bar", { registry: "localhost:5000", repository: "foo", tag: "bar" }],
  // Without a "/" the name is a Hub repository and ":5000" is its tag (ggcr).
  ["localhost", { registry: HUB, repository: "library/localhost", tag: "latest" }],
  ["localhost:5000", { registry: HUB, repository: "library/localhost", tag: "5000" }],
  ["127.0.0.1:5000/a/b/c:tag", { registry: "127.0.0.1:5000", repository: "a/b/c", tag: "tag" }],
  ["127.0.0.1/ab", { registry: "127.0.0.1", repository: "ab", tag: "latest" }],
  ["[::1]:5000/xy:y", { registry: "[::1]:5000", repository: "xy", tag: "y" }],
  ["[::1]/foo", { registry: "[::1]", repository: "foo", tag: "latest" }],
  ["[2001:db8::1]:443/ns/fn@" + D, { registry: "[2001:db8::1]:443", repository: "ns/fn", digest: D }],
  [`ubuntu@${D}`, { registry: HUB, repository: "library/ubuntu", digest: D }],
  [`repo@${D}`, { registry: HUB, repository: "library/repo", digest: D }],
  [`repo:tag@${D}`, { registry: HUB, repository: "library/repo", tag: "tag", digest: D }],
  [`gcr.io/kpt-fn/fn:v1@${D}`, { registry: "gcr.io", repository: "kpt-fn/fn", tag: "v1", digest: D }],
  [`localhost:5000/fn@${D}`, { registry: "localhost:5000", repository: "fn", digest: D }],
  ["registry.example.com/org/fn:v1.2.3", { registry: "registry.example.com", repository: "org/fn", tag: "v1.2.3" }],
  ["registry.example.com:443/org/fn", { registry: "registry.example.com:443", repository: "org/fn", tag: "latest" }],
  ["foo.bar/baz", { registry: "foo.bar", repository: "baz", tag: "latest" }],
  ["a.b.c/d/e/f/g:h", { registry: "a.b.c", repository: "d/e/f/g", tag: "h" }],
  ["my-registry:5000/ab", { registry: "my-registry:5000", repository: "ab", tag: "latest" }],
  // Hosts are case-insensitive: one spelling from parse time on.
  ["Registry.Example.COM/org/fn", { registry: "registry.example.com", repository: "org/fn", tag: "latest" }],
  ["LOCALHOST:5000/org/fn", { registry: "localhost:5000", repository: "org/fn", tag: "latest" }],
  ["example.com/a.b/c_d/e__f/g-h/i---j/k9", { registry: "example.com", repository: "a.b/c_d/e__f/g-h/i---j/k9", tag: "latest" }],
  ["ubuntu:TAG_1.2-rc.1", { registry: HUB, repository: "library/ubuntu", tag: "TAG_1.2-rc.1" }],
  ["ubuntu:_x", { registry: HUB, repository: "library/ubuntu", tag: "_x" }],
  ["ubuntu:x", { registry: HUB, repository: "library/ubuntu", tag: "x" }],
  [`ubuntu:${"t".repeat(128)}`, { registry: HUB, repository: "library/ubuntu", tag: "t".repeat(128) }],
  ["ab", { registry: HUB, repository: "library/ab", tag: "latest" }],
  // The whole name (registry included) is at most 255 characters.
  [`gcr.io/${"a".repeat(248)}`, { registry: "gcr.io", repository: "a".repeat(248), tag: "latest" }],
];

// [input, fragment the message must contain]
const invalid: Array<[string, string]> = [
  ["", "empty"],
  [" ", "whitespace"],
  [" ubuntu", "whitespace"],
  ["ubuntu ", "whitespace"],
  ["ubu ntu", "whitespace"],
  ["ubuntu\n", "whitespace"],
  ["gcr.io/foo\t:v1", "whitespace"],
  ["foo:bar:baz", "repository"],
  ["Upper/case", "lower-case"],
  ["ubuntU", "lower-case"],
  ["gcr.io/Kpt-fn/x", "lower-case"],
  ["ubuntu:", "tag must follow"],
  ["ubuntu::", "tag must follow"],
  ["gcr.io/foo:", "tag must follow"],
  ["localhost:5000/foo:", "tag must follow"],
  [`ubuntu:${"t".repeat(129)}`, "at most 128"],
  [`gcr.io/${"a".repeat(249)}`, "at most 255"],
  [`${"h".repeat(254)}.io/fn`, "longer than 253"],
  ["ubuntu:.tag", "must not start"],
  ["ubuntu:-tag", "must not start"],
  ["ubuntu:t+g", "[A-Za-z0-9_.-]"],
  ["ubuntu:ta/g", "port"],
  ["ubuntu:t@g", "digest algorithm"],
  [`ubuntu@sha512:${"a".repeat(128)}`, "digest algorithm"],
  [`ubuntu@sha256:${"A".repeat(64)}`, "64 lower-case hex"],
  [`ubuntu@sha256:${"a".repeat(63)}`, "64 lower-case hex"],
  [`ubuntu@sha256:${"a".repeat(65)}`, "64 lower-case hex"],
  ["ubuntu@sha256:", "64 lower-case hex"],
  ["ubuntu@sha256", "digest algorithm"],
  ["ubuntu@", "digest must follow"],
  [`@${D}`, "repository must precede"],
  [`ubuntu@${D}@${D}`, "more than one"],
  [`ubuntu@${D}:tag`, "64 lower-case hex"],
  [`:tag@${D}`, "repository name must be specified"],
  [":tag", "repository name must be specified"],
  ["foo//bar", "empty path component"],
  ["gcr.io//foo", "empty path component"],
  ["-foo", "must start and end"],
  ["foo-", "must start and end"],
  ["foo/", "empty path component"],
  ["/foo", "empty path component"],
  ["foo/-bar", "must start and end"],
  ["foo/_bar", "must start and end"],
  ["foo..bar", "must start and end"],
  ["foo___bar", "must start and end"],
  ["foo.-bar", "must start and end"],
  ["foo/.bar", "must start and end"],
  ["gcr.io/a", "at least 2"],
  ["a", "at least 2"],
  // ggcr's checkRepository also rejects one-character repositories behind a registry.
  ["[::1]:5000/x:y", "at least 2"],
  [`gcr.io/${"a".repeat(256)}`, "at most 255"],
  ["gcr.io/fo$o", "[a-z0-9_-./]"],
  ["gcr.io/föo", "[a-z0-9_-./]"],
  ["gcr.io:/foo", "invalid port"],
  ["gcr.io:http/foo", "invalid port"],
  ["gcr.io:99999/foo", "invalid port"],
  ["gcr..io/foo", "valid host name"],
  [".gcr.io/foo", "valid host name"],
  ["gcr.io./foo", "valid host name"],
  ["g$r.io/foo", "valid host name"],
  ["[::1/foo", "valid host[:port]"],
  ["[::1]x/foo", "valid host[:port]"],
  ["[zz::1]:5000/foo", "IPv6"],
  ["[]:5000/foo", "IPv6"],
  ["::1/foo", "brackets"],
  ["http://gcr.io/foo", "URL scheme"],
  ["https://gcr.io/foo:v1", "URL scheme"],
  ["oci://gcr.io/foo", "URL scheme"],
];

describe("parseReference", () => {
  test.each(valid)("parses %p", (input, want) => {
    expect(parseReference(input)).toStrictEqual(want);
  });

  test.each(invalid)("rejects %p", (input, fragment) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RunnerError);
    const re = err as RunnerError;
    expect(re.code).toBe("INVALID_REFERENCE");
    expect(re.retryable).toBe(false);
    // Caller text is echoed, but never more than 200 characters of it.
    expect(re.message).toContain(input.length <= 200 ? JSON.stringify(input) : JSON.stringify(`${input.slice(0, 200)}…`));
    expect(re.message).toContain(fragment);
  });

  test("no digest means no digest key, digest means no default tag", () => {
    expect("digest" in parseReference("ubuntu")).toBe(false);
    expect("tag" in parseReference(`ubuntu@${D}`)).toBe(false);
  });

  test.each(valid)("format/parse round-trips %p", (input) => {
    const ref = parseReference(input);
    const formatted = formatReference(ref);
    expect(parseReference(formatted)).toStrictEqual(ref);
    expect(formatReference(parseReference(formatted))).toBe(formatted);
  });
});

describe("formatReference", () => {
  test("full explicit forms", () => {
    expect(formatReference(parseReference("ubuntu"))).toBe("index.docker.io/library/ubuntu:latest");
    expect(formatReference(parseReference(`ubuntu@${D}`))).toBe(`index.docker.io/library/ubuntu@${D}`);
    expect(formatReference(parseReference(`gcr.io/a/b:v1@${D}`))).toBe(`gcr.io/a/b:v1@${D}`);
    expect(formatReference({ registry: "[::1]:5000", repository: "xy", tag: "y" })).toBe("[::1]:5000/xy:y");
    expect(formatReference({ registry: "r.io", repository: "x/y" })).toBe("r.io/x/y");
  });
});

describe("pinnedReference", () => {
  test("drops the tag and pins the digest", () => {
    expect(pinnedReference(parseReference("gcr.io/kpt-fn/fn:v1"), D)).toBe(`gcr.io/kpt-fn/fn@${D}`);
    expect(pinnedReference(parseReference(`ubuntu:1@sha256:${"0".repeat(64)}`), D)).toBe(`index.docker.io/library/ubuntu@${D}`);
  });
  test.each(["", "sha256:abc", `sha512:${"a".repeat(128)}`, D.toUpperCase(), `${D} `])("refuses digest %p", (digest) => {
    expect(() => pinnedReference(parseReference("gcr.io/a/b"), digest)).toThrow(RunnerError);
    try {
      pinnedReference(parseReference("gcr.io/a/b"), digest);
    } catch (e) {
      expect((e as RunnerError).code).toBe("INVALID_REFERENCE");
    }
  });
});

describe("expandShortName", () => {
  const P = "ghcr.io/kptdev/krm-functions-catalog/";
  test.each([
    ["set-namespace:v0.4.1", P, "ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1"],
    ["set-namespace", P, "ghcr.io/kptdev/krm-functions-catalog/set-namespace"],
    [`set-namespace@${D}`, P, `ghcr.io/kptdev/krm-functions-catalog/set-namespace@${D}`],
    ["set-namespace:v0.4.1", "ghcr.io/kptdev/krm-functions-catalog", "ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1"],
    ["set-namespace:v0.4.1", "gcr.io/kpt-fn/", "gcr.io/kpt-fn/set-namespace:v0.4.1"],
    ["gcr.io/kpt-fn/set-namespace:v0.4.1", P, "gcr.io/kpt-fn/set-namespace:v0.4.1"],
    ["library/ubuntu", P, "library/ubuntu"],
    ["localhost:5000/fn", P, "localhost:5000/fn"],
    ["set-namespace", "", "set-namespace"],
  ])("%p with %p", (image, prefix, want) => {
    expect(expandShortName(image, prefix)).toBe(want);
  });
});

describe("registryHost", () => {
  test.each([
    ["gcr.io", "gcr.io"],
    ["localhost", "localhost"],
    ["localhost:5000", "localhost"],
    ["127.0.0.1:5000", "127.0.0.1"],
    ["[::1]", "::1"],
    ["[::1]:5000", "::1"],
    ["::1", "::1"],
    ["[2001:db8::1]:443", "2001:db8::1"],
    ["Registry.Example.com:443", "Registry.Example.com"],
  ])("%p → %p", (registry, host) => {
    expect(registryHost(registry)).toBe(host);
  });
});

describe("isLoopbackRegistry", () => {
  test.each([
    ["localhost", true],
    ["localhost:5000", true],
    ["LocalHost:5000", true],
    ["127.0.0.1", true],
    ["127.0.0.1:5000", true],
    ["127.1.2.3:80", true],
    ["127.255.255.255", true],
    ["::1", true],
    ["[::1]", true],
    ["[::1]:5000", true],
    ["[0:0:0:0:0:0:0:1]:5000", true],
    ["127.256.0.1", false],
    ["127.0.0", false],
    ["128.0.0.1", false],
    ["10.0.0.1:5000", false],
    ["localhost.example.com", false],
    ["mylocalhost", false],
    ["[::2]:5000", false],
    ["::", false],
    ["gcr.io", false],
    ["index.docker.io", false],
    ["", false],
  ])("%p → %p", (registry, want) => {
    expect(isLoopbackRegistry(registry)).toBe(want);
  });
});
