// FunctionProcesses with both ways of starting a process: Bun.spawn (what the
// service uses under Bun) and node:child_process (what it uses under Deno).
// Each must give the same outcomes and kill the same process groups.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { defaultLauncher, FunctionProcesses, type Launcher, nodeLauncher, type RunOptions } from "../../src/evaluator/process.ts";
import { alive, decode, encode, fixture, tempDir, waitFor } from "./helpers.ts";

const dirs: string[] = [];
const strays: number[] = [];
afterAll(() => {
  for (const pid of strays) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const pidFile = (): string => {
  const dir = tempDir("fr-process-");
  dirs.push(dir);
  return join(dir, "pids");
};
const pidsIn = (file: string): number[] => readFileSync(file, "utf8").trim().split(/\s+/).map(Number);
const base = (argv: string[], stdin: Uint8Array = encode("")): RunOptions => ({ argv, stdin, maxStdoutBytes: 1 << 24, maxStderrBytes: 1 << 20 });

const launchers: [string, Launcher][] = [
  ["Bun.spawn", defaultLauncher],
  ["node:child_process", nodeLauncher],
];

test("under Bun the default is Bun.spawn, not node:child_process", () => {
  expect(defaultLauncher).not.toBe(nodeLauncher);
});

describe.each(launchers)("FunctionProcesses with %s", (_name, launcher) => {
  const processes = (): FunctionProcesses => new FunctionProcesses(launcher);

  test("stdin reaches the program whole and stdout comes back whole (several MiB: many pipe buffers both ways)", async () => {
    const input = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < input.length; i++) input[i] = (i * 31 + 7) & 0xff;
    const out = await processes().run(base(["/bin/cat"], input));
    expect(out.kind).toBe("exited");
    if (out.kind !== "exited") return;
    expect(out.code).toBe(0);
    expect(out.signal).toBeNull();
    expect(out.stdout.byteLength).toBe(input.byteLength);
    expect(Buffer.compare(Buffer.from(out.stdout), Buffer.from(input))).toBe(0);
  });

  test("a view into a larger buffer sends only its own bytes", async () => {
    const whole = encode("XXXXhello, functionYYYY");
    const out = await processes().run(base(["/bin/cat"], whole.subarray(4, whole.length - 4)));
    expect(out.kind === "exited" && decode(out.stdout)).toBe("hello, function");
  });

  test("empty input and no output", async () => {
    const out = await processes().run(base(["/bin/cat"]));
    expect(out.kind === "exited" && out.stdout.byteLength).toBe(0);
  });

  test("stderr is the log; exit codes and signals are reported", async () => {
    const failed = await processes().run(base(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]));
    expect(failed).toMatchObject({ kind: "exited", code: 3, signal: null, stderr: "err\n" });
    expect(failed.kind === "exited" && decode(failed.stdout)).toBe("out\n");
    const signalled = await processes().run(base(["/bin/sh", "-c", "kill -TERM $$"]));
    expect(signalled).toMatchObject({ kind: "exited", code: null, signal: "SIGTERM" });
  });

  test("a program that exits without reading a large input: its exit, not a broken pipe", async () => {
    const out = await processes().run(base(["/bin/sh", "-c", "echo done"], new Uint8Array(4 * 1024 * 1024)));
    expect(out.kind === "exited" && out.code).toBe(0);
    expect(out.kind === "exited" && decode(out.stdout)).toBe("done\n");
  });

  test("stderr beyond its limit is dropped with a marker", async () => {
    const out = await processes().run({ ...base(["/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' e >&2"]), maxStderrBytes: 1000 });
    expect(out.kind).toBe("exited");
    expect(out.stderr).toBe(`${"e".repeat(1000)}\n[99000 more bytes of stderr dropped]`);
  });

  test("stdout beyond its limit: stdout-too-large, and the program is killed", async () => {
    const out = await processes().run({ ...base([fixture("flood.sh"), "1024"]), maxStdoutBytes: 64 * 1024 });
    expect(out).toMatchObject({ kind: "stdout-too-large", limit: 64 * 1024 });
  });

  test("a program that cannot start: spawn-failed naming it", async () => {
    const out = await processes().run(base(["/nonexistent/no-such-binary"]));
    expect(out.kind).toBe("spawn-failed");
    expect(out.kind === "spawn-failed" && out.error).toContain("/nonexistent/no-such-binary");
    expect(out.kind === "spawn-failed" && out.error).toContain("ENOENT");
  });

  test("the deadline kills the whole process group", async () => {
    const file = pidFile();
    const out = await processes().run({ ...base([fixture("hang.sh"), file]), deadline: Date.now() + 500 });
    expect(out.kind).toBe("deadline");
    expect(out.stderr).toContain("hang: waiting forever");
    const [shell, child] = pidsIn(file);
    expect(await waitFor(() => !alive(shell ?? 0) && !alive(child ?? 0), 3_000)).toBe(true);
  });

  test("aborting kills the whole process group", async () => {
    const file = pidFile();
    const ac = new AbortController();
    const running = processes().run({ ...base([fixture("hang.sh"), file]), signal: ac.signal });
    expect(await waitFor(() => readFileSync(file, { flag: "a+" }).length > 0)).toBe(true);
    ac.abort();
    expect((await running).kind).toBe("aborted");
    const [shell, child] = pidsIn(file);
    expect(await waitFor(() => !alive(shell ?? 0) && !alive(child ?? 0), 3_000)).toBe(true);
  });

  test("killAll ends every running group", async () => {
    const p = processes();
    const files = [pidFile(), pidFile()];
    const running = files.map((f) => p.run(base([fixture("hang.sh"), f])));
    expect(await waitFor(() => files.every((f) => readFileSync(f, { flag: "a+" }).length > 0))).toBe(true);
    expect(p.size).toBe(2);
    p.killAll();
    const outs = await Promise.all(running);
    expect(outs.map((o) => o.kind === "exited" && o.signal)).toEqual(["SIGKILL", "SIGKILL"]);
    expect(p.size).toBe(0);
    for (const pid of files.flatMap(pidsIn)) expect(await waitFor(() => !alive(pid), 3_000)).toBe(true);
  });

  test("a clean exit ends what the program left running in its group", async () => {
    const file = pidFile();
    const out = await processes().run(base([fixture("orphan.sh"), file]));
    expect(out.kind === "exited" && out.code).toBe(0);
    const [child] = pidsIn(file);
    expect(await waitFor(() => !alive(child ?? 0), 3_000)).toBe(true);
  });

  test("a process that left the group and holds stdout does not hold the call", async () => {
    const file = pidFile();
    // setsid: a new session, out of reach of the group kill; it keeps the inherited stdout open.
    // The shell exits only once the other session exists (the file is written after setsid).
    const script = `setsid sh -c 'echo $$ > ${file}; exec sleep 300' & while [ ! -s ${file} ]; do sleep 0.01; done; echo answered`;
    const out = await processes().run(base(["/bin/sh", "-c", script]));
    strays.push(...pidsIn(file));
    expect(strays.every((pid) => alive(pid))).toBe(true);
    expect(out.kind === "exited" && out.code).toBe(0);
    expect(out.kind === "exited" && decode(out.stdout)).toBe("answered\n");
  });
});
