import { describe, expect, test } from "../support/testing.ts";
import { createHash } from "node:crypto";
import { RunnerError } from "../../src/errors.ts";
import { DOCKER_CONFIG, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED, type Descriptor, extractEntrypoint, ImageConfig, type ImageIndex, isAttestation, isImageMediaType, isIndexMediaType, MANIFEST_ACCEPT, normaliseMediaType, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, parseImageConfig, selectPlatform, classifyManifest } from "../../src/image/manifest.ts";
import { sha256Digest } from "../../src/image/digest.ts";
import { formatPlatform, parsePlatform, platformServes, type Platform } from "../../src/image/platform.ts";

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const dg = (c: string): string => `sha256:${c.repeat(64)}`;

const catchErr = (fn: () => unknown): RunnerError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RunnerError);
    return e as RunnerError;
  }
  throw new Error("expected a RunnerError");
};

const desc = (mediaType: string, c = "a", extra: Partial<Descriptor> = {}): Descriptor => ({ mediaType, digest: dg(c), size: 123, ...extra });
const ociImage = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc(OCI_CONFIG), layers: [desc("application/vnd.oci.image.layer.v1.tar+gzip", "b")] };
const dockerImage = { schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: desc(DOCKER_CONFIG), layers: [desc("application/vnd.docker.image.rootfs.diff.tar.gzip", "b")] };
const plat = (os: string, architecture: string, variant?: string): Descriptor["platform"] =>
  variant === undefined ? { os, architecture } : { os, architecture, variant };
const ociIndex = {
  schemaVersion: 2,
  mediaType: OCI_INDEX,
  manifests: [desc(OCI_MANIFEST, "1", { platform: plat("linux", "amd64") }), desc(OCI_MANIFEST, "2", { platform: plat("linux", "arm64", "v8") })],
};
const dockerList = { ...ociIndex, mediaType: DOCKER_MANIFEST_LIST, manifests: ociIndex.manifests.map((m) => ({ ...m, mediaType: DOCKER_MANIFEST })) };

describe("media types", () => {
  test("constants", () => {
    expect(OCI_MANIFEST).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(OCI_INDEX).toBe("application/vnd.oci.image.index.v1+json");
    expect(DOCKER_MANIFEST).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(DOCKER_MANIFEST_LIST).toBe("application/vnd.docker.distribution.manifest.list.v2+json");
    expect(DOCKER_SCHEMA1).toBe("application/vnd.docker.distribution.manifest.v1+json");
    expect(DOCKER_SCHEMA1_SIGNED).toBe("application/vnd.docker.distribution.manifest.v1+prettyjws");
    expect(OCI_CONFIG).toBe("application/vnd.oci.image.config.v1+json");
    expect(DOCKER_CONFIG).toBe("application/vnd.docker.container.image.v1+json");
  });
  test("MANIFEST_ACCEPT lists exactly the four supported types", () => {
    const types = MANIFEST_ACCEPT.split(",").map((t) => t.trim());
    expect(types.sort()).toEqual([DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST].sort());
  });
  test("normaliseMediaType and predicates", () => {
    expect(normaliseMediaType(" Application/VND.oci.image.index.v1+json ; charset=utf-8")).toBe(OCI_INDEX);
    expect(isIndexMediaType(OCI_INDEX)).toBe(true);
    expect(isIndexMediaType(`${DOCKER_MANIFEST_LIST}; x=y`)).toBe(true);
    expect(isIndexMediaType(OCI_MANIFEST)).toBe(false);
    expect(isImageMediaType(DOCKER_MANIFEST)).toBe(true);
    expect(isImageMediaType(DOCKER_SCHEMA1)).toBe(false);
  });
});

