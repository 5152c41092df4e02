import { describe, expect, test } from "../support/testing.ts";
import {
  authReason,
  BUILTIN_DEFAULT_PREFIX,
  compileAuthPolicy,
  decideAuth,
  defaultPrefixes,
  describeDecision,
  matchDefaultPrefix,
  normalisePrefix,
  type AuthPolicy,
  type AuthStrategyOptions,
  type ImageRefLike,
} from "../../src/auth/strategy.ts";

const CATALOG = "ghcr.io/kptdev/krm-functions-catalog/";
const SECRET_PATH = "/var/tmp/auth-secret/.dockerconfigjson";

const ref = (full: string): ImageRefLike => {
  const slash = full.indexOf("/");
  return { registry: full.slice(0, slash), repository: full.slice(slash + 1) };
};

const options = (enablePrivateRegistries: boolean, defaultRegistries?: string[]): AuthStrategyOptions => ({
  enablePrivateRegistries,
  defaultImagePrefix: CATALOG,
  defaultRegistries,
  registryAuthSecretPath: SECRET_PATH,
});
const opts = (enablePrivateRegistries: boolean, defaultRegistries?: string[]): AuthPolicy => compileAuthPolicy(options(enablePrivateRegistries, defaultRegistries));

describe("normalisePrefix", () => {
  test.each([
    ["gcr.io/kpt-fn/", "gcr.io/kpt-fn/"],
    ["gcr.io/kpt-fn", "gcr.io/kpt-fn/"],
    ["https://gcr.io/kpt-fn//", "gcr.io/kpt-fn/"],
    ["GHCR.IO/KptDev/", "ghcr.io/kptdev/"],
    ["my.registry.io", "my.registry.io/"],
    ["localhost:5000/fns", "localhost:5000/fns/"],
    ["docker.io/library/", "index.docker.io/library/"],
    ["registry-1.docker.io/org", "index.docker.io/org/"],
    ["kptdev/fns", "index.docker.io/kptdev/fns/"],
    ["", undefined],
    ["  ", undefined],
    ["/", undefined],
  ])("%s → %s", (input, want) => {
    expect(normalisePrefix(input)).toBe(want);
  });

  test("defaultPrefixes: builtin first, deduplicated, empty dropped", () => {
    expect(defaultPrefixes({ defaultImagePrefix: CATALOG, defaultRegistries: ["gcr.io/kpt-fn", "", "my.io"] })).toEqual([
      BUILTIN_DEFAULT_PREFIX,
      CATALOG,
      "my.io/",
    ]);
    // An empty --default-image-prefix must not make every image default.
    expect(defaultPrefixes({ defaultImagePrefix: "" })).toEqual([BUILTIN_DEFAULT_PREFIX]);
  });

  test("matchDefaultPrefix picks the longest prefix", () => {
    expect(matchDefaultPrefix(ref("ghcr.io/kptdev/krm-functions-catalog/x"), ["ghcr.io/", CATALOG])).toBe(CATALOG);
  });
});

