// Failures whose status message would be huge (a 33 KB image name, hundreds of
// structured results, 16K multi-byte characters on stderr) against the
// compiled binary, over ONE raw HTTP/2 connection as Porch keeps one: each is
// answered with a capped message, and the same connection keeps serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeFunctionsConfig, tempDir, fixture, RESOURCE_LIST, spawnWrapper, type SpawnedWrapper } from "../evaluator/helpers.ts";
import { ensureBinary, spawnServing, type Spawned } from "./helpers.ts";
import { evaluateRequest, healthRequest, RawGrpc } from "./raw-http2.ts";

const EVALUATE = "/evaluator.FunctionEvaluator/EvaluateFunction";
const CHECK = "/grpc.health.v1.Health/Check";
const INTERNAL = 13;
const NOT_FOUND = 5;
/** The documented cap of a status message (docs/grpc.md). */
const MAX_MESSAGE_BYTES = 16 * 1024;

const work = tempDir("fr-large-errors-");
let runner: Spawned;
let wrapper: SpawnedWrapper;
let conn: RawGrpc;
let wrapperConn: RawGrpc;

/** 450 structured results, as a validator rejecting a large package would write. */
const manyResults = `results:\n${Array.from({ length: 450 }, (_, i) => `- message: "field spec.template.containers[${i}].image must be pinned to a digest, not a tag"\n  severity: error\n  resourceRef: {apiVersion: apps/v1, kind: Deployment, name: app-${i}, namespace: prod}\n`).join("")}`;

beforeAll(async () => {
  const bin = ensureBinary();
  writeFileSync(join(work, "results.yaml"), manyResults);
  writeFileSync(join(work, "wide-stderr.txt"), "日".repeat(16 * 1024));
  writeFileSync(join(work, "many-results.sh"), `#!/bin/sh\ncat\ncat ${join(work, "results.yaml")}\necho "validate: 450 errors" >&2\nexit 1\n`, { mode: 0o755 });
  writeFileSync(join(work, "wide-stderr.sh"), `#!/bin/sh\ncat >/dev/null\ncat ${join(work, "wide-stderr.txt")} >&2\nexit 1\n`, { mode: 0o755 });
  writeFunctionsConfig(work, [
    { image: "example.com/many-results:v1", binary: join(work, "many-results.sh") },
    { image: "example.com/wide-stderr:v1", binary: join(work, "wide-stderr.sh") },
    { image: "example.com/set-namespace:v1", binary: fixture("set-namespace.sh") },
  ]);
  // No Kubernetes: KUBERNETES_SERVICE_HOST unset and no kubeconfig, so unknown images end in NOT_FOUND.
  const env = { KUBERNETES_SERVICE_HOST: "", KUBECONFIG: join(work, "no-kubeconfig"), HOME: work };
  [runner, wrapper] = await Promise.all([
    spawnServing(bin, ["--port", "0", "--http-port", "0", "--listen-address", "127.0.0.1", "--functions", work], { env }),
    spawnWrapper(bin, ["wrapper-server", "--port", "0", "--listen-address", "127.0.0.1", "--", join(work, "many-results.sh")]),
  ]);
  conn = new RawGrpc(`http://127.0.0.1:${runner.grpcPort}`);
  wrapperConn = new RawGrpc(`http://${wrapper.address}`);
});

