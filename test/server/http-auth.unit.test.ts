// The pure parts of the HTTP API's bearer token: reading the token file's text and the Authorization header.
import { describe, expect, test } from "../support/testing.ts";
import { bearerOf, OPEN_PATHS, parseTokenFile } from "../../src/server/http-auth.ts";

describe("parseTokenFile", () => {
  test("one token, surrounding whitespace and newline dropped", () => {
    expect(parseTokenFile("  abcdefghijklmnop1234\n")).toEqual({ token: "abcdefghijklmnop1234" });
    expect(parseTokenFile("abcdefghijklmnop1234\r\n")).toEqual({ token: "abcdefghijklmnop1234" });
  });
  test("empty, inner whitespace or too short: a problem, never the token in it", () => {
    expect(parseTokenFile("\n  \n")).toEqual({ problem: "is empty" });
    const inner = parseTokenFile("abcdefghij klmnopqrst");
    expect("problem" in inner && inner.problem).toContain("whitespace");
    const short = parseTokenFile("short-token");
    expect("problem" in short && short.problem).toContain("shorter than 16");
    expect(JSON.stringify(short)).not.toContain("short-token");
  });
});

describe("bearerOf", () => {
  test("Bearer TOKEN, scheme in any case", () => {
    expect(bearerOf("Bearer abc")).toBe("abc");
    expect(bearerOf("bearer abc")).toBe("abc");
    expect(bearerOf("BEARER   abc ")).toBe("abc");
  });
  test("anything else presents no token", () => {
    for (const h of [null, "", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "Bearerabc", "Token abc"]) expect(bearerOf(h)).toBeUndefined();
  });
});

test("only the probes and metrics are open", () => {
  expect([...OPEN_PATHS].sort()).toEqual(["/healthz", "/metrics", "/readyz"]);
});
