import { describe, expect, test } from "../support/testing.ts";
import { RunnerError } from "../../src/errors.ts";
import { digestMatches, sha256Digest, verifyDigest } from "../../src/image/digest.ts";

const bytes = new TextEncoder().encode('{"schemaVersion":2}');
const content = { digest: sha256Digest(bytes), size: bytes.byteLength };
const other = sha256Digest(new TextEncoder().encode('{"schemaVersion":2} '));

describe("sha256Digest", () => {
  test("is sha256 over the exact bytes, prefixed", () => {
    // sha256("") is a well-known constant.
    expect(sha256Digest(new Uint8Array())).toBe("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(content.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(other).not.toBe(content.digest);
  });
});

describe("digestMatches", () => {
  test.each([
    ["same sha256", { digest: content.digest }, "refuse", true],
    ["same sha256 and size", { digest: content.digest, size: bytes.byteLength }, "refuse", true],
    ["other sha256", { digest: other }, "refuse", false],
    ["other sha256, trusting other algorithms", { digest: other }, "trust", false],
    ["same sha256, other size", { digest: content.digest, size: bytes.byteLength + 1 }, "refuse", false],
    ["same sha256, size 0", { digest: content.digest, size: 0 }, "trust", false],
    ["sha512, refused", { digest: `sha512:${"a".repeat(128)}` }, "refuse", false],
    ["sha512, trusted", { digest: `sha512:${"a".repeat(128)}` }, "trust", true],
    ["empty claim, refused", { digest: "" }, "refuse", false],
    ["upper-case hex is another digest", { digest: content.digest.toUpperCase().replace("SHA256:", "sha256:") }, "refuse", false],
  ] as const)("%s", (_name, expected, policy, want) => {
    expect(digestMatches(content, expected, policy)).toBe(want);
  });
});

describe("verifyDigest", () => {
  test("passes matching content without building the message", () => {
    let built = 0;
    verifyDigest(content, { digest: content.digest, size: content.size }, "refuse", () => `${++built}`);
    expect(built).toBe(0);
  });

  test("throws DIGEST_MISMATCH with the caller's message", () => {
    let caught: unknown;
    try {
      verifyDigest(content, { digest: other }, "trust", () => "manifest hashes to something else");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RunnerError);
    expect((caught as RunnerError).code).toBe("DIGEST_MISMATCH");
    expect((caught as RunnerError).message).toBe("manifest hashes to something else");
  });
});
