import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RunnerError } from "../../src/errors.ts";
import { pushImage, pushIndex, pushRawManifest, sha256 } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { blobGets, makeClient, manifestGets, rejection } from "./helpers.ts";

// One plain-HTTP registry for the media-type, platform and entrypoint cases.
let reg: TestRegistry;
beforeAll(async () => {
  reg = await startRegistry({ mode: "http" });
});
afterAll(async () => {
  await reg?.stop();
});

describe("media types", () => {
  for (const format of ["oci", "docker"] as const) {
    test(`${format} image manifest: digest of the exact bytes and the config entrypoint`, async () => {
      const pushed = await pushImage(reg, `mt/${format}-image`, "v1", { format, entrypoint: ["/fn", "--serve"], cmd: ["x"] });
      const { resolver, close } = makeClient();
      const { metadata } = await resolver.resolve(`${reg.host}/mt/${format}-image:v1`);
      expect(metadata.digest).toBe(sha256(pushed.manifestBytes));
      expect(metadata.digest).toBe(pushed.digest);
      expect(metadata.platformDigest).toBe(pushed.digest);
      expect(metadata.mediaType).toBe(pushed.mediaType);
      expect(metadata.entrypoint).toEqual(["/fn", "--serve"]);
      expect(metadata.configEntrypoint).toEqual(["/fn", "--serve"]);
      expect(metadata.configCmd).toEqual(["x"]);
      expect(metadata.platform).toBe("linux/amd64");
      expect(metadata.reference).toBe(`${reg.host}/mt/${format}-image:v1`);
      await close();
    });

    test(`${format} index: the index digest, the linux/amd64 child and its entrypoint`, async () => {
      const idx = await pushIndex(
        reg,
        `mt/${format}-index`,
        "v1",
        [
          { platform: { os: "linux", architecture: "arm64" }, entrypoint: ["/arm64"] },
          { platform: { os: "linux", architecture: "amd64" }, entrypoint: ["/amd64"] },
        ],
        { format },
      );
      const { resolver, close } = makeClient();
      const { metadata } = await resolver.resolve(`${reg.host}/mt/${format}-index:v1`);
      expect(metadata.digest).toBe(idx.digest);
      expect(metadata.platformDigest).toBe(idx.children[1]!.digest);
      expect(metadata.entrypoint).toEqual(["/amd64"]);
      expect(metadata.mediaType).toBe(idx.mediaType);
      await close();
    });
  }
});

describe("platform selection", () => {
  let image: string;
  let children: Array<{ digest: string }>;
  beforeAll(async () => {
    const idx = await pushIndex(
      reg,
      "plat/multi",
      "v1",
      [
        { platform: { os: "linux", architecture: "amd64" }, entrypoint: ["/amd64"] },
        { platform: { os: "linux", architecture: "arm64", variant: "v8" }, entrypoint: ["/arm64"] },
        { platform: { os: "linux", architecture: "arm", variant: "v7" }, entrypoint: ["/armv7"] },
      ],
      { format: "oci" },
    );
    image = `${reg.host}/plat/multi:v1`;
    children = idx.children;
  });

  test("a configured platform picks its child, variant-aware", async () => {
    const { resolver, close } = makeClient({ platform: { os: "linux", architecture: "arm64", variant: "v8" } });
    const { metadata } = await resolver.resolve(image);
    expect(metadata.entrypoint).toEqual(["/arm64"]);
    expect(metadata.platformDigest).toBe(children[1]!.digest);
    // containerd's spelling: v8 is arm64's default and is not written out.
    expect(metadata.platform).toBe("linux/arm64");
    const armv7 = await resolver.resolve(image, { os: "linux", architecture: "arm", variant: "v7" });
    expect(armv7.metadata.entrypoint).toEqual(["/armv7"]);
    await close();
  });

  test("linux/arm64/v8, linux/arm64 and linux/aarch64 are one cache key and one answer", async () => {
    const { resolver, cache, close } = makeClient();
    const first = await resolver.resolve(image, { os: "linux", architecture: "arm64", variant: "v8" });
    const second = await resolver.resolve(image, { os: "linux", architecture: "arm64" });
    const third = await resolver.resolve(image, { os: "Linux", architecture: "aarch64" });
    expect(second.cached).toBe(true);
    expect(third.cached).toBe(true);
    expect([first, second, third].map((r) => r.metadata.platform)).toEqual(["linux/arm64", "linux/arm64", "linux/arm64"]);
    expect(cache.list().map((e) => e.key)).toEqual([`${image} linux/arm64`]);
    await close();
  });

  test("a platform asked of a single-platform image built for another is NO_MATCHING_PLATFORM, also on a cache hit", async () => {
    await pushImage(reg, "plat/single-arm", "v1", { format: "oci", os: "linux", architecture: "arm64", entrypoint: ["/arm"] });
    const single = `${reg.host}/plat/single-arm:v1`;
    const { resolver, close } = makeClient();
    // Without an explicit platform the image is taken as it is (as Porch does), and cached.
    const implicit = await resolver.resolve(single);
    expect(implicit.metadata.platform).toBe("linux/arm64");
    for (const cached of [true, false]) {
      if (!cached) resolver.forget(single);
      const err = await rejection(resolver.resolve(single, { os: "linux", architecture: "amd64" }));
      expect(err.code).toBe("NO_MATCHING_PLATFORM");
      expect(err.message).toContain("linux/arm64");
      expect(err.message).toContain("linux/amd64");
    }
    expect((await resolver.resolve(single, { os: "linux", architecture: "arm64", variant: "v8" })).metadata.entrypoint).toEqual(["/arm"]);
    await close();
  });

  test("the same image resolved for two platforms is cached per platform", async () => {
    const { resolver, close } = makeClient();
    const amd = await resolver.resolve(image);
    const arm = await resolver.resolve(image, { os: "linux", architecture: "arm64" });
    expect(amd.metadata.entrypoint).toEqual(["/amd64"]);
    expect(arm.metadata.entrypoint).toEqual(["/arm64"]);
    expect((await resolver.resolve(image)).cached).toBe(true);
    await close();
  });

  test("no matching platform is NO_MATCHING_PLATFORM naming what exists", async () => {
    const { resolver, close } = makeClient({ platform: { os: "windows", architecture: "amd64" } });
    const err = await rejection(resolver.resolve(image));
    expect(err.code).toBe("NO_MATCHING_PLATFORM");
    expect(err.message).toContain("linux/arm64");
    await close();
  });
});

