// A function that exits 0 while a child it started (stdio redirected, so
// none of our pipes stays open) keeps running: the compiled binary must end
// the function's process group when the function's main process ends, or
// every call leaves one process behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary, postJson, spawnServing, type Spawned } from "../server/helpers.ts";
import { alive, fixture, RESOURCE_LIST, tempDir, waitFor, writeFunctionsConfig } from "./helpers.ts";

const CALLS = 5;
const dir = tempDir("fr-orphans-");
const pidFile = join(dir, "pids");
let svc: Spawned;

const leftPids = (): number[] =>
  existsSync(pidFile) ? readFileSync(pidFile, "utf8").trim().split("\n").filter(Boolean).map(Number) : [];

beforeAll(async () => {
  writeFunctionsConfig(dir, [{ image: "example.com/fns/orphan:v1", binary: fixture("orphan.sh"), args: [pidFile] }]);
  svc = await spawnServing(ensureBinary(), ["--http-port", "0", "--port", "0", "--listen-address", "127.0.0.1", "--functions", dir]);
});

afterAll(async () => {
  // On a failure the leftovers are ours to clean up (they were reparented away from the runner).
  for (const pid of leftPids()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  svc?.proc.kill("SIGTERM");
  await svc?.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe("exec functions leave no process behind", () => {
  test(`${CALLS} clean calls of a function whose child outlives it: no child left running`, async () => {
    for (let i = 0; i < CALLS; i++) {
      const res = await postJson(`http://127.0.0.1:${svc.httpPort}/v1/functions/evaluate`, { image: "example.com/fns/orphan:v1", resourceList: RESOURCE_LIST });
      expect(res.status).toBe(200);
    }
    const pids = leftPids();
    expect(pids).toHaveLength(CALLS);
    // SIGKILL is delivered asynchronously; wait for the count to reach 0 rather than timing anything.
    await waitFor(() => pids.every((p) => !alive(p)), 3_000);
    expect(pids.filter((p) => alive(p))).toEqual([]);
  }, 30_000);
});
