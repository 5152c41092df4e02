// Scenarios (a)–(d) against the compiled binary: under Bun, a dispatcher built from the `undici`
// package name silently ignores the CA, so only `dist/function-runner` proves the mounted CA is used.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { pushImage } from "../support/push.ts";
import { startProxy, type TestProxy } from "../support/proxy.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { basicAuth, dockerConfigFile } from "./helpers.ts";
import { ensureBinary, runBinary } from "../cli/binary.ts";
import { secretDir, startTls11Server, strayCA } from "./tls-helpers.ts";

let secure: TestRegistry; // TLS + htpasswd
let open: TestRegistry; // TLS, anonymous: a missing manifest costs exactly one request
let plain: TestRegistry; // plain HTTP
let front: TestProxy; // plain-HTTP front of `secure`, to see Authorization headers
let authFile: string;

beforeAll(async () => {
  ensureBinary();
  [secure, open, plain] = await Promise.all([
    startRegistry({ mode: "tls-htpasswd", users: { dev: "Dev-pa55" } }),
    startRegistry({ mode: "tls-htpasswd", extraConfig: { auth: null } }),
    startRegistry({ mode: "http" }),
  ]);
  for (const r of [secure, open, plain]) await pushImage(r, "team/fn", "v1", { format: "oci", entrypoint: ["/fn", "run"] });
  front = await startProxy({ upstream: secure.url, dispatcher: secure.dispatcher });
  authFile = dockerConfigFile({ [secure.host]: basicAuth("dev", "Dev-pa55"), [front.host]: basicAuth("dev", "Dev-pa55") });
});
afterAll(async () => {
  await front?.stop();
  await Promise.all([secure?.stop(), open?.stop(), plain?.stop()]);
});

/** `function-runner resolve IMAGE` with the private-registry TLS flags, as in Porch's Deployment. */
const resolve = (image: string, tlsDir: string, ...extra: string[]) =>
  runBinary([
    "resolve",
    image,
    "--enable-private-registries",
    "--enable-private-registries-tls",
    "--tls-secret-path",
    tlsDir,
    "--registry-auth-secret-path",
    authFile,
    ...extra,
  ]);

const fallbackWarnings = (stderr: string) =>
  stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.level === "warn" && r.msg === "registry transport step failed, falling back");

describe("function-runner resolve with --enable-private-registries-tls (compiled binary)", () => {
  test("(a) registry signed by the mounted CA: step 1, custom auth", async () => {
    const r = await resolve(`${secure.host}/team/fn:v1`, secretDir({ "ca.crt": secure.caPem! }), "--json");
    expect(r.stderr).not.toContain('"level":"warn"');
    expect(r.code).toBe(0);
    const rec = JSON.parse(r.stdout);
    expect(rec.transport).toBe("mounted-ca");
    expect(rec.entrypoint).toEqual(["/fn", "run"]);
    expect(rec.auth.strategy).toBe("custom");
    expect(rec.auth.source).toContain(authFile);

    const human = await resolve(`${secure.host}/team/fn:v1`, secretDir({ "ca.pem": secure.caPem! }));
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^transport: +mounted-ca \(https\)$/m);
  });

  test("(b) plain-HTTP registry: steps 1–2 fail, step 3 works, two warnings naming the image", async () => {
    const image = `${plain.host}/team/fn:v1`;
    const r = await resolve(image, secretDir({ "ca.crt": secure.caPem! }), "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).transport).toBe("plain-http");
    const w = fallbackWarnings(r.stderr);
    expect(w.map((x) => `${x.step}->${x.next}`)).toEqual(["mounted-ca->system-ca", "system-ca->plain-http"]);
    for (const x of w) expect(x.image).toBe(image);
  });

  test("(b) no credentials on plain HTTP unless listed insecure", async () => {
    const tls = secretDir({ "ca.crt": secure.caPem! });
    front.clear();
    const denied = await resolve(`${front.host}/team/fn:v1`, tls);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("error: UNAUTHORIZED");
    expect(front.requests().length).toBeGreaterThan(0);
    expect(front.requests().filter((q) => q.headers.authorization !== undefined)).toEqual([]);

    front.clear();
    const allowed = await resolve(`${front.host}/team/fn:v1`, tls, "--insecure-registries", front.host, "--json");
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout).transport).toBe("plain-http");
    expect(front.requests().some((q) => q.headers.authorization?.startsWith("Basic "))).toBe(true);
    // The secret itself never reaches the logs.
    expect(allowed.stderr).not.toContain("Dev-pa55");
  });

  test("(c) unknown CA, nothing plain on the port: exit 1 and all three causes", async () => {
    const image = `${secure.host}/team/fn:v1`;
    const r = await resolve(image, secretDir({ "ca.crt": strayCA().certPem }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: TLS: cannot reach registry ${secure.host} for ${image}`);
    expect(r.stderr).toMatch(/\(1\) mounted-ca \(https\): TLS handshake failed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    expect(r.stderr).toMatch(/\(2\) system-ca \(https\): TLS handshake failed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    expect(r.stderr).toContain("(3) plain-http (http): plain HTTP refused");
  });

  test("(d) manifest unknown at step 1: no fallback, one manifest request", async () => {
    await open.clearLog();
    const r = await resolve(`${open.host}/team/fn:missing`, secretDir({ "ca.crt": open.caPem! }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: MANIFEST_UNKNOWN");
    expect(fallbackWarnings(r.stderr)).toEqual([]);
    const log = await open.accessLog();
    expect(log.filter((e) => e.path.includes("/manifests/")).map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
      "GET /v2/team/fn/manifests/missing 404",
    ]);
  });

  test("(f) a missing TLS directory is named in the error", async () => {
    const r = await resolve(`${secure.host}/team/fn:v1`, "/nonexistent/tls-secret/");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("(1) mounted-ca (https): TLS configuration: --tls-secret-path /nonexistent/tls-secret/ does not exist");
  });

  test("(g) a TLS 1.1-only server is refused by the binary too", async () => {
    const server = await startTls11Server();
    try {
      expect(server.served).toBe("TLSv1.1");
      const r = await resolve(`127.0.0.1:${server.port}/team/fn:v1`, secretDir({ "ca.crt": server.ca.certPem }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\(1\) mounted-ca \(https\): TLS handshake failed \([A-Z0-9_]*PROTOCOL_VERSION\)/);
    } finally {
      server.stop();
    }
  });

  test("explain names the transport chain and the mounted CA file", async () => {
    const tls = secretDir({ "ca.crt": `${strayCA().certPem}${secure.caPem!}` });
    const r = await runBinary([
      "explain",
      `${secure.host}/team/fn:v1`,
      "--enable-private-registries",
      "--enable-private-registries-tls",
      "--tls-secret-path",
      tls,
      "--registry-auth-secret-path",
      authFile,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`transport:   private-registry TLS chain: (1) https trusting ${tls}/ca.crt (2 certificates) plus the system roots`);
  });

  test("flags off: the default transport (the mounted CA is not used)", async () => {
    const r = await runBinary(["resolve", `${secure.host}/team/fn:v1`, "--tls-secret-path", secretDir({ "ca.crt": secure.caPem! }), "--json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("(1) system-ca (https)");
    expect(r.stderr).not.toContain("mounted-ca");
  });
});
