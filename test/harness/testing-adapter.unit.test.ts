// test/support/testing.ts must mean under Deno what bun:test means under Bun:
// these run under both, so a matcher that passes what it should refuse fails here.
import { describe, expect, test } from "../support/testing.ts";

const fails = (f: () => void): void => expect(f).toThrow();

describe("the test adapter's matchers", () => {
  test("toBe and toEqual: identity versus structure; undefined properties ignored by toEqual only", () => {
    expect(1).toBe(1);
    fails(() => expect({}).toBe({}));
    expect({ a: [1, { b: 2 }] }).toEqual({ a: [1, { b: 2 }] });
    fails(() => expect({ a: [1, { b: 2 }] }).toEqual({ a: [1, { b: 3 }] }));
    fails(() => expect([1, 2]).toEqual([1, 2, 3]));
    expect({ a: 1, b: undefined }).toEqual({ a: 1 });
    fails(() => expect({ a: 1, b: undefined }).toStrictEqual({ a: 1 }));
    expect(new Uint8Array([1, 2])).toEqual(new Uint8Array([1, 2]));
    fails(() => expect(new Uint8Array([1, 2])).toEqual(new Uint8Array([1, 3])));
    expect(Buffer.from([1, 2])).toEqual(new Uint8Array([1, 2]));
  });

  test("not inverts", () => {
    expect(1).not.toBe(2);
    fails(() => expect(1).not.toBe(1));
    expect("abc").not.toContain("d");
    fails(() => expect("abc").not.toContain("b"));
  });

  test("toContain, toHaveLength, toMatch, toStartWith, toEndWith", () => {
    expect([1, 2]).toContain(2);
    fails(() => expect([1, 2]).toContain(3));
    expect("hello").toContain("ell");
    expect([1, 2, 3]).toHaveLength(3);
    fails(() => expect("ab").toHaveLength(3));
    expect("v1.2").toMatch(/^v\d/);
    fails(() => expect("x1.2").toMatch(/^v\d/));
    expect("sha256:ab").toStartWith("sha256:");
    fails(() => expect("sha256:ab").toStartWith("sha512:"));
    expect("a.json").toEndWith(".json");
    fails(() => expect("a.json").toEndWith(".yaml"));
  });

  test("toMatchObject: a subset, recursively", () => {
    expect({ a: 1, b: { c: 2, d: 3 } }).toMatchObject({ b: { c: 2 } });
    fails(() => expect({ a: 1, b: { c: 2 } }).toMatchObject({ b: { c: 3 } }));
    fails(() => expect({ a: 1 }).toMatchObject({ z: undefined }));
  });

  test("undefined, null, defined, instance, comparisons", () => {
    expect(undefined).toBeUndefined();
    fails(() => expect(0).toBeUndefined());
    expect(null).toBeNull();
    expect(0).toBeDefined();
    fails(() => expect(undefined).toBeDefined());
    expect(new RangeError("x")).toBeInstanceOf(Error);
    fails(() => expect({}).toBeInstanceOf(Error));
    expect(2).toBeGreaterThan(1);
    fails(() => expect(1).toBeGreaterThan(1));
    expect(1).toBeLessThanOrEqual(1);
    fails(() => expect(2).toBeLessThan(1));
  });

  test("toThrow: any error, a message fragment, a pattern, a class; and a function that does not throw", () => {
    const boom = (): never => {
      throw new RangeError("bad range 42");
    };
    expect(boom).toThrow();
    expect(boom).toThrow("range 4");
    expect(boom).toThrow(/\d+$/);
    expect(boom).toThrow(RangeError);
    fails(() => expect(boom).toThrow(TypeError));
    fails(() => expect(boom).toThrow("other"));
    fails(() => expect(() => 1).toThrow());
  });

  test("rejects and resolves", async () => {
    await expect(Promise.reject(new Error("no"))).rejects.toThrow("no");
    await expect(Promise.resolve(5)).resolves.toBe(5);
    let refused = false;
    try {
      await expect(Promise.resolve(5)).rejects.toThrow();
    } catch {
      refused = true;
    }
    expect(refused).toBe(true);
  });

  test.each([
    [1, 2, 3],
    [2, 3, 5],
  ])("each spreads array rows: %p + %p = %p", (a, b, sum) => {
    expect(a + b).toBe(sum);
  });

  test.each(["x", "y"])("each passes other rows whole: %s", (v) => {
    expect(typeof v).toBe("string");
  });
});
