import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { pushImage, pushIndex } from "../support/push.ts";
import { startProxy, type TestProxy } from "../support/proxy.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { basicAuth, dockerConfigFile } from "../registry/helpers.ts";
import { ResolveAnswer } from "../../src/resolve/resolve-answer.ts";
import { ensureBinary, runBinary } from "./binary.ts";

let reg: TestRegistry;
let secure: TestRegistry;
let front: TestProxy;
let pushed: { digest: string };

beforeAll(async () => {
  ensureBinary();
  reg = await startRegistry({ mode: "http" });
  pushed = await pushImage(reg, "cli/fn", "v1", { format: "oci", entrypoint: ["/bin/fn", "run"] });
  await pushIndex(reg, "cli/multi", "v1", [
    { platform: { os: "linux", architecture: "amd64" }, entrypoint: ["/amd"] },
    { platform: { os: "linux", architecture: "arm64" }, entrypoint: ["/arm"] },
  ], { format: "docker" });
  secure = await startRegistry({ mode: "tls-htpasswd", users: { carol: "Car0l-pw" } });
  await pushImage(secure, "team/fn", "v1", { format: "oci", entrypoint: ["/secure"] });
  // Plain-HTTP front for the TLS registry: the binary's TLS is proven by the TLS tests.
  front = await startProxy({ upstream: secure.url, dispatcher: secure.dispatcher });
});
afterAll(async () => {
  await front?.stop();
  await reg?.stop();
  await secure?.stop();
});

describe("function-runner resolve (compiled binary)", () => {
  test("prints digest and entrypoint", async () => {
    const r = await runBinary(["resolve", `${reg.host}/cli/fn:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(pushed.digest);
    expect(r.stdout).toContain('["/bin/fn","run"]');
  });

  test("--json prints the resolve answer (the HTTP API's schema)", async () => {
    const r = await runBinary(["resolve", "--json", `${reg.host}/cli/fn:v1`]);
    expect(r.code).toBe(0);
    const rec = JSON.parse(r.stdout);
    expect(ResolveAnswer.strict().parse(rec)).toEqual(rec);
    expect(rec).toMatchObject({
      image: `${reg.host}/cli/fn:v1`,
      resolved: `${reg.host}/cli/fn:v1`,
      registry: reg.host,
      repository: "cli/fn",
      digest: pushed.digest,
      platformDigest: pushed.digest,
      platform: "linux/amd64",
      entrypoint: ["/bin/fn", "run"],
      configEntrypoint: ["/bin/fn", "run"],
      cmd: null,
      cached: false,
      auth: { strategy: "default" },
    });
  });

  test("--platform picks from an index", async () => {
    const r = await runBinary(["resolve", "--json", "--platform", "linux/arm64", `${reg.host}/cli/multi:v1`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).entrypoint).toEqual(["/arm"]);
  });

  test("failure: exit 1 and the stable code", async () => {
    const r = await runBinary(["resolve", `${reg.host}/cli/fn:nope`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: MANIFEST_UNKNOWN");
    expect(r.stderr).toContain(`${reg.host}/cli/fn:nope`);
  });

  test("an invalid reference is invalid input: exit 2, one line with INVALID_REFERENCE", async () => {
    const r = await runBinary(["resolve", "UPPER/case"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: INVALID_REFERENCE: [^\n]*UPPER\/case[^\n]*\n$/);
  });

  test("an invalid flag: exit 2 naming the flag", async () => {
    const r = await runBinary(["resolve", "--platform", "amd64", `${reg.host}/cli/fn:v1`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--platform");
  });

  test("--docker-config and --insecure-registries: credentials reach an insecure host, never the output", async () => {
    const cfg = dockerConfigFile({ [front.host]: basicAuth("carol", "Car0l-pw") });
    const ok = await runBinary(["resolve", "--json", "--docker-config", cfg, "--insecure-registries", front.host, `${front.host}/team/fn:v1`]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).entrypoint).toEqual(["/secure"]);
    expect(JSON.parse(ok.stdout).auth.source).toBe(`docker-config:${cfg}#${front.host}`);
    expect(ok.stdout + ok.stderr).not.toContain("Car0l-pw");
    // Loopback but not listed insecure: plain HTTP gets no credentials.
    front.clear();
    const denied = await runBinary(["resolve", "--docker-config", cfg, `${front.host}/team/fn:v1`]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("UNAUTHORIZED");
    expect(front.requests().some((q) => q.headers.authorization !== undefined)).toBe(false);
  });

  test("version and help", async () => {
    expect((await runBinary(["version"])).stdout).toMatch(/^function-runner \d+\.\d+\.\d+/);
    const help = await runBinary(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--enable-private-registries");
  });
});
