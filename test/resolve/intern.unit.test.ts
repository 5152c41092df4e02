import { describe, expect, test } from "../support/testing.ts";
import type { ImageMetadata } from "../../src/image/metadata.ts";
import { INTERN_MAX_ENTRIES, INTERN_MAX_LENGTH, Interner, internMetadata } from "../../src/resolve/intern.ts";

// A fresh copy of `s` (as JSON.parse of each registry answer makes), not the literal's instance.
const copy = (s: string): string => JSON.parse(JSON.stringify(s)) as string;

const record = (tag: string, digest = `sha256:${"a".repeat(64)}`): ImageMetadata => ({
  reference: copy(`r.example/fn:${tag}`),
  registry: copy("r.example"),
  repository: copy("fn"),
  digest: copy(digest),
  platformDigest: copy(digest),
  platform: copy("linux/amd64"),
  entrypoint: [copy("/fn")],
  configEntrypoint: [copy("/fn")],
  configCmd: null,
  mediaType: copy("application/vnd.oci.image.manifest.v1+json"),
});

describe("Interner", () => {
  test("equal strings, lists and records come back as one shared value", () => {
    const i = new Interner();
    const a = i.list(["/fn", "--x"]);
    expect(i.list([copy("/fn"), copy("--x")])).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(i.list(["/fn"])).not.toBe(a);
    const r = i.record({ strategy: "default", reason: "r", source: "s" });
    expect(i.record({ strategy: "default", reason: copy("r"), source: "s" })).toBe(r);
    expect(i.record({ strategy: "custom", reason: "r", source: "s" })).not.toBe(r);
    expect(i.string(copy("x"))).toBe(i.string(copy("x")));
  });

  test("bounded: values over the length limit are returned as given, the table starts over when full", () => {
    const i = new Interner();
    const long = ["x".repeat(INTERN_MAX_LENGTH)];
    expect(i.list(long)).toBe(long);
    const first = i.list(["v0"]);
    for (let n = 1; n < INTERN_MAX_ENTRIES; n++) i.list([`v${n}`]);
    expect(i.list(["v0"])).toBe(first);
    i.list(["one more"]);
    expect(i.list(["v0"])).not.toBe(first);
    expect(i.list(["v0"])).toEqual(["v0"]);
  });
});

describe("internMetadata", () => {
  test("records of many tags share their repeated values and keep their own reference, in place", () => {
    const i = new Interner();
    const a = record("a");
    const b = record("b");
    const ref = "r.example/fn:b";
    const same = internMetadata(b, ref, i);
    internMetadata(a, "r.example/fn:a", i);
    expect(same).toBe(b);
    for (const k of ["registry", "repository", "digest", "platform", "mediaType", "entrypoint", "configEntrypoint"] as const) {
      expect(a[k]).toBe(b[k]);
    }
    expect(b.platformDigest).toBe(b.digest);
    expect(b.reference).toBe(ref);
    expect(a.reference).toBe("r.example/fn:a");
    expect(b).toEqual(record("b"));
  });

  test("an index's platform digest stays its own value", () => {
    const i = new Interner();
    const m = record("a");
    m.platformDigest = `sha256:${"b".repeat(64)}`;
    internMetadata(m, m.reference, i);
    expect(m.platformDigest).toBe(`sha256:${"b".repeat(64)}`);
    expect(m.digest).toBe(`sha256:${"a".repeat(64)}`);
  });
});
