// Pure parts of the test API server: selectors, patches, decoding, validation.
import { describe, expect, test } from "../support/testing.ts";
import { checkBase64, decodeBody } from "../support/kube/decode.ts";
import { jsonPatch, mergePatch, strategicMerge } from "../support/kube/patch.ts";
import { defaultPullPolicy } from "../support/kube/resources.ts";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "../support/kube/selectors.ts";
import { ApiError } from "../support/kube/status.ts";
import { dns1035Label, dns1123Label, dns1123Subdomain, validateLabelKey, validateLabelValue } from "../support/kube/validation.ts";

function code(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
  return undefined;
}

describe("label selectors", () => {
  const labels = { app: "fn", tier: "web", n: "5" };
  const m = (s: string, l: Record<string, string> = labels) => matchesLabels(parseLabelSelector(s), l);

  test("equality, inequality and existence", () => {
    expect(m("")).toBe(true);
    expect(m("app=fn")).toBe(true);
    expect(m("app = fn")).toBe(true);
    expect(m("app==fn")).toBe(true);
    expect(m("app!=fn")).toBe(false);
    expect(m("missing!=x")).toBe(true); // absent keys satisfy !=
    expect(m("app")).toBe(true);
    expect(m("!app")).toBe(false);
    expect(m("!missing")).toBe(true);
    expect(m("app=fn,tier=db")).toBe(false);
    expect(m("app=")).toBe(false);
    expect(m("empty=", { empty: "" })).toBe(true);
  });

  test("set-based and numeric comparisons", () => {
    expect(m("tier in (web,db)")).toBe(true);
    expect(m("tier in (db)")).toBe(false);
    expect(m("missing in (a)")).toBe(false);
    expect(m("tier notin (db)")).toBe(true);
    expect(m("missing notin (db)")).toBe(true);
    expect(m("app=fn, tier in (web), !missing")).toBe(true);
    expect(m("n>4")).toBe(true);
    expect(m("n<4")).toBe(false);
  });

  test("malformed selectors are 400", () => {
    expect(code(() => parseLabelSelector("a in (b"))).toBe(400);
    expect(code(() => parseLabelSelector("a b"))).toBe(400);
    expect(code(() => parseLabelSelector("a=b,,c"))).toBe(400);
    expect(code(() => parseLabelSelector("-bad=x"))).toBe(400);
    expect(code(() => parseLabelSelector("a=" + "x".repeat(64)))).toBe(400);
  });

  test("field selectors with escapes", () => {
    const reqs = parseFieldSelector("metadata.name=a\\,b,status.phase!=Running", ["metadata.name", "status.phase"]);
    expect(reqs).toEqual([
      { field: "metadata.name", operator: "=", value: "a,b" },
      { field: "status.phase", operator: "!=", value: "Running" },
    ]);
    expect(matchesFields(reqs, { "metadata.name": "a,b", "status.phase": "Pending" })).toBe(true);
    expect(code(() => parseFieldSelector("spec.x=1", ["metadata.name"]))).toBe(400);
  });
});

describe("patches", () => {
  test("JSON merge patch (RFC 7386 examples)", () => {
    expect(mergePatch({ a: "b" }, { a: "c" })).toEqual({ a: "c" });
    expect(mergePatch({ a: "b" }, { b: "c" })).toEqual({ a: "b", b: "c" });
    expect(mergePatch({ a: "b" }, { a: null })).toEqual({});
    expect(mergePatch({ a: [{ b: "c" }] }, { a: [1] })).toEqual({ a: [1] });
    expect(mergePatch({ a: { b: "c" } }, { a: { b: "d", c: null } })).toEqual({ a: { b: "d" } });
    expect(mergePatch({ e: null }, { a: 1 })).toEqual({ e: null, a: 1 });
  });

  test("JSON patch operations and failures", () => {
    const doc = { a: { b: [1, 2] }, c: "x" };
    expect(jsonPatch(doc, [{ op: "add", path: "/a/b/-", value: 3 }])).toEqual({ a: { b: [1, 2, 3] }, c: "x" });
    expect(jsonPatch(doc, [{ op: "add", path: "/a/b/0", value: 0 }])).toEqual({ a: { b: [0, 1, 2] }, c: "x" });
    expect(jsonPatch(doc, [{ op: "remove", path: "/c" }])).toEqual({ a: { b: [1, 2] } });
    expect(jsonPatch(doc, [{ op: "replace", path: "/c", value: "y" }])).toEqual({ a: { b: [1, 2] }, c: "y" });
    expect(jsonPatch(doc, [{ op: "move", from: "/c", path: "/d" }])).toEqual({ a: { b: [1, 2] }, d: "x" });
    expect(jsonPatch(doc, [{ op: "copy", from: "/c", path: "/a/e" }])).toEqual({ a: { b: [1, 2], e: "x" }, c: "x" });
    expect(jsonPatch({ "a/b": 1, "m~n": 2 }, [{ op: "remove", path: "/a~1b" }, { op: "remove", path: "/m~0n" }])).toEqual({});
    expect(doc).toEqual({ a: { b: [1, 2] }, c: "x" }); // input untouched
    expect(code(() => jsonPatch(doc, [{ op: "test", path: "/c", value: "z" }]))).toBe(422);
    expect(code(() => jsonPatch(doc, [{ op: "remove", path: "/nope" }]))).toBe(422);
    expect(code(() => jsonPatch(doc, [{ op: "replace", path: "/x/y", value: 1 }]))).toBe(422);
    expect(code(() => jsonPatch(doc, { op: "add" }))).toBe(400);
  });

  test("strategic merge patch: merge keys, directives, primitive lists", () => {
    const pod = {
      metadata: { finalizers: ["a"], labels: { x: "1" } },
      spec: {
        containers: [
          { name: "main", image: "v1", env: [{ name: "A", value: "1" }] },
          { name: "side", image: "s1" },
        ],
        tolerations: [{ key: "t1" }],
      },
    };
    const out = strategicMerge(pod, {
      metadata: { finalizers: ["b"], labels: { x: null } },
      spec: {
        containers: [
          { name: "main", env: [{ name: "B", value: "2" }] },
          { name: "side", $patch: "delete" },
          { name: "new", image: "n1" },
        ],
        tolerations: [{ key: "t2" }],
      },
    });
    expect(out).toEqual({
      metadata: { finalizers: ["a", "b"], labels: {} },
      spec: {
        containers: [
          { name: "main", image: "v1", env: [{ name: "A", value: "1" }, { name: "B", value: "2" }] },
          { name: "new", image: "n1" },
        ],
        tolerations: [{ key: "t2" }], // no merge key: replaced
      },
    });
    expect(strategicMerge(pod, { spec: { containers: [{ $patch: "replace" }, { name: "only", image: "o" }] } })).toMatchObject({
      spec: { containers: [{ name: "only", image: "o" }] },
    });
    expect(strategicMerge(pod, { metadata: { "$deleteFromPrimitiveList/finalizers": ["a"] } })).toMatchObject({
      metadata: { finalizers: [] },
    });
    expect(strategicMerge(pod, { metadata: { labels: { $patch: "replace", y: "2" } } })).toMatchObject({
      metadata: { labels: { y: "2" } },
    });
  });
});