describe("classifyManifest", () => {
  test.each<[string, unknown, string | undefined, "index" | "image", string]>([
    ["OCI image by Content-Type", ociImage, OCI_MANIFEST, "image", OCI_MANIFEST],
    ["Docker image by Content-Type", dockerImage, DOCKER_MANIFEST, "image", DOCKER_MANIFEST],
    ["OCI index by Content-Type", ociIndex, OCI_INDEX, "index", OCI_INDEX],
    ["Docker list by Content-Type", dockerList, DOCKER_MANIFEST_LIST, "index", DOCKER_MANIFEST_LIST],
    ["Content-Type parameters ignored", ociImage, `${OCI_MANIFEST}; charset=utf-8`, "image", OCI_MANIFEST],
    ["Content-Type case-insensitive", dockerList, DOCKER_MANIFEST_LIST.toUpperCase(), "index", DOCKER_MANIFEST_LIST],
    ["missing Content-Type → body mediaType", dockerImage, undefined, "image", DOCKER_MANIFEST],
    ["empty Content-Type → body mediaType", dockerList, "", "index", DOCKER_MANIFEST_LIST],
    ["application/json → body mediaType", ociIndex, "application/json", "index", OCI_INDEX],
    ["application/json; charset → body mediaType", ociIndex, "application/json; charset=utf-8", "index", OCI_INDEX],
    ["octet-stream → body mediaType", dockerImage, "application/octet-stream", "image", DOCKER_MANIFEST],
    ["text/plain → body mediaType", dockerImage, "text/plain", "image", DOCKER_MANIFEST],
    ["no mediaType anywhere, manifests → OCI index", { schemaVersion: 2, manifests: [] }, undefined, "index", OCI_INDEX],
    ["no mediaType anywhere, config+layers → OCI image", { schemaVersion: 2, config: desc(OCI_CONFIG), layers: [] }, "application/json", "image", OCI_MANIFEST],
    ["body without mediaType under a specific header", { schemaVersion: 2, manifests: [] }, OCI_INDEX, "index", OCI_INDEX],
    ["body mediaType of the same kind, different family", ociImage, DOCKER_MANIFEST, "image", DOCKER_MANIFEST],
    ["body mediaType empty string", { ...ociImage, mediaType: "" }, OCI_MANIFEST, "image", OCI_MANIFEST],
  ])("%s", (_name, body, contentType, kind, mediaType) => {
    const got = classifyManifest(enc(body), contentType);
    expect(got.kind).toBe(kind);
    expect(got.mediaType).toBe(mediaType);
  });

  test("returns the parsed document and strips unknown fields", () => {
    const body = { ...ociIndex, extra: true, manifests: [{ ...ociIndex.manifests[0], "x-vendor": 1 }] };
    const got = classifyManifest(enc(body), OCI_INDEX);
    if (got.kind !== "index") throw new Error("expected an index");
    expect(got.index.manifests).toHaveLength(1);
    expect(got.index.manifests[0]?.platform).toEqual({ os: "linux", architecture: "amd64" });
    expect("extra" in got.index).toBe(false);
    expect("x-vendor" in (got.index.manifests[0] ?? {})).toBe(false);
  });

  test("keeps annotations, urls, subject, artifactType", () => {
    const body = {
      ...ociImage,
      annotations: { "org.opencontainers.image.source": "https://x" },
      subject: desc(OCI_MANIFEST, "c"),
      artifactType: "application/x",
      layers: [desc("l", "d", { urls: ["https://u"] })],
    };
    const got = classifyManifest(enc(body), OCI_MANIFEST);
    if (got.kind !== "image") throw new Error("expected an image");
    expect(got.manifest.annotations).toEqual({ "org.opencontainers.image.source": "https://x" });
    expect(got.manifest.subject?.digest).toBe(dg("c"));
    expect(got.manifest.artifactType).toBe("application/x");
    expect(got.manifest.layers[0]?.urls).toEqual(["https://u"]);
    expect(got.manifest.config.digest).toBe(dg("a"));
  });

  test.each<[string, unknown, string | undefined, string]>([
    ["schema1 by Content-Type", { schemaVersion: 1, name: "x", tag: "y", fsLayers: [] }, DOCKER_SCHEMA1, "schema 1"],
    ["signed schema1 by Content-Type", { schemaVersion: 1, signatures: [] }, DOCKER_SCHEMA1_SIGNED, "schema 1"],
    ["schema1 with garbage body still named", "not json", DOCKER_SCHEMA1_SIGNED, "schema 1"],
    ["schema1 by body mediaType", { schemaVersion: 1, mediaType: DOCKER_SCHEMA1 }, "application/json", "schema 1"],
    ["schema1 by schemaVersion", { schemaVersion: 1, name: "x", fsLayers: [] }, undefined, "schema 1"],
    ["unknown Content-Type", ociImage, "text/html", '"text/html"'],
    ["OCI artifact manifest", { mediaType: "application/vnd.oci.artifact.manifest.v1+json" }, "application/vnd.oci.artifact.manifest.v1+json", "is not one of"],
    ["unknown body mediaType", { mediaType: "application/x-foo" }, undefined, '"application/x-foo"'],
    ["invalid JSON", "{not json", OCI_MANIFEST, "not valid JSON"],
    ["empty body", "", OCI_MANIFEST, "not valid JSON"],
    ["JSON array", [], OCI_MANIFEST, "not a JSON object"],
    ["JSON null", null, undefined, "not a JSON object"],
    ["no clue at all", { schemaVersion: 2 }, undefined, "neither an index nor an image manifest"],
    ["header image, body index", ociIndex, OCI_MANIFEST, "contradicts"],
    ["header index, body image", dockerImage, DOCKER_MANIFEST_LIST, "contradicts"],
    ["header image, body unknown type", { ...ociImage, mediaType: "application/x-foo" }, OCI_MANIFEST, "contradicts"],
    ["image without layers", { schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc(OCI_CONFIG) }, OCI_MANIFEST, "does not match the application/vnd.oci.image.manifest.v1+json schema: layers"],
    ["image without config", { schemaVersion: 2, layers: [] }, DOCKER_MANIFEST, "config"],
    ["index without manifests", { schemaVersion: 2, mediaType: OCI_INDEX }, OCI_INDEX, "manifests"],
    ["wrong schemaVersion", { ...ociIndex, schemaVersion: 3 }, OCI_INDEX, "schemaVersion"],
    ["bad descriptor digest", { ...ociImage, config: { ...desc(OCI_CONFIG), digest: "nope" } }, OCI_MANIFEST, "config.digest"],
    ["negative size", { ...ociImage, config: { ...desc(OCI_CONFIG), size: -1 } }, OCI_MANIFEST, "config.size"],
    ["descriptor without mediaType", { ...ociIndex, manifests: [{ digest: dg("1"), size: 1 }] }, OCI_INDEX, "manifests.0.mediaType"],
    ["platform without os", { ...ociIndex, manifests: [desc(OCI_MANIFEST, "1", { platform: { architecture: "amd64" } as Descriptor["platform"] })] }, OCI_INDEX, "platform.os"],
  ])("rejects %s", (_name, body, contentType, fragment) => {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : enc(body);
    const err = catchErr(() => classifyManifest(bytes, contentType, "gcr.io/x/y:v1"));
    expect(err.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(fragment);
    expect(err.message).toContain("gcr.io/x/y:v1");
  });

  test("invalid UTF-8 is rejected, not replaced", () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]);
    expect(catchErr(() => classifyManifest(bytes, OCI_MANIFEST)).message).toContain("not valid JSON");
  });

  test("schema issues are summarised", () => {
    const body = { schemaVersion: 3, mediaType: OCI_MANIFEST, config: 1, layers: 2, annotations: 3 };
    const err = catchErr(() => classifyManifest(enc(body), undefined));
    expect(err.message).toMatch(/\(\+\d+ more\)/);
  });
});

