// Under `deno task start` with stderr not a terminal, the runner writes no
// colour codes; Deno's own "Task start" line is coloured unless NO_COLOR is
// set, and `deno task -q start` leaves it out (docs/deno.md).
import { describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./helpers.ts";

const DENO = join(ROOT, "node_modules", ".bin", "deno");
const ESC = "\u001b";

/** Starts `deno task ...ARGS`, waits for the listening line, stops it, and returns everything it wrote. */
async function startAndStop(taskArgs: string[]): Promise<string> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  const proc: ChildProcess = spawn(DENO, ["task", ...taskArgs, "--http-port", "0", "--port", "0", "--listen-address", "127.0.0.1"], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString("utf8")));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString("utf8")));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const until = Date.now() + 45_000;
  while (!out.includes('"msg":"function-runner listening"') && proc.exitCode === null && Date.now() < until) await Bun.sleep(50);
  proc.kill("SIGTERM");
  await exited;
  return out;
}

describe("deno task start, stderr not a terminal, NO_COLOR unset", () => {
  test("the runner's own lines carry no colour codes; only Deno's Task line may", async () => {
    const out = await startAndStop(["start"]);
    expect(out).toContain('"msg":"function-runner listening"');
    const lines = out.split("\n").filter((l) => l !== "");
    const coloured = lines.filter((l) => l.includes(ESC));
    for (const l of coloured) expect(l).toContain("Task");
    expect(lines.filter((l) => l.startsWith("{")).every((l) => !l.includes(ESC))).toBe(true);
  }, 60_000);

  test("deno task -q start: no colour codes at all", async () => {
    const out = await startAndStop(["-q", "start"]);
    expect(out).toContain('"msg":"function-runner listening"');
    expect(out.includes(ESC)).toBe(false);
    expect(out).not.toContain("Task start");
  }, 60_000);
});