describe("decoding", () => {
  test("base64 as Go decodes []byte", () => {
    expect(checkBase64("")).toBeUndefined();
    expect(checkBase64("YQ==")).toBeUndefined();
    expect(checkBase64("YWJj")).toBeUndefined();
    expect(checkBase64("YW\nJj")).toBeUndefined();
    expect(checkBase64("YQ")).toBe("illegal base64 data at input byte 0");
    expect(checkBase64("not base64!")).toBe("illegal base64 data at input byte 3");
    expect(checkBase64("YQ==YQ==")).toBe("illegal base64 data at input byte 2");
  });

  test("stringData overwrites data and is dropped", () => {
    const s = decodeBody(JSON.stringify({ metadata: { name: "s" }, data: { a: "eA==", b: "eQ==" }, stringData: { b: "z" } }), "Secret");
    expect(s.data).toEqual({ a: "eA==", b: Buffer.from("z").toString("base64") });
    expect(s.stringData).toBeUndefined();
    expect(s.kind).toBe("Secret");
    expect(s.apiVersion).toBe("v1");
  });

  test("a body of another kind or version is 400", () => {
    expect(code(() => decodeBody(JSON.stringify({ kind: "Pod", metadata: {} }), "Secret"))).toBe(400);
    expect(code(() => decodeBody(JSON.stringify({ apiVersion: "apps/v1", metadata: {} }), "Secret"))).toBe(400);
    expect(code(() => decodeBody("[]", "Secret"))).toBe(400);
  });
});

describe("names and labels", () => {
  test("DNS-1123 label/subdomain and DNS-1035 label", () => {
    expect(dns1123Label("fn-1")).toEqual([]);
    expect(dns1123Label("1fn")).toEqual([]);
    expect(dns1123Label("a.b")).not.toEqual([]);
    expect(dns1123Label("x".repeat(64))).toContain("must be no more than 63 characters");
    expect(dns1123Subdomain("a.b-c")).toEqual([]);
    expect(dns1123Subdomain("A")).not.toEqual([]);
    expect(dns1123Subdomain("x".repeat(254))).toContain("must be no more than 253 characters");
    expect(dns1035Label("fn-1")).toEqual([]);
    expect(dns1035Label("1fn")).not.toEqual([]);
    expect(dns1035Label("fn-")).not.toEqual([]);
  });

  test("label keys and values", () => {
    expect(validateLabelKey("fn.kpt.dev/image")).toEqual([]);
    expect(validateLabelKey("app")).toEqual([]);
    expect(validateLabelKey("a/b/c")).toHaveLength(1);
    expect(validateLabelKey("Bad_Prefix/x")).not.toEqual([]);
    expect(validateLabelKey("/x")).toEqual(["prefix part must be non-empty"]);
    expect(validateLabelValue("")).toEqual([]);
    expect(validateLabelValue("v1.2_3-x")).toEqual([]);
    expect(validateLabelValue("-x")).not.toEqual([]);
    expect(validateLabelValue("x".repeat(64))).toContain("must be no more than 63 characters");
  });

  test("image pull policy defaults", () => {
    expect(defaultPullPolicy("nginx")).toBe("Always");
    expect(defaultPullPolicy("nginx:latest")).toBe("Always");
    expect(defaultPullPolicy("nginx:1.25")).toBe("IfNotPresent");
    expect(defaultPullPolicy("localhost:5000/fn")).toBe("Always");
    expect(defaultPullPolicy("localhost:5000/fn:v1")).toBe("IfNotPresent");
    expect(defaultPullPolicy("ghcr.io/x/fn@sha256:" + "0".repeat(64))).toBe("IfNotPresent");
  });
});
