import { describe, expect, test } from "../support/testing.ts";
import { RunnerError } from "../../src/errors.ts";
import { type ImageReference, parseReference } from "../../src/image/reference.ts";
import { isDns1035Label, MAX_POD_ID_LENGTH, podId, podIdForImage } from "../../src/kube/pod-id.ts";

const D = `sha256:${"0123abcd".repeat(8)}`;
const HEX8 = "0123abcd";

/** Upstream's podID (Porch podmanager.go), unsanitised: what ours must equal whenever it is valid. */
function upstreamPodId(ref: ImageReference, digest: string, postfix: string): string {
  const last = ref.repository.split("/").at(-1) ?? "";
  const ident = (ref.tag ?? ref.digest ?? "").replaceAll(".", "");
  const hex = digest.slice(digest.indexOf(":") + 1);
  return `${last.replaceAll("_", "-")}-${ident}-${postfix}-${hex.slice(0, 8)}`;
}

describe("podId golden cases", () => {
  const cases: Array<[string, string | undefined, string]> = [
    // Already valid: byte for byte upstream's id.
    ["gcr.io/kpt-fn/set-namespace:v0.4.1", undefined, `set-namespace-v041-1-${HEX8}`],
    ["ghcr.io/kptdev/krm-functions-catalog/apply-setters:v0.2", "3", `apply-setters-v02-3-${HEX8}`],
    // Underscores in the name become dashes, as upstream.
    ["example.com/org/my_fn:v1", undefined, `my-fn-v1-1-${HEX8}`],
    // Tag and digest: the tag names the pod, the digest ends it.
    [`ghcr.io/org/fn:v1.2@${D}`, undefined, `fn-v12-1-${HEX8}`],
    // Digest only: upstream's `sha256:` is not a label, so sanitised, shortened, hashed.
    [`gcr.io/kpt-fn/set-labels@${D}`, undefined, `set-labels-sha256-0123abcd0123abcd0123abc-74eeihjjje-1-${HEX8}`],
    // Upper-case and `_` in a tag.
    ["example.com/fn:V1.2.0-RC_1", undefined, `fn-v120-rc-1-eb4luuj6k2-1-${HEX8}`],
    ["example.com/fn:__init", undefined, `fn-init-ejavsemtly-1-${HEX8}`],
    // A name starting with a digit gets a letter first.
    ["example.com/0day:v1", undefined, `fn-0day-v1-yf6bep2jgv-1-${HEX8}`],
    // Long: truncated name part, hash of the full id, postfix and digest kept.
    [
      `example.com/a/${"very-long-function-name".repeat(4)}:v1.0.0`,
      undefined,
      `very-long-function-namevery-long-function-ito4y6uve5-1-${HEX8}`,
    ],
  ];
  for (const [image, postfix, want] of cases) {
    test(`${image} ${postfix ?? "(default postfix)"}`, () => {
      const got = postfix === undefined ? podId(parseReference(image), D) : podId(parseReference(image), D, postfix);
      expect(got).toBe(want);
      expect(isDns1035Label(got)).toBe(true);
    });
  }

  test("upper-case and lower-case tags of one image stay distinct", () => {
    const upper = podId(parseReference("example.com/fn:V1"), D, "2");
    const lower = podId(parseReference("example.com/fn:v1"), D, "2");
    expect(lower).toBe(`fn-v1-2-${HEX8}`);
    expect(upper).not.toBe(lower);
    expect(upper.endsWith(`-2-${HEX8}`)).toBe(true);
  });

  test("bare hex digests (upstream's form) and sha256:<hex> give the same id", () => {
    const ref = parseReference("gcr.io/kpt-fn/set-namespace:v0.4.1");
    expect(podId(ref, "0123abcd".repeat(8))).toBe(podId(ref, D));
  });

  test("the postfix distinguishes parallel pods of one image", () => {
    const ref = parseReference("gcr.io/kpt-fn/set-namespace:v0.4.1");
    expect(podId(ref, D, "1")).not.toBe(podId(ref, D, "2"));
    expect(podId(ref, D)).toBe(podId(ref, D, "1"));
  });

  test("an unusable postfix is sanitised and capped, the id still valid", () => {
    const ref = parseReference("gcr.io/kpt-fn/set-namespace:v0.4.1");
    const id = podId(ref, D, "Replica_#7/" + "x".repeat(80));
    expect(isDns1035Label(id)).toBe(true);
    expect(id.endsWith(`-${HEX8}`)).toBe(true);
    expect(id).toContain("-replica-7-");
    expect(podId(ref, D, "")).toBe(`set-namespace-v041--${HEX8}`);
  });

  test("podIdForImage reads the reference and pins to the metadata digest", () => {
    expect(podIdForImage({ reference: "gcr.io/kpt-fn/set-namespace:v0.4.1", digest: D })).toBe(`set-namespace-v041-1-${HEX8}`);
    expect(podIdForImage({ reference: "gcr.io/kpt-fn/set-namespace:v0.4.1", digest: D }, "4")).toBe(`set-namespace-v041-4-${HEX8}`);
  });

  test("a multi-arch image's id ends in the platform manifest's digest, as Porch's does", () => {
    const index = `sha256:${"ab".repeat(32)}`;
    // Porch: podID(image, img.Digest().Hex, postfix) where img is the linux/amd64 manifest.
    expect(podIdForImage({ reference: "gcr.io/kpt-fn/set-namespace:v0.4.1", digest: index, platformDigest: D })).toBe(`set-namespace-v041-1-${HEX8}`);
    expect(podIdForImage({ reference: "gcr.io/kpt-fn/set-namespace:v0.4.1", digest: index, platformDigest: "" })).toBe("set-namespace-v041-1-abababab");
  });

  test("a digest without 8 hex characters is refused", () => {
    const ref = parseReference("gcr.io/kpt-fn/set-namespace:v0.4.1");
    for (const bad of ["", "sha256:", "sha256:0123", "sha256:XYZ01234567", "not-a-digest"]) {
      let err: unknown;
      try {
        podId(ref, bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RunnerError);
      expect((err as RunnerError).code).toBe("INVALID_REFERENCE");
    }
  });
});

describe("isDns1035Label", () => {
  test("accepts and refuses like apimachinery's IsDNS1035Label", () => {
    for (const ok of ["a", "abc", "a-b", "a1", "a--b", "x".repeat(63)]) expect(isDns1035Label(ok)).toBe(true);
    for (const bad of ["", "1a", "-a", "a-", "A", "a_b", "a.b", "x".repeat(64)]) expect(isDns1035Label(bad)).toBe(false);
  });
});

// --- property-style tests over seeded random references ---------------------

/** mulberry32: a tiny seeded PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
const TAG_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
const TAG_REST = `${TAG_FIRST}.-`;

function gen(rand: () => number) {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const str = (alphabet: string, n: number) => Array.from({ length: n }, () => pick([...alphabet])).join("");
  // Lengths skewed so both short (upstream-valid) and very long names occur.
  const len = (max: number) => (rand() < 0.7 ? int(1, 12) : int(1, max));
  const component = () => {
    const parts = Array.from({ length: int(1, 4) }, () => str(LOWER_ALNUM, len(40)));
    return parts.reduce((acc, p) => acc + pick([".", "_", "__", "-", "--"]) + p);
  };
  const repository = Array.from({ length: int(1, 4) }, component).join("/");
  const hex = () => str("0123456789abcdef", 64);
  return {
    int,
    pick,
    hex,
    repository,
    tag: () => pick([TAG_FIRST[int(0, TAG_FIRST.length - 1)] ?? "v", "v1", "latest"]) + str(TAG_REST, rand() < 0.8 ? int(0, 10) : int(0, 127)),
  };
}

function randomInput(rand: () => number, fixedDigest?: string) {
  const g = gen(rand);
  const digest = fixedDigest ?? `sha256:${g.hex()}`;
  const kind = g.int(0, 2);
  const ref: ImageReference = { registry: g.pick(["gcr.io", "ghcr.io", "localhost:5000", "index.docker.io"]), repository: g.repository };
  if (kind !== 1) ref.tag = g.tag();
  if (kind !== 0) ref.digest = digest;
  const postfix = g.pick(["1", "2", "3", String(g.int(1, 500)), "", "Pod_X"]);
  return { ref, digest, postfix };
}

describe("podId properties", () => {
  const N = 5000;

  test(`always a DNS-1035 label ≤ ${MAX_POD_ID_LENGTH}, deterministic, ending in the digest's first 8 hex`, () => {
    const rand = prng(0x5eed);
    for (let i = 0; i < N; i++) {
      const { ref, digest, postfix } = randomInput(rand);
      const id = podId(ref, digest, postfix);
      const hex8 = digest.slice(7, 15);
      if (!isDns1035Label(id) || !id.endsWith(`-${hex8}`) || podId(structuredClone(ref), digest, postfix) !== id) {
        throw new Error(`bad id ${JSON.stringify(id)} for ${JSON.stringify({ ref, digest, postfix })}`);
      }
      expect(id.length).toBeLessThanOrEqual(MAX_POD_ID_LENGTH);
    }
  });

  test("equals upstream's id whenever upstream's is already valid", () => {
    const rand = prng(42);
    let same = 0;
    for (let i = 0; i < N; i++) {
      const { ref, digest, postfix } = randomInput(rand);
      const up = upstreamPodId(ref, digest, postfix);
      if (isDns1035Label(up)) {
        expect(podId(ref, digest, postfix)).toBe(up);
        same++;
      }
    }
    // The generator must exercise both branches.
    expect(same).toBeGreaterThan(N / 50);
    expect(same).toBeLessThan(N - N / 50);
  });

  test("distinct inputs give distinct ids (random digests)", () => {
    const rand = prng(7);
    const seen = new Map<string, string>();
    for (let i = 0; i < N; i++) {
      const { ref, digest, postfix } = randomInput(rand);
      const key = JSON.stringify([ref.registry, ref.repository, ref.tag, ref.digest, digest, postfix]);
      const id = podId(ref, digest, postfix);
      const prev = seen.get(id);
      if (prev !== undefined && prev !== key) throw new Error(`collision on ${id}: ${prev} vs ${key}`);
      seen.set(id, key);
    }
  });

  test("sanitising and shortening add no collision: one digest, distinct upstream ids → distinct ids", () => {
    // With a shared digest only the name, tag and postfix tell images apart,
    // which is where truncation would collide without the inserted hash.
    const rand = prng(99);
    const seen = new Map<string, string>();
    for (let i = 0; i < N; i++) {
      const { ref, digest, postfix } = randomInput(rand, D);
      const up = upstreamPodId(ref, digest, postfix);
      const id = podId(ref, digest, postfix);
      const prev = seen.get(id);
      if (prev !== undefined && prev !== up) throw new Error(`collision on ${id}: ${prev} vs ${up}`);
      seen.set(id, up);
    }
  });

  test("long names sharing a long prefix stay distinct", () => {
    const base = "a".repeat(80);
    const ids = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const id = podId({ registry: "example.com", repository: `org/${base}${i}`, tag: "v1" }, D);
      expect(id.length).toBe(MAX_POD_ID_LENGTH);
      ids.add(id);
    }
    expect(ids.size).toBe(500);
  });
});
