/**
 * describe/test/expect for the pure-core unit tests, so the same files run
 * under `bun test` and `deno test` (docs/testing.md). Under Bun these are
 * bun:test's own functions. Under Deno they are a small implementation over
 * Deno.test and node:assert's AssertionError, covering the matchers those
 * tests use with bun:test's meaning (toEqual ignores undefined properties,
 * toStrictEqual does not). Anything missing throws at once rather than
 * passing silently.
 */
import { AssertionError } from "node:assert";
import { inspect, isDeepStrictEqual } from "node:util";

type Body = () => unknown;
type Constructor = abstract new (...args: never[]) => unknown;

export interface Matchers<R = void> {
  not: Matchers<R>;
  toBe(expected: unknown): R;
  toEqual(expected: unknown): R;
  toStrictEqual(expected: unknown): R;
  toMatchObject(expected: object): R;
  toContain(item: unknown): R;
  toHaveLength(length: number): R;
  toBeUndefined(): R;
  toBeDefined(): R;
  toBeNull(): R;
  toBeTruthy(): R;
  toBeFalsy(): R;
  toBeInstanceOf(cls: Constructor): R;
  toMatch(pattern: RegExp | string): R;
  toStartWith(prefix: string): R;
  toEndWith(suffix: string): R;
  toBeGreaterThan(n: number | bigint): R;
  toBeGreaterThanOrEqual(n: number | bigint): R;
  toBeLessThan(n: number | bigint): R;
  toBeLessThanOrEqual(n: number | bigint): R;
  toThrow(expected?: string | RegExp | Error | Constructor): R;
}

export interface Assertion extends Matchers {
  resolves: Matchers<Promise<void>>;
  rejects: Matchers<Promise<void>>;
}

export type Expect = (actual: unknown) => Assertion;

export interface Test {
  (name: string, fn: Body, timeoutMs?: number): void;
  /** Array rows are spread into the arguments (typed as tuples); other rows are the one argument. */
  each<T extends readonly [unknown, ...unknown[]]>(table: readonly T[]): (name: string, fn: (...args: [...T]) => unknown, timeoutMs?: number) => void;
  each<T>(table: readonly T[]): (name: string, fn: (arg: T) => unknown, timeoutMs?: number) => void;
  skip(name: string, fn: Body, timeoutMs?: number): void;
}

export interface Describe {
  (name: string, fn: () => void): void;
}

interface Api {
  describe: Describe;
  test: Test;
  expect: Expect;
}

// ---------------------------------------------------------------------------
// The Deno side

interface DenoTestLike {
  test(def: { name: string; fn: () => unknown; ignore?: boolean; sanitizeOps?: boolean; sanitizeResources?: boolean }): void;
}

const show = (v: unknown): string => inspect(v, { depth: 6, breakLength: 120 });

const bytes = (v: ArrayBufferView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** bun:test's toEqual: undefined properties are ignored, classes are not compared, arrays must match in length. */
function looseEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof RegExp || b instanceof RegExp) return String(a) === String(b);
  // Bytes are bytes: a Buffer equals a Uint8Array with the same content, as under bun:test.
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) return ArrayBuffer.isView(a) && ArrayBuffer.isView(b) && isDeepStrictEqual(bytes(a), bytes(b));
  if (a instanceof Map || b instanceof Map || a instanceof Set || b instanceof Set) return isDeepStrictEqual(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => looseEqual(x, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of keys) if (!looseEqual(ra[k], rb[k])) return false;
  return true;
}

/** toMatchObject: every property of `expected` is in `actual` (recursively); arrays match element by element. */
function matchesObject(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== "object" || expected === null) return looseEqual(actual, expected);
  if (typeof actual !== "object" || actual === null) return false;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matchesObject(actual[i], e));
  }
  if (expected instanceof Date || expected instanceof RegExp || ArrayBuffer.isView(expected)) return looseEqual(actual, expected);
  const ra = actual as Record<string, unknown>;
  return Object.entries(expected).every(([k, v]) => k in ra && matchesObject(ra[k], v));
}

