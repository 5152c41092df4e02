import { describe, expect, test } from "../support/testing.ts";
import { DefaultTransport } from "../../src/registry/transport.ts";

describe("DefaultTransport routes", () => {
  const t = new DefaultTransport({ insecureRegistries: ["registry.internal:5000"] });
  const steps = (registry: string) => t.routes(registry).map((r) => `${r.scheme}:${r.credentials}`);

  test("public registries: https only", () => {
    expect(steps("ghcr.io")).toEqual(["https:true"]);
    expect(steps("10.0.0.5:5000")).toEqual(["https:true"]);
  });

  test("loopback: https, then plain http without credentials", () => {
    for (const r of ["localhost:5000", "127.0.0.1:5000", "[::1]:5000"]) expect(steps(r)).toEqual(["https:true", "http:false"]);
  });

  test("listed insecure: https, then plain http with credentials", () => {
    expect(steps("registry.internal:5000")).toEqual(["https:true", "http:true"]);
  });

  test("the step that worked is tried first next time", () => {
    const http = t.routes("127.0.0.1:6000")[1]!;
    t.succeeded("127.0.0.1:6000", http);
    expect(t.routes("127.0.0.1:6000")[0]?.scheme).toBe("http");
  });
});