afterAll(async () => {
  conn?.close();
  wrapperConn?.close();
  runner?.proc.kill("SIGTERM");
  await Promise.all([runner?.exited, wrapper?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/** The message as a client shows it: within the cap, whole UTF-8, and saying what was cut. */
function expectCapped(message: string, marker = /\[… \d+ bytes of this message omitted …\]/): void {
  expect(Buffer.byteLength(message, "utf8")).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  expect(message.includes("\uFFFD")).toBe(false);
  expect(marker.test(message)).toBe(true);
}

/** The connection still works: health and a real evaluation on the same session. */
async function expectStillServing(c: RawGrpc, evaluate: boolean): Promise<void> {
  const health = await c.call(CHECK, healthRequest());
  expect(health.status).toBe(0);
  expect(health.messages[0]?.toString("hex")).toBe("0801");
  if (evaluate) {
    const ok = await c.call(EVALUATE, evaluateRequest("example.com/set-namespace:v1", RESOURCE_LIST));
    expect(ok.status).toBe(0);
    expect(ok.messages[0]?.toString("utf8")).toContain("namespace: prod");
  }
  expect(c.session.destroyed).toBe(false);
  expect(c.errors).toEqual([]);
}

describe("large failures on one HTTP/2 connection (compiled binary)", () => {
  test("a 33 KB image name: NOT_FOUND with a capped message naming the start of the image", async () => {
    // ASCII, and multi-byte characters (the worst case on the wire: 9 bytes percent-encoded per character).
    for (const name of ["a".repeat(33 * 1024), "日".repeat(11 * 1024)]) {
      const image = `example.com/${name}:v1`;
      const res = await conn.call(EVALUATE, evaluateRequest(image));
      expect(res.status).toBe(NOT_FOUND);
      // Bounded either by the reference-length check (which quotes a prefix) or by the status cap.
      expect(Buffer.byteLength(res.message, "utf8")).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(res.message.includes("\uFFFD")).toBe(false);
      expect(res.message).toContain(`example.com/${name.slice(0, 4)}`);
      await expectStillServing(conn, true);
    }
  });

  test("a 40 KB health service name: NOT_FOUND with a bounded message, connection intact", async () => {
    const res = await conn.call(CHECK, healthRequest(`svc.${"日".repeat(14_000)}`));
    expect(res.status).toBe(NOT_FOUND);
    expectCapped(res.message);
    expect(Buffer.byteLength(res.message, "utf8")).toBeLessThanOrEqual(1024);
    await expectStillServing(conn, true);
  });

  test("an exec function failing with 16K multi-byte characters on stderr: INTERNAL, capped in bytes", async () => {
    const res = await conn.call(EVALUATE, evaluateRequest("example.com/wide-stderr:v1", RESOURCE_LIST));
    expect(res.status).toBe(INTERNAL);
    expect(res.message).toStartWith('Failed to execute function "example.com/wide-stderr:v1": exit status 1 (');
    // stderr is cut to its last 8 KiB (whole characters), saying how many bytes went.
    expectCapped(res.message, /\(\[… \d+ earlier bytes of stderr omitted\]日日日/);
    expect(res.message).toEndWith("日)");
    await expectStillServing(conn, true);
  });

  test("an exec function failing with 450 structured results: INTERNAL, connection intact", async () => {
    const res = await conn.call(EVALUATE, evaluateRequest("example.com/many-results:v1", RESOURCE_LIST));
    expect(res.status).toBe(INTERNAL);
    expect(res.message).toStartWith('Failed to execute function "example.com/many-results:v1": exit status 1 (');
    await expectStillServing(conn, true);
  });

  test("the wrapper server (function pods) with 450 structured results: capped, connection intact", async () => {
    const res = await wrapperConn.call(EVALUATE, evaluateRequest("example.com/many-results:v1", RESOURCE_LIST));
    expect(res.status).toBe(INTERNAL);
    expect(res.message).toStartWith('failed to evaluate function "example.com/many-results:v1" with structured results: ');
    expectCapped(res.message);
    // The cut keeps the end, where stderr explains the failure.
    expect(res.message).toEndWith("and stderr: validate: 450 errors\n");
    await expectStillServing(wrapperConn, false);
  });

  test("several large failures in parallel on the same connection are all answered", async () => {
    const calls = Array.from({ length: 6 }, (_, i) =>
      conn.call(EVALUATE, evaluateRequest(i % 2 === 0 ? "example.com/wide-stderr:v1" : `example.com/${"b".repeat(40_000)}:v${i}`, RESOURCE_LIST)),
    );
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.status)).toEqual([INTERNAL, NOT_FOUND, INTERNAL, NOT_FOUND, INTERNAL, NOT_FOUND]);
    await expectStillServing(conn, true);
  });
});
