// Pure parts of the test API server: label selectors, the two patch types, name and label rules.
import { describe, expect, test } from "../support/testing.ts";
import { jsonPatch, mergePatch } from "../support/kube/patch.ts";
import { matchesLabels, parseLabelSelector } from "../support/kube/selectors.ts";
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
  const labels = { app: "fn", tier: "web", "fn.kpt.dev/image": "set-labels-v1-0123abcd" };
  const m = (s: string, l: Record<string, string> = labels) => matchesLabels(parseLabelSelector(s), l);

  test("equality, inequality and existence (what the runner lists its pods by)", () => {
    expect(m("")).toBe(true);
    expect(m("fn.kpt.dev/image")).toBe(true);
    expect(m("fn.kpt.dev/image=set-labels-v1-0123abcd")).toBe(true);
    expect(m("fn.kpt.dev/image=other")).toBe(false);
    expect(m("fn.kpt.dev/image", { app: "fn" })).toBe(false);
    expect(m("app = fn")).toBe(true);
    expect(m("app==fn")).toBe(true);
    expect(m("app!=fn")).toBe(false);
    expect(m("missing!=x")).toBe(true); // absent keys satisfy !=
    expect(m("!app")).toBe(false);
    expect(m("!missing")).toBe(true);
    expect(m("app=fn,tier=db")).toBe(false);
    expect(m("app=")).toBe(false);
    expect(m("empty=", { empty: "" })).toBe(true);
  });

  test("set-based", () => {
    expect(m("tier in (web,db)")).toBe(true);
    expect(m("tier in (db)")).toBe(false);
    expect(m("missing in (a)")).toBe(false);
    expect(m("tier notin (db)")).toBe(true);
    expect(m("missing notin (db)")).toBe(true);
    expect(m("app=fn, tier in (web, db), !missing")).toBe(true);
  });

  test("malformed selectors are 400", () => {
    for (const s of ["a in (b", "a b", "a=b,,c", "-bad=x", "a>1"]) expect(code(() => parseLabelSelector(s))).toBe(400);
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
    expect(jsonPatch(doc, [{ op: "test", path: "/c", value: "x" }, { op: "remove", path: "/a/b/1" }])).toEqual({ a: { b: [1] }, c: "x" });
    expect(jsonPatch({ "a/b": 1, "m~n": 2 }, [{ op: "remove", path: "/a~1b" }, { op: "remove", path: "/m~0n" }])).toEqual({});
    expect(doc).toEqual({ a: { b: [1, 2] }, c: "x" }); // input untouched
    expect(code(() => jsonPatch(doc, [{ op: "test", path: "/c", value: "z" }]))).toBe(422);
    expect(code(() => jsonPatch(doc, [{ op: "remove", path: "/nope" }]))).toBe(422);
    expect(code(() => jsonPatch(doc, [{ op: "replace", path: "/x/y", value: 1 }]))).toBe(422);
    expect(code(() => jsonPatch(doc, [{ op: "add", path: "/a/b/5", value: 1 }]))).toBe(422);
    expect(code(() => jsonPatch(doc, [{ op: "move", from: "/c", path: "/d" }]))).toBe(422);
    expect(code(() => jsonPatch(doc, { op: "add" }))).toBe(400);
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
    expect(validateLabelKey("x/")).toEqual(["name part must be non-empty"]);
    expect(validateLabelValue("")).toEqual([]);
    expect(validateLabelValue("v1.2_3-x")).toEqual([]);
    expect(validateLabelValue("-x")).not.toEqual([]);
    expect(validateLabelValue("x".repeat(64))).toContain("must be no more than 63 characters");
  });
});