describe("parseImageConfig", () => {
  test("an invalid UTF-8 byte in a config is replaced (U+FFFD), not refused: the image stays resolvable", () => {
    const text = JSON.stringify({ config: { Entrypoint: ["/fn"], Cmd: ["--note", "X"] } });
    const bytes = new TextEncoder().encode(text);
    bytes[text.indexOf("X")] = 0xff;
    const cfg = parseImageConfig(bytes);
    expect(cfg.config?.Entrypoint).toEqual(["/fn"]);
    expect(cfg.config?.Cmd).toEqual(["--note", "\uFFFD"]);
  });

  test("parses and tolerates unknown fields, null Entrypoint/Cmd", () => {
    const cfg = parseImageConfig(
      enc({ architecture: "amd64", os: "linux", rootfs: { type: "layers" }, history: [], config: { Entrypoint: null, Cmd: ["/fn"], Labels: { a: "b" } } }),
    );
    expect(cfg.config?.Entrypoint).toBeNull();
    expect(cfg.config?.Cmd).toEqual(["/fn"]);
    expect(cfg.os).toBe("linux");
  });
  test("config may be absent or null", () => {
    expect(parseImageConfig(enc({})).config).toBeUndefined();
    expect(parseImageConfig(enc({ config: null })).config).toBeNull();
  });
  test.each<[string, string]>([
    ["{", "not valid JSON"],
    [JSON.stringify({ config: { Entrypoint: "sh -c x" } }), "config.Entrypoint"],
    [JSON.stringify({ config: { Cmd: [1] } }), "config.Cmd"],
    [JSON.stringify([]), "schema"],
  ])("rejects %p", (text, fragment) => {
    const err = catchErr(() => parseImageConfig(new TextEncoder().encode(text), "img"));
    expect(err.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(err.message).toContain(fragment);
    expect(err.message).toContain("img");
  });
});

describe("parsePlatform / formatPlatform", () => {
  test.each<[string, Platform]>([
    ["linux/amd64", { os: "linux", architecture: "amd64" }],
    // containerd: v8 is arm64's default, so it is dropped; arm's default v7 is spelled out.
    ["linux/arm64/v8", { os: "linux", architecture: "arm64" }],
    ["linux/arm64/8", { os: "linux", architecture: "arm64" }],
    ["linux/arm64/v9.0", { os: "linux", architecture: "arm64", variant: "v9" }],
    ["linux/arm", { os: "linux", architecture: "arm", variant: "v7" }],
    ["linux/amd64/v1", { os: "linux", architecture: "amd64" }],
    ["linux/amd64/v3", { os: "linux", architecture: "amd64", variant: "v3" }],
    ["macos/arm64", { os: "darwin", architecture: "arm64" }],
    ["linux/arm/v7", { os: "linux", architecture: "arm", variant: "v7" }],
    ["Linux/AMD64", { os: "linux", architecture: "amd64" }],
    ["linux/x86_64", { os: "linux", architecture: "amd64" }],
    ["linux/x86-64", { os: "linux", architecture: "amd64" }],
    ["linux/aarch64", { os: "linux", architecture: "arm64" }],
    ["linux/armhf", { os: "linux", architecture: "arm", variant: "v7" }],
    ["linux/armel", { os: "linux", architecture: "arm", variant: "v6" }],
    ["linux/i386", { os: "linux", architecture: "386" }],
    ["windows/amd64", { os: "windows", architecture: "amd64" }],
    ["linux/ppc64le", { os: "linux", architecture: "ppc64le" }],
    ["linux/s390x", { os: "linux", architecture: "s390x" }],
  ])("%p", (input, want) => {
    expect(parsePlatform(input)).toStrictEqual(want);
  });

  test.each(["", "linux", "linux/", "/amd64", "linux//v8", "linux/arm64/v8/x", "linux/amd 64", " linux/amd64", "linux/amd64/", "linux/am$d64", "linux/-amd64"])(
    "rejects %p",
    (input) => {
      const err = catchErr(() => parsePlatform(input));
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toContain(JSON.stringify(input));
    },
  );

  test("format", () => {
    expect(formatPlatform({ os: "linux", architecture: "amd64" })).toBe("linux/amd64");
    // One spelling everywhere: every way of writing arm64 v8 formats the same.
    for (const p of [{ os: "linux", architecture: "arm64", variant: "v8" }, { os: "Linux", architecture: "aarch64" }, { os: "linux", architecture: "arm64", variant: "8" }]) {
      expect(formatPlatform(p)).toBe("linux/arm64");
    }
    expect(formatPlatform({ os: "linux", architecture: "arm64", variant: "" })).toBe("linux/arm64");
    for (const s of ["linux/amd64", "linux/arm/v6", "linux/arm/v7", "windows/arm64", "linux/amd64/v3"]) expect(formatPlatform(parsePlatform(s))).toBe(s);
  });

  test("refuses long input without echoing it", () => {
    const err = catchErr(() => parsePlatform(`linux/${"a".repeat(5_000_000)}`));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message.length).toBeLessThan(300);
  });

  test("platformServes: normalised os/arch, the variant only when one is asked", () => {
    expect(platformServes(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "aarch64" })).toBe(true);
    expect(platformServes(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64", variant: "v3" })).toBe(true);
    expect(platformServes(parsePlatform("linux/arm64"), { os: "linux", architecture: "amd64" })).toBe(false);
    expect(platformServes(parsePlatform("linux/arm/v6"), { os: "linux", architecture: "arm" })).toBe(false);
    expect(platformServes(parsePlatform("windows/amd64"), { os: "linux", architecture: "amd64" })).toBe(false);
  });
});

describe("selectPlatform", () => {
  const entry = (c: string, os: string, arch: string, variant?: string, annotations?: Record<string, string>): Descriptor =>
    desc(OCI_MANIFEST, c, annotations === undefined ? { platform: plat(os, arch, variant) } : { platform: plat(os, arch, variant), annotations });
  const index = (...manifests: Descriptor[]): ImageIndex => ({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  const attest = (c: string): Descriptor => entry(c, "unknown", "unknown", undefined, { "vnd.docker.reference.type": "attestation-manifest" });

  const multi = index(
    entry("1", "linux", "amd64"),
    entry("2", "linux", "arm64", "v8"),
    entry("3", "linux", "arm", "v6"),
    entry("4", "linux", "arm", "v7"),
    entry("5", "windows", "amd64"),
    attest("6"),
    attest("7"),
  );

  test.each<[string, Platform, string]>([
    ["amd64", { os: "linux", architecture: "amd64" }, "1"],
    ["arm64 without variant", { os: "linux", architecture: "arm64" }, "2"],
    ["arm64/v8", { os: "linux", architecture: "arm64", variant: "v8" }, "2"],
    ["arm without variant takes the first arm", { os: "linux", architecture: "arm" }, "3"],
    ["arm/v7", { os: "linux", architecture: "arm", variant: "v7" }, "4"],
    ["arm/v6", { os: "linux", architecture: "arm", variant: "v6" }, "3"],
    ["windows", { os: "windows", architecture: "amd64" }, "5"],
    ["aliases on the wanted side", { os: "Linux", architecture: "aarch64" }, "2"],
    ["numeric variant", { os: "linux", architecture: "arm", variant: "7" }, "4"],
  ])("%s", (_name, want, c) => {
    expect(selectPlatform(multi, want).digest).toBe(dg(c));
  });

  test("the first exact match wins", () => {
    expect(selectPlatform(index(entry("1", "linux", "amd64"), entry("2", "linux", "amd64")), { os: "linux", architecture: "amd64" }).digest).toBe(dg("1"));
  });

  test("implied variants: arm64 ≡ v8, arm ≡ v7, amd64 ≡ v1", () => {
    const idx = index(entry("1", "linux", "arm64"), entry("2", "linux", "arm"), entry("3", "linux", "amd64"));
    expect(selectPlatform(idx, { os: "linux", architecture: "arm64", variant: "v8" }).digest).toBe(dg("1"));
    expect(selectPlatform(idx, { os: "linux", architecture: "arm", variant: "v7" }).digest).toBe(dg("2"));
    expect(selectPlatform(idx, { os: "linux", architecture: "amd64", variant: "v1" }).digest).toBe(dg("3"));
    expect(() => selectPlatform(idx, { os: "linux", architecture: "arm", variant: "v6" })).toThrow(RunnerError);
    expect(() => selectPlatform(idx, { os: "linux", architecture: "amd64", variant: "v2" })).toThrow(RunnerError);
    // index entries spelled "8" match v8
    expect(selectPlatform(index(entry("9", "linux", "arm64", "8")), { os: "linux", architecture: "arm64", variant: "v8" }).digest).toBe(dg("9"));
  });

  test("variant on the index side is ignored when none is wanted", () => {
    expect(selectPlatform(index(entry("1", "linux", "amd64", "v3")), { os: "linux", architecture: "amd64" }).digest).toBe(dg("1"));
  });

  test("skips attestations, also without the annotation or with a real-looking platform", () => {
    const idx = index(
      desc(OCI_MANIFEST, "1", { platform: plat("unknown", "unknown") }),
      entry("2", "linux", "amd64", undefined, { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": dg("3") }),
      entry("3", "linux", "amd64"),
    );
    expect(selectPlatform(idx, { os: "linux", architecture: "amd64" }).digest).toBe(dg("3"));
    expect(isAttestation(idx.manifests[0] as Descriptor)).toBe(true);
    expect(isAttestation(idx.manifests[1] as Descriptor)).toBe(true);
    expect(isAttestation(idx.manifests[2] as Descriptor)).toBe(false);
  });

  test("entries without a platform never match", () => {
    const idx = index(desc(OCI_MANIFEST, "1"), entry("2", "linux", "amd64"));
    expect(selectPlatform(idx, { os: "linux", architecture: "amd64" }).digest).toBe(dg("2"));
  });

  test("no match lists the available platforms, without attestations", () => {
    const err = catchErr(() => selectPlatform(multi, { os: "linux", architecture: "s390x" }, "gcr.io/a/b:v1"));
    expect(err.code).toBe("NO_MATCHING_PLATFORM");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain("linux/s390x");
    expect(err.message).toContain("gcr.io/a/b:v1");
    expect(err.message).toContain("available: linux/amd64, linux/arm64, linux/arm/v6, linux/arm/v7, windows/amd64");
    expect(err.message).not.toContain("unknown");
  });

  test("no match in an empty or attestation-only index says none", () => {
    expect(catchErr(() => selectPlatform(index(), { os: "linux", architecture: "amd64" })).message).toContain("available: none");
    expect(catchErr(() => selectPlatform(index(attest("1")), { os: "linux", architecture: "amd64" })).message).toContain("available: none");
    expect(catchErr(() => selectPlatform(index(desc(OCI_MANIFEST, "1")), { os: "linux", architecture: "amd64" })).message).toContain(
      "(no platform)",
    );
  });

  test("wrong os does not match", () => {
    const err = catchErr(() => selectPlatform(index(entry("5", "windows", "amd64")), { os: "linux", architecture: "amd64" }));
    expect(err.code).toBe("NO_MATCHING_PLATFORM");
  });
});

describe("sha256Digest", () => {
  test("known vectors", () => {
    expect(sha256Digest(new Uint8Array())).toBe("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Digest(new TextEncoder().encode("abc"))).toBe("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
  test("over the exact bytes (whitespace matters)", () => {
    const a = enc(ociImage);
    const b = new TextEncoder().encode(JSON.stringify(ociImage, null, 2));
    expect(sha256Digest(a)).not.toBe(sha256Digest(b));
    expect(sha256Digest(a)).toBe(`sha256:${createHash("sha256").update(a).digest("hex")}`);
    expect(sha256Digest(a)).toMatch(/^sha256:[a-f0-9]{64}$/);
  });
  test("works on a subarray view", () => {
    const buf = new TextEncoder().encode("xxabcxx");
    expect(sha256Digest(buf.subarray(2, 5))).toBe(sha256Digest(new TextEncoder().encode("abc")));
  });
});

describe("extractEntrypoint", () => {
  const cfg = (config: unknown): ImageConfig => ImageConfig.parse({ config });
  test.each<[string, unknown, string[], string[] | null, string[] | null]>([
    ["Entrypoint only", { Entrypoint: ["/fn"] }, ["/fn"], ["/fn"], null],
    ["Entrypoint wins, Cmd not appended", { Entrypoint: ["/fn", "-v"], Cmd: ["--x"] }, ["/fn", "-v"], ["/fn", "-v"], ["--x"]],
    ["Cmd when no Entrypoint", { Cmd: ["/bin/fn"] }, ["/bin/fn"], null, ["/bin/fn"]],
    ["Cmd when Entrypoint null", { Entrypoint: null, Cmd: ["/bin/fn"] }, ["/bin/fn"], null, ["/bin/fn"]],
    ["Cmd when Entrypoint empty (raw [] kept)", { Entrypoint: [], Cmd: ["/bin/fn"] }, ["/bin/fn"], [], ["/bin/fn"]],
    ["Entrypoint when Cmd empty", { Entrypoint: ["/fn"], Cmd: [] }, ["/fn"], ["/fn"], []],
  ])("%s", (_name, config, entrypoint, configEntrypoint, configCmd) => {
    expect(extractEntrypoint(cfg(config))).toStrictEqual({ entrypoint, configEntrypoint, configCmd });
  });

  test.each<[string, ImageConfig]>([
    ["no config section", {}],
    ["null config section", { config: null }],
    ["empty config section", { config: {} }],
    ["both null", { config: { Entrypoint: null, Cmd: null } }],
    ["both empty", { config: { Entrypoint: [], Cmd: [] } }],
  ])("NO_ENTRYPOINT: %s", (_name, config) => {
    const err = catchErr(() => extractEntrypoint(config, "gcr.io/a/b:v1"));
    expect(err.code).toBe("NO_ENTRYPOINT");
    expect(err.message).toContain("gcr.io/a/b:v1");
    expect(err.message).toContain("neither Entrypoint nor Cmd");
  });

  test("returns copies, not the config's arrays", () => {
    const config: ImageConfig = { config: { Entrypoint: ["/fn"], Cmd: ["x"] } };
    const got = extractEntrypoint(config);
    got.entrypoint.push("mutated");
    got.configCmd?.push("mutated");
    expect(config.config?.Entrypoint).toEqual(["/fn"]);
    expect(config.config?.Cmd).toEqual(["x"]);
  });
});
