// The compiled binary as an operator runs it: flags, readiness, and SIGTERM
// (stop accepting, finish in-flight calls within --shutdown-timeout, exit 0).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import { startProxy, type TestProxy } from "../support/proxy.ts";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { ensureBinary, logLines, postJson, spawnServing, type Spawned } from "./helpers.ts";

let bin: string;
let reg: TestRegistry;
let proxy: TestProxy;
let slowMs = 0;

beforeAll(async () => {
  bin = ensureBinary();
  reg = await startRegistry({ mode: "http" });
  await pushImage(reg, "fn/slow", "v1", { format: "oci" });
  await pushImage(reg, "fn/slower", "v1", { format: "oci" });
  // Holds manifest requests for `slowMs`, so a resolve is in flight when SIGTERM arrives.
  proxy = await startProxy({
    upstream: reg.url,
    onRequest: (r) => (r.path.includes("/manifests/") ? { delayMs: slowMs } : undefined),
  });
});

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
});

const serve = (args: string[] = []): Promise<Spawned> =>
  spawnServing(bin, ["--http-port", "0", "--port", "0", "--listen-address", "127.0.0.1", ...args]);

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { keepalive: false });
    return false;
  } catch {
    return true;
  }
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}

describe("command line", () => {
  test("--help exits 0; an invalid flag value exits 2 naming the flag", () => {
    const help = spawnSync(bin, ["--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--max-request-body-size");
    const bad = spawnSync(bin, ["serve", "--max-request-body-size", "lots"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--max-request-body-size");
    const unknown = spawnSync(bin, ["--no-such-flag"], { encoding: "utf8" });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("--no-such-flag");
  });
});

describe("SIGTERM", () => {
  test("stops accepting HTTP and gRPC, lets the in-flight resolve finish, exits 0", async () => {
    // --access-log: the in-flight request's line (at info) shows it finished.
    const p = await serve(["--access-log"]);
    const base = `http://127.0.0.1:${p.httpPort}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    slowMs = 1_500;
    proxy.clear();
    const inflight = postJson(`${base}/v1/images/resolve`, { image: `${proxy.host}/fn/slow:v1` });
    await waitFor(() => proxy.requests().some((r) => r.path.includes("/manifests/")));
    const signalled = Date.now();
    p.proc.kill("SIGTERM");
    // New connections are refused well before the in-flight request is done.
    await waitFor(() => refused(`${base}/healthz`), 1_000);
    await waitFor(() => refused(`${base}/healthz`).then(async (r) => r && (await grpcRefused(p.grpcPort))), 1_000);
    expect(Date.now() - signalled).toBeLessThan(1_200);
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { repository: string }).repository).toBe("fn/slow");
    const exit = await p.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const lines = logLines(p.stderr());
    expect(lines.find((l) => l.msg === "shutting down")).toMatchObject({ signal: "SIGTERM" });
    expect(lines.find((l) => l.msg === "function-runner stopped")).toMatchObject({ outcome: "drained" });
    expect(lines.find((l) => l.msg === "request" && l.path === "/v1/images/resolve")).toMatchObject({ status: 200 });
  }, 20_000);

  test("a call still running at --shutdown-timeout does not hold the exit: exit 0 at the deadline", async () => {
    const p = await serve(["--shutdown-timeout", "400ms"]);
    const base = `http://127.0.0.1:${p.httpPort}`;
    slowMs = 10_000;
    proxy.clear();
    const inflight = postJson(`${base}/v1/images/resolve`, { image: `${proxy.host}/fn/slower:v1` }).catch((e: unknown) => e);
    await waitFor(() => proxy.requests().some((r) => r.path.includes("/manifests/")));
    const signalled = Date.now();
    p.proc.kill("SIGTERM");
    const exit = await p.exited;
    const took = Date.now() - signalled;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(took).toBeGreaterThanOrEqual(350);
    expect(took).toBeLessThan(3_000);
    expect(logLines(p.stderr()).find((l) => l.msg === "function-runner stopped")).toMatchObject({ outcome: "timeout" });
    await inflight;
    slowMs = 0;
  }, 20_000);

  test("idle: exits 0 promptly", async () => {
    const p = await serve();
    // A kept-alive idle connection must not hold the shutdown.
    expect((await fetch(`http://127.0.0.1:${p.httpPort}/healthz`)).status).toBe(200);
    const signalled = Date.now();
    p.proc.kill("SIGTERM");
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(1_500);
  });
});

function grpcRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    client.waitForReady(Date.now() + 200, (err) => {
      client.close();
      resolve(err !== undefined && err !== null);
    });
  });
}
