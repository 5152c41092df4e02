// The compiled binary linked as `grpc-health-probe` (as in the image at
// /home/nonroot/grpc-health-probe) answers with grpc-health-probe's exit
// codes: 0 SERVING, 1 invalid arguments, 2 connection failure, 3 RPC failure,
// 4 not SERVING. The peers that fail are small grpc-js servers of the test's
// own; the serving one is the runner itself.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServingStatus } from "../../src/protocol/proto.ts";
import { healthService } from "../../src/protocol/services.ts";
import { ensureBinary, spawnServing, type Spawned } from "../server/helpers.ts";

const work = mkdtempSync(join(tmpdir(), "fr-probe-"));
const PROBE = join(work, "grpc-health-probe");
let runner: Spawned;
const peers: grpc.Server[] = [];

/** Runs the probe without blocking this process: the failing peers below live in it. */
async function probe(args: string[], via: "link" | "subcommand" = "link"): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const cmd = via === "link" ? [PROBE, ...args] : [ensureBinary(), "grpc-health-probe", ...args];
  const p = spawn(cmd[0] ?? "", cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  p.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
  p.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  const code = await new Promise<number | null>((resolve) => p.once("close", (c) => resolve(c)));
  return { code, stderr, stdout };
}

/** A health server answering `status`, or failing Check with `code`, or never answering. */
async function peer(behaviour: { status?: ServingStatus; code?: grpc.status; hang?: boolean; noHealth?: boolean }): Promise<string> {
  const server = new grpc.Server();
  if (!behaviour.noHealth) {
    server.addService(healthService, {
      Check: (_call: unknown, cb: grpc.sendUnaryData<{ status: ServingStatus }>) => {
        if (behaviour.hang) return;
        if (behaviour.code !== undefined) cb({ code: behaviour.code, details: "refused by the test peer" });
        else cb(null, { status: behaviour.status ?? ServingStatus.SERVING });
      },
      Watch: () => {},
    });
  }
  peers.push(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return `127.0.0.1:${port}`;
}

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  symlinkSync(ensureBinary(), PROBE);
  runner = await spawnServing(ensureBinary(), ["--port", "0", "--http-port", "0", "--listen-address", "127.0.0.1", "--log-level", "debug"], {
    env: { KUBERNETES_SERVICE_HOST: "", KUBECONFIG: join(work, "none"), HOME: work },
  });
});

afterAll(async () => {
  runner?.proc.kill("SIGTERM");
  await runner?.exited;
  for (const p of peers) p.forceShutdown();
  rmSync(work, { recursive: true, force: true });
});

describe("grpc-health-probe (the binary under that name)", () => {
  test("0 and `status: SERVING` against the runner, as Porch's readiness probe runs it", async () => {
    const r = await probe(["-addr", `localhost:${runner.grpcPort}`]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "status: SERVING\n" });
    // The service names Porch's clients use, and the subcommand spelling.
    for (const service of ["evaluator.FunctionEvaluator", "grpc.health.v1.Health"]) {
      expect((await probe([`-addr=127.0.0.1:${runner.grpcPort}`, "-service", service])).code).toBe(0);
    }
    expect((await probe(["--addr", `:${runner.grpcPort}`], "subcommand")).code).toBe(0);
  });

  test("probe calls reach the runner's log at debug only", () => {
    const lines = runner.stderr().split("\n").filter((l) => l.includes('"method":"Check"'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.includes('"level":"debug"'))).toBe(true);
  });

  test("1 for invalid arguments", async () => {
    const r = await probe([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: -addr not specified\n");
    expect((await probe(["-addr", "x:1", "-unknown-flag"])).code).toBe(1);
    expect((await probe(["-addr", "x:1", "-connect-timeout", "0"])).code).toBe(1);
  });

  test("2 when nothing answers within -connect-timeout", async () => {
    const port = await closedPort();
    const r = await probe(["-addr", `127.0.0.1:${port}`, "-connect-timeout", "300ms"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`timeout: failed to connect service "127.0.0.1:${port}" within 300ms\n`);
  });

  test("3 when the RPC fails: an unknown service, no health service, or no answer within -rpc-timeout", async () => {
    const unknown = await probe(["-addr", `127.0.0.1:${runner.grpcPort}`, "-service", "no.such.Service"]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toStartWith("error: health rpc failed: rpc error: code = NotFound desc = ");
    const noHealth = await probe(["-addr", await peer({ noHealth: true })]);
    expect(noHealth).toMatchObject({ code: 3, stderr: "error: this server does not implement the grpc health protocol (grpc.health.v1.Health)\n" });
    const slow = await probe(["-addr", await peer({ hang: true }), "-rpc-timeout", "200ms"]);
    expect(slow).toMatchObject({ code: 3, stderr: "timeout: health rpc did not complete within 200ms\n" });
  });

  test("4 when the answer is not SERVING", async () => {
    const r = await probe(["-addr", await peer({ status: ServingStatus.NOT_SERVING })]);
    expect(r).toMatchObject({ code: 4, stderr: 'service unhealthy (responded with "NOT_SERVING")\n' });
  });
});