describe("decideAuth: exhaustive table", () => {
  // [image, under a default prefix without extra registries?, under a prefix with extra registries?]
  const images: Array<[string, boolean, boolean]> = [
    ["gcr.io/kpt-fn/set-labels", true, true],
    ["gcr.io/kpt-fn/nested/fn", true, true],
    ["GCR.IO/kpt-fn/set-labels", true, true],
    ["gcr.io/kpt-fnX/set-labels", false, false],
    ["gcr.io/kpt-fn-contrib/set-labels", false, false],
    ["gcr.io/kpt/set-labels", false, false],
    ["ghcr.io/kptdev/krm-functions-catalog/set-labels", true, true],
    ["ghcr.io/kptdev/krm-functions-catalogue/set-labels", false, false],
    ["ghcr.io/kptdev/other", false, false],
    ["ghcr.io/private-org/fn", false, false],
    ["my.registry.io/team/fn", false, true],
    ["my.registry.io.evil.com/team/fn", false, false],
    ["localhost:5000/fns/fn", false, true],
    ["localhost:5000/fnsX/fn", false, false],
    ["localhost:5001/fns/fn", false, false],
    ["index.docker.io/kptdev/fn", false, true],
    ["docker.io/kptdev/fn", false, true],
    ["index.docker.io/library/busybox", false, false],
  ];
  const extra = ["my.registry.io", "localhost:5000/fns/", "docker.io/kptdev"];

  for (const [image, underDefault, underExtra] of images) {
    for (const privateOn of [false, true]) {
      for (const withExtra of [false, true]) {
        const covered = withExtra ? underExtra : underDefault;
        const want = covered ? "default" : privateOn ? "custom" : "default";
        test(`${image} private=${privateOn} extra=${withExtra} → ${want}`, () => {
          const d = decideAuth(ref(image), opts(privateOn, withExtra ? extra : undefined));
          expect(d.strategy).toBe(want);
          if (covered) expect(d.reason).toStartWith("image is under the default prefix ");
          else if (!privateOn) expect(d.reason).toContain("private registries are disabled");
          else {
            expect(d.reason).toContain("private registries are enabled");
            expect(d.reason).toContain(SECRET_PATH);
          }
        });
      }
    }
  }

  test("reason names the prefix that matched", () => {
    expect(decideAuth(ref("ghcr.io/kptdev/krm-functions-catalog/set-labels"), opts(true)).reason).toBe(
      "image is under the default prefix ghcr.io/kptdev/krm-functions-catalog/",
    );
    expect(decideAuth(ref("gcr.io/kpt-fn/x"), opts(true)).reason).toBe("image is under the default prefix gcr.io/kpt-fn/");
  });

  test("a custom default image prefix replaces the catalog but gcr.io/kpt-fn/ stays", () => {
    const o = compileAuthPolicy({ ...options(true), defaultImagePrefix: "registry.corp/fns" });
    expect(decideAuth(ref("registry.corp/fns/x"), o).strategy).toBe("default");
    expect(decideAuth(ref("ghcr.io/kptdev/krm-functions-catalog/x"), o).strategy).toBe("custom");
    expect(decideAuth(ref("gcr.io/kpt-fn/x"), o).strategy).toBe("default");
  });
});

describe("decideAuth: the cause is data, the sentence is rendered from it", () => {
  test("each cause, with the prefix that matched", () => {
    expect(decideAuth(ref("gcr.io/kpt-fn/x"), opts(false))).toMatchObject({ strategy: "default", cause: "default-prefix", prefix: "gcr.io/kpt-fn/" });
    expect(decideAuth(ref("ghcr.io/private/fn"), opts(false))).toMatchObject({ strategy: "default", cause: "private-disabled" });
    expect(decideAuth(ref("ghcr.io/private/fn"), opts(true))).toMatchObject({ strategy: "custom", cause: "custom" });
  });

  test("the reason is authReason of the cause", () => {
    const policy = opts(true, ["my.registry.io"]);
    for (const image of ["gcr.io/kpt-fn/x", "my.registry.io/a/b", "ghcr.io/private/fn"]) {
      const d = decideAuth(ref(image), policy);
      expect(d.reason).toBe(authReason(d, ref(image), policy));
    }
    expect(authReason({ cause: "custom" }, ref("ghcr.io/private/fn"), policy)).toBe(
      `private registries are enabled and ghcr.io/private/fn is not under a default prefix (gcr.io/kpt-fn/, ${CATALOG}, my.registry.io/), so credentials come from ${SECRET_PATH}`,
    );
  });

  test("the policy holds the prefixes normalised once", () => {
    expect(opts(true, ["GCR.IO/kpt-fn", "https://My.Registry.io/"]).prefixes).toEqual([BUILTIN_DEFAULT_PREFIX, CATALOG, "my.registry.io/"]);
  });
});

describe("describeDecision", () => {
  test("with and without a credential source", () => {
    const d = decideAuth(ref("ghcr.io/private/fn"), opts(true));
    expect(describeDecision(d)).toStartWith("auth strategy: custom (private registries are enabled");
    expect(describeDecision(d, { source: `custom:${SECRET_PATH}#ghcr.io` })).toEndWith(
      `; credential source: custom:${SECRET_PATH}#ghcr.io`,
    );
  });
});