describe("entrypoint and cmd", () => {
  const cases: Array<{ name: string; entrypoint: string[] | null; cmd?: string[] | null; want: string[] | "NO_ENTRYPOINT" }> = [
    { name: "entrypoint only", entrypoint: ["/e"], want: ["/e"] },
    { name: "cmd only", entrypoint: null, cmd: ["/c", "arg"], want: ["/c", "arg"] },
    { name: "both: entrypoint wins", entrypoint: ["/e"], cmd: ["/c"], want: ["/e"] },
    { name: "empty entrypoint falls back to cmd", entrypoint: [], cmd: ["/c"], want: ["/c"] },
    { name: "neither", entrypoint: null, cmd: null, want: "NO_ENTRYPOINT" },
    { name: "both empty", entrypoint: [], cmd: [], want: "NO_ENTRYPOINT" },
  ];
  for (const [i, c] of cases.entries()) {
    test(c.name, async () => {
      await pushImage(reg, `ep/case${i}`, "v1", { format: "oci", entrypoint: c.entrypoint, cmd: c.cmd });
      const { resolver, close } = makeClient();
      const image = `${reg.host}/ep/case${i}:v1`;
      if (c.want === "NO_ENTRYPOINT") {
        const err = await rejection(resolver.resolve(image));
        expect(err.code).toBe("NO_ENTRYPOINT");
        expect(err.message).toContain(image);
      } else {
        expect((await resolver.resolve(image)).metadata.entrypoint).toEqual(c.want);
      }
      await close();
    });
  }
});

