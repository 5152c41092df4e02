// grpc-health-probe's command line: Go flag syntax, defaults, and its invalid-argument rules.
import { describe, expect, test } from "../support/testing.ts";
import { goDuration, parseProbeArgs, probeTarget } from "../../src/probe/flags.ts";

const flags = (argv: string[]) => {
  const p = parseProbeArgs(argv);
  if (p.kind !== "probe") throw new Error(`expected flags, got ${JSON.stringify(p)}`);
  return p.flags;
};
const invalid = (argv: string[]): string => {
  const p = parseProbeArgs(argv);
  if (p.kind !== "invalid") throw new Error(`expected invalid, got ${p.kind}`);
  return p.error;
};

describe("parseProbeArgs", () => {
  test("Porch's readiness probe as written, with the tool's defaults", () => {
    expect(flags(["-addr", "localhost:9445"])).toMatchObject({
      addr: "localhost:9445",
      service: "",
      connectTimeoutMs: 1000,
      rpcTimeoutMs: 1000,
      userAgent: "grpc_health_probe",
      tls: false,
      headers: [],
    });
  });

  test("every Go spelling: -name value, -name=value, --name, booleans bare or =false, repeatable headers", () => {
    const f = flags([
      "--addr=127.0.0.1:1",
      "-service",
      "evaluator.FunctionEvaluator",
      "-connect-timeout=250ms",
      "--rpc-timeout",
      "1m30s",
      "-rpc-header",
      "X-Request-Id: abc",
      "-rpc-header=x-other:2",
      "-gzip",
      "-v=false",
      "-user-agent=probe/1",
    ]);
    expect(f).toMatchObject({ addr: "127.0.0.1:1", service: "evaluator.FunctionEvaluator", connectTimeoutMs: 250, rpcTimeoutMs: 90_000, gzip: true, verbose: false, userAgent: "probe/1" });
    expect(f.headers).toEqual([
      ["x-request-id", "abc"],
      ["x-other", "2"],
    ]);
  });

  test("invalid arguments, worded as grpc-health-probe words them", () => {
    expect(invalid([])).toBe("-addr not specified");
    expect(invalid(["-addr", "a:1", "-nope"])).toBe("flag provided but not defined: -nope");
    expect(invalid(["-addr"])).toBe("flag needs an argument: -addr");
    expect(invalid(["-addr", "a:1", "-connect-timeout", "0s"])).toBe("-connect-timeout must be greater than zero (specified: 0s)");
    expect(invalid(["-addr", "a:1", "-rpc-timeout", "soon"])).toContain("-rpc-timeout");
    expect(invalid(["-addr", "a:1", "-tls-no-verify"])).toBe("specified -tls-no-verify without specifying -tls");
    expect(invalid(["-addr", "a:1", "-tls", "-tls-client-cert", "c.pem"])).toBe("specified -tls-client-cert without specifying -tls-client-key");
    expect(invalid(["-addr", "a:1", "-tls", "-tls-no-verify", "-tls-ca-cert", "ca.pem"])).toContain("cannot specify -tls-ca-cert with -tls-no-verify");
    expect(invalid(["-addr", "a:1", "-rpc-header", "novalue"])).toContain("key: value");
    expect(invalid(["-addr", "a:1", "extra"])).toContain("unexpected argument");
  });

  test("-h and -version are answers, not probes", () => {
    expect(parseProbeArgs(["-h"]).kind).toBe("help");
    expect(parseProbeArgs(["--version"]).kind).toBe("version");
  });
});

describe("probeTarget and goDuration", () => {
  test("Go's local dial spellings become loopback targets", () => {
    expect(probeTarget(":9445")).toBe("localhost:9445");
    expect(probeTarget("0.0.0.0:9445")).toBe("127.0.0.1:9445");
    expect(probeTarget("localhost:9445")).toBe("localhost:9445");
  });

  test("durations print as Go prints them", () => {
    expect(goDuration(1000)).toBe("1s");
    expect(goDuration(250)).toBe("250ms");
    expect(goDuration(1500)).toBe("1.5s");
    expect(goDuration(90_000)).toBe("1m30s");
  });
});