function contains(actual: unknown, item: unknown): boolean {
  if (typeof actual === "string") return typeof item === "string" && actual.includes(item);
  if (actual !== null && typeof actual === "object" && Symbol.iterator in actual) {
    for (const x of actual as Iterable<unknown>) if (x === item) return true;
    return false;
  }
  throw new AssertionError({ message: `toContain needs a string or an iterable, got ${show(actual)}` });
}

function numeric(actual: unknown, what: string): number | bigint {
  if (typeof actual === "number" || typeof actual === "bigint") return actual;
  throw new AssertionError({ message: `${what} needs a number, got ${show(actual)}` });
}

/** What `actual` threw: a function is called; anything else (a rejection reason) is the thrown value. */
function thrownBy(actual: unknown): { threw: boolean; error?: unknown } {
  if (typeof actual !== "function") return { threw: true, error: actual };
  try {
    (actual as () => unknown)();
    return { threw: false };
  } catch (error) {
    return { threw: true, error };
  }
}

function throwMatches(error: unknown, expected: string | RegExp | Error | Constructor | undefined): boolean {
  if (expected === undefined) return true;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof expected === "string") return message.includes(expected);
  if (expected instanceof RegExp) return expected.test(message);
  if (expected instanceof Error) return message === expected.message;
  return error instanceof expected;
}

/** One matcher's verdict: did it hold, and how to say it did not. */
type Verdict = [pass: boolean, describe: () => string];

function verdicts(actual: unknown): Record<keyof Omit<Matchers, "not">, (...args: never[]) => Verdict> {
  return {
    toBe: (e: unknown) => [Object.is(actual, e), () => `${show(actual)} to be ${show(e)}`],
    toEqual: (e: unknown) => [looseEqual(actual, e), () => `${show(actual)} to equal ${show(e)}`],
    toStrictEqual: (e: unknown) => [isDeepStrictEqual(actual, e), () => `${show(actual)} to strictly equal ${show(e)}`],
    toMatchObject: (e: object) => [matchesObject(actual, e), () => `${show(actual)} to match object ${show(e)}`],
    toContain: (item: unknown) => [contains(actual, item), () => `${show(actual)} to contain ${show(item)}`],
    toHaveLength: (n: number) => [(actual as { length?: unknown } | null)?.length === n, () => `${show(actual)} to have length ${n}`],
    toBeUndefined: () => [actual === undefined, () => `${show(actual)} to be undefined`],
    toBeDefined: () => [actual !== undefined, () => `${show(actual)} to be defined`],
    toBeNull: () => [actual === null, () => `${show(actual)} to be null`],
    toBeTruthy: () => [Boolean(actual), () => `${show(actual)} to be truthy`],
    toBeFalsy: () => [!actual, () => `${show(actual)} to be falsy`],
    toBeInstanceOf: (cls: Constructor) => [actual instanceof cls, () => `${show(actual)} to be an instance of ${cls.name}`],
    toMatch: (p: RegExp | string) => [
      typeof actual === "string" && (typeof p === "string" ? actual.includes(p) : p.test(actual)),
      () => `${show(actual)} to match ${show(p)}`,
    ],
    toStartWith: (s: string) => [typeof actual === "string" && actual.startsWith(s), () => `${show(actual)} to start with ${show(s)}`],
    toEndWith: (s: string) => [typeof actual === "string" && actual.endsWith(s), () => `${show(actual)} to end with ${show(s)}`],
    toBeGreaterThan: (n: number | bigint) => [numeric(actual, "toBeGreaterThan") > n, () => `${show(actual)} > ${n}`],
    toBeGreaterThanOrEqual: (n: number | bigint) => [numeric(actual, "toBeGreaterThanOrEqual") >= n, () => `${show(actual)} >= ${n}`],
    toBeLessThan: (n: number | bigint) => [numeric(actual, "toBeLessThan") < n, () => `${show(actual)} < ${n}`],
    toBeLessThanOrEqual: (n: number | bigint) => [numeric(actual, "toBeLessThanOrEqual") <= n, () => `${show(actual)} <= ${n}`],
    toThrow: (e?: string | RegExp | Error | Constructor) => {
      const { threw, error } = thrownBy(actual);
      return [threw && throwMatches(error, e), () => (threw ? `thrown ${show(error)} to match ${show(e)}` : `the function to throw${e === undefined ? "" : ` ${show(e)}`}`)];
    },
  };
}