describe("registry answers", () => {
  test("unknown tag is MANIFEST_UNKNOWN after exactly one manifest request", async () => {
    await pushImage(reg, "ans/known", "v1", { format: "oci" });
    const { resolver, client, close } = makeClient();
    await reg.clearLog();
    const err = await rejection(resolver.resolve(`${reg.host}/ans/known:missing`));
    expect(err).toBeInstanceOf(RunnerError);
    expect(err.code).toBe("MANIFEST_UNKNOWN");
    expect(err.message).toContain(`${reg.host}/ans/known:missing`);
    expect(err.message).toContain(`registry ${reg.host}`);
    expect(await reg.count(manifestGets("/v2/ans/known/"))).toBe(1);
    expect(client.stats.snapshot()["manifest:404"]).toBe(1);
    await close();
  });

  test("unknown repository: the registry's 404 code is kept (distribution 2.8 says MANIFEST_UNKNOWN)", async () => {
    const { resolver, close } = makeClient();
    const err = await rejection(resolver.resolve(`${reg.host}/nothing/here:v1`));
    expect(err.code).toBe("MANIFEST_UNKNOWN");
    expect(err.message).toContain("nothing/here");
    await close();
  });

  test("errors are not cached: the image pushed after a failure resolves", async () => {
    const { resolver, cache, close } = makeClient();
    const image = `${reg.host}/ans/later:v1`;
    expect((await rejection(resolver.resolve(image))).code).toMatch(/UNKNOWN/);
    await pushImage(reg, "ans/later", "v1", { format: "oci", entrypoint: ["/late"] });
    expect((await resolver.resolve(image)).metadata.entrypoint).toEqual(["/late"]);
    expect(cache.stats().errors).toBe(1);
    await close();
  });

  test("a schema 1 manifest is UNSUPPORTED_MEDIA_TYPE", async () => {
    const { resolver, close } = makeClient();
    const bytes = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: "nope" }));
    await pushRawManifest(reg, "ans/bad", "v1", bytes, "application/vnd.oci.image.manifest.v1+json").catch(() => undefined);
    const err = await rejection(resolver.resolve(`${reg.host}/ans/bad:v1`));
    expect(["UNSUPPORTED_MEDIA_TYPE", "MANIFEST_UNKNOWN", "NAME_UNKNOWN"]).toContain(err.code ?? "");
    await close();
  });

  test("an invalid reference fails before any request", async () => {
    const { resolver, client, close } = makeClient();
    const err = await rejection(resolver.resolve(`${reg.host}/Upper/Case:v1`));
    expect(err.code).toBe("INVALID_REFERENCE");
    expect(client.stats.total()).toBe(0);
    await close();
  });

  test("a registry that is down is NETWORK", async () => {
    const { resolver, close } = makeClient();
    const err = await rejection(resolver.resolve("127.0.0.1:1/down/image:v1"));
    expect(err.code).toBe("NETWORK");
    expect(err.message).toContain("127.0.0.1:1");
    await close();
  });
});

describe("digests", () => {
  test("a digest-pinned reference resolves and never hits the tag", async () => {
    const pushed = await pushImage(reg, "dig/pinned", "v1", { format: "docker", entrypoint: ["/pinned"] });
    const { resolver, close } = makeClient();
    await reg.clearLog();
    const { metadata } = await resolver.resolve(`${reg.host}/dig/pinned@${pushed.digest}`);
    expect(metadata.digest).toBe(pushed.digest);
    expect(metadata.entrypoint).toEqual(["/pinned"]);
    const log = await reg.accessLog();
    expect(log.filter((e) => e.path.endsWith("/manifests/v1"))).toHaveLength(0);
    await close();
  });

  test("tag plus digest: the digest is what is fetched and verified", async () => {
    const pushed = await pushImage(reg, "dig/both", "v1", { format: "oci" });
    const { resolver, close } = makeClient();
    const { metadata } = await resolver.resolve(`${reg.host}/dig/both:v1@${pushed.digest}`);
    expect(metadata.digest).toBe(pushed.digest);
    await close();
  });
});

describe("single flight", () => {
  test("50 parallel resolves of one uncached image: one manifest GET, one config GET", async () => {
    const pushed = await pushImage(reg, "sf/one", "v1", { format: "oci", entrypoint: ["/one"] });
    const { resolver, cache, close } = makeClient();
    await resolver.resolve(`${reg.host}/sf/warmup-missing:v1`).catch(() => undefined); // learn the scheme first
    const missesBefore = cache.stats().misses;
    await reg.clearLog();
    const results = await Promise.all(Array.from({ length: 50 }, () => resolver.resolve(`${reg.host}/sf/one:v1`)));
    expect(new Set(results.map((r) => r.metadata.digest))).toEqual(new Set([pushed.digest]));
    expect(await reg.count(manifestGets("/v2/sf/one/"))).toBe(1);
    expect(await reg.count(blobGets("/v2/sf/one/"))).toBe(1);
    expect(cache.stats().misses - missesBefore).toBe(1);
    expect(cache.stats().joined).toBe(49);
    // A later call is a hit with no request at all.
    await reg.clearLog();
    expect((await resolver.resolve(`${reg.host}/sf/one:v1`)).cached).toBe(true);
    expect(await reg.count(() => true)).toBe(0);
    await close();
  });

  test("concurrent callers all get the error of the one failed fetch", async () => {
    const { resolver, cache, close } = makeClient();
    await reg.clearLog();
    const errs = await Promise.all(Array.from({ length: 10 }, () => rejection(resolver.resolve(`${reg.host}/sf/missing:v1`))));
    expect(new Set(errs.map((e) => e.code))).toEqual(new Set(["MANIFEST_UNKNOWN"]));
    expect(await reg.count(manifestGets("/v2/sf/missing/"))).toBe(1);
    expect(cache.stats().size).toBe(0);
    await close();
  });
});
