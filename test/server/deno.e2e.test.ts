// The same main.ts under Deno (the npm devDependency), started with
// `deno task start`: health, a resolve from a TLS registry that trusts only
// the test CA (mounted the way Porch mounts it: --enable-private-registries-tls
// --tls-secret-path), gRPC, and SIGTERM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { logLines, postJson, ROOT, spawnServing, type Spawned } from "./helpers.ts";

const DENO = join(ROOT, "node_modules", ".bin", "deno");

let reg: TestRegistry;
let dir: string;
let deno: Spawned;
let base: string;
let pushed: { digest: string };

beforeAll(async () => {
  reg = await startRegistry({ mode: "tls-htpasswd" });
  pushed = await pushImage(reg, "private/fn", "v1", { format: "oci", entrypoint: ["/private-fn"] });
  dir = mkdtempSync(join(tmpdir(), "fr-deno-"));
  const authFile = join(dir, ".dockerconfigjson");
  const auth = Buffer.from(`${reg.adminUser}:${reg.adminPassword}`).toString("base64");
  writeFileSync(authFile, JSON.stringify({ auths: { [`https://${reg.host}`]: { auth } } }));
  deno = await spawnServing(
    DENO,
    [
      "task", "start",
      "--http-port", "0", "--port", "0", "--listen-address", "127.0.0.1",
      "--enable-private-registries", "--registry-auth-secret-path", authFile,
      "--enable-private-registries-tls", "--tls-secret-path", reg.caDir ?? "",
    ],
    // No ambient trust: the registry's CA reaches the runner only through --tls-secret-path.
    { env: { NO_COLOR: "1", DENO_CERT: "", SSL_CERT_FILE: "" }, timeoutMs: 45_000 },
  );
  base = `http://127.0.0.1:${deno.httpPort}`;
}, 60_000);

afterAll(async () => {
  if (deno && deno.proc.exitCode === null) deno.proc.kill("SIGKILL");
  await reg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("under Deno", () => {
  test("the server is Deno's, started by deno task start", () => {
    expect(deno.stderr()).toContain("Task start");
    expect(deno.stderr()).toContain("main.ts serve");
    expect(logLines(deno.stderr()).find((l) => l.msg === "function-runner listening")).toMatchObject({ runtime: "deno" });
  });

  test("/healthz and /readyz", async () => {
    expect(await (await fetch(`${base}/healthz`)).text()).toBe("ok");
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  test("resolves over TLS with the mounted CA and custom auth", async () => {
    const res = await postJson(`${base}/v1/images/resolve`, { image: `${reg.host}/private/fn:v1` });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(body).toMatchObject({
      digest: pushed.digest,
      entrypoint: ["/private-fn"],
      cached: false,
      auth: { strategy: "custom" },
      transport: "mounted-ca",
    });
    expect(JSON.stringify(body)).not.toContain(reg.adminPassword);
    // The registry saw authenticated pulls over TLS.
    expect(await reg.count((e) => e.path === "/v2/private/fn/manifests/v1" && e.status === 200)).toBe(1);
    const again = (await (await postJson(`${base}/v1/images/resolve`, { image: `${reg.host}/private/fn:v1` })).json()) as { cached: boolean };
    expect(again.cached).toBe(true);
  });

  test("gRPC health answers SERVING", async () => {
    const client = new grpc.Client(`127.0.0.1:${deno.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const status = await new Promise<number>((resolve, reject) => {
        client.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          () => Buffer.alloc(0),
          (b: Buffer) => (b.length >= 2 && b[0] === 0x08 ? (b[1] ?? 0) : 0),
          {},
          { deadline: Date.now() + 5_000 },
          (err, value) => (err ? reject(err) : resolve(value ?? -1)),
        );
      });
      expect(status).toBe(1);
    } finally {
      client.close();
    }
  });

  test("SIGTERM: exit 0 after a graceful stop", async () => {
    deno.proc.kill("SIGTERM");
    const exit = await deno.exited;
    expect(exit.code).toBe(0);
    expect(logLines(deno.stderr()).find((l) => l.msg === "function-runner stopped")).toBeDefined();
  }, 15_000);
});