function matchers<R>(negated: boolean, wrap: (check: (value: unknown) => void) => R): Matchers<R> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(verdicts(undefined))) {
    out[name] = (...args: never[]) =>
      wrap((value) => {
        const fn = verdicts(value)[name as keyof ReturnType<typeof verdicts>];
        const [pass, describe] = fn(...args);
        if (pass === negated) throw new AssertionError({ message: `expected ${negated ? "not " : ""}${describe()}` });
      });
  }
  Object.defineProperty(out, "not", { get: () => matchers(!negated, wrap) });
  return out as unknown as Matchers<R>;
}

function denoExpect(actual: unknown): Assertion {
  const sync = matchers<void>(false, (check) => check(actual));
  const settle = (want: "resolves" | "rejects") =>
    matchers<Promise<void>>(false, async (check) => {
      let outcome: { ok: boolean; value: unknown };
      try {
        outcome = { ok: true, value: await actual };
      } catch (e) {
        outcome = { ok: false, value: e };
      }
      if (outcome.ok !== (want === "resolves")) {
        throw new AssertionError({ message: `expected the promise to ${want === "resolves" ? "resolve" : "reject"}, it ${outcome.ok ? "resolved" : "rejected"} with ${show(outcome.value)}` });
      }
      check(outcome.value);
    });
  return Object.assign(sync, {
    get resolves() {
      return settle("resolves");
    },
    get rejects() {
      return settle("rejects");
    },
  }) as Assertion;
}

/** bun:test's test.each name formats: %s %p %i %d %f %j %o %# %%. */
function formatName(name: string, args: readonly unknown[], index: number): string {
  let i = 0;
  return name.replace(/%[spidfjo#%]/g, (m) => {
    if (m === "%%") return "%";
    if (m === "%#") return String(index);
    const v = args[i++];
    if (m === "%s") return String(v);
    if (m === "%i" || m === "%d") return String(Math.trunc(Number(v)));
    if (m === "%f") return String(Number(v));
    if (m === "%j") return JSON.stringify(v);
    return show(v);
  });
}

function denoApi(deno: DenoTestLike): Api {
  const path: string[] = [];
  const register = (name: string, fn: Body, ignore = false): void => {
    const full = [...path, name].join(" > ");
    // Unit tests of pure code hold no timers or sockets; the sanitizers would only slow them down.
    deno.test({ name: full, fn: async () => void (await fn()), ignore, sanitizeOps: false, sanitizeResources: false });
  };
  const test = ((name: string, fn: Body) => register(name, fn)) as Test;
  test.skip = (name, fn) => register(name, fn, true);
  test.each = ((table: readonly unknown[]) => (name: string, fn: (...args: unknown[]) => unknown) => {
    table.forEach((row, index) => {
      const args: unknown[] = Array.isArray(row) ? row : [row];
      register(formatName(name, args, index), () => fn(...args));
    });
  }) as Test["each"];
  const describe: Describe = (name, fn) => {
    path.push(name);
    try {
      fn();
    } finally {
      path.pop();
    }
  };
  return { describe, test, expect: denoExpect };
}

// ---------------------------------------------------------------------------

const deno = (globalThis as { Deno?: DenoTestLike }).Deno;
const isBun = (globalThis as { Bun?: unknown }).Bun !== undefined;
// The specifier is built at run time: `deno check` must not try to resolve a Bun built-in.
const BUN_TEST = ["bun", "test"].join(":");

const api: Api = isBun
  ? ((await import(BUN_TEST)) as Api)
  : deno !== undefined
    ? denoApi(deno)
    : (() => {
        throw new Error("test/support/testing.ts runs under Bun or Deno");
      })();

export const describe: Describe = api.describe;
export const test: Test = api.test;
export const expect: Expect = api.expect;
