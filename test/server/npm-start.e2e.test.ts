// `npm start` must hand signals to the server: the script execs Bun, so the
// SIGTERM npm forwards to its child reaches the server itself and it shuts
// down, instead of a shell dying and leaving the server running.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { alive } from "../evaluator/helpers.ts";
import { ROOT } from "./helpers.ts";

/** Every descendant of `pid`, read from /proc (children before grandchildren). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(name), ppid);
    } catch {
      // Gone meanwhile.
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

const leftovers: number[] = [];
afterAll(() => {
  for (const pid of leftovers) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

describe("npm start", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} to the npm process ends the server`, async () => {
      const npm = spawn("npm", ["start", "--silent", "--", "--http-port", "0", "--port", "0", "--listen-address", "127.0.0.1"], {
        cwd: ROOT,
        env: { ...process.env, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH ?? ""}` },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      npm.stdout?.on("data", (d: Buffer) => (out += d.toString("utf8")));
      npm.stderr?.on("data", (d: Buffer) => (out += d.toString("utf8")));
      const exited = new Promise<number | null>((resolve) => npm.once("exit", (code) => resolve(code)));
      const until = Date.now() + 30_000;
      while (!out.includes('"msg":"function-runner listening"') && npm.exitCode === null && Date.now() < until) await Bun.sleep(50);
      expect(out).toContain('"msg":"function-runner listening"');

      const tree = descendants(npm.pid ?? 0);
      leftovers.push(...tree);
      // Exec'd: npm's only descendant is the server itself (no shell in between).
      expect(tree).toHaveLength(1);

      npm.kill(signal);
      await exited;
      for (let i = 0; i < 100 && tree.some(alive); i++) await Bun.sleep(50);
      expect(tree.filter(alive)).toEqual([]);
      expect(out).toContain('"msg":"function-runner stopped"');
    }, 60_000);
  }
});
