// `npm run test:unit` (docs/testing.md) runs the unit tier alone: only
// *.unit.test.ts files, under Bun and then Deno, ending with its own
// "N passed, N failed"; an unknown tier is a usage error with that line too.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

function run(args: string[], logs: string) {
  const r = spawnSync(args[0] ?? "", args.slice(1), { cwd: ROOT, encoding: "utf8", env: { ...process.env, TEST_LOG_DIR: logs, NO_COLOR: "1" } });
  const lines = r.stdout.trimEnd().split("\n");
  return { status: r.status, last: lines[lines.length - 1] ?? "" };
}

describe("test tiers", () => {
  test("npm run test:unit runs only unit files, Bun and Deno, and ends with its own count", () => {
    const logs = mkdtempSync(join(tmpdir(), "fr-tiers-"));
    try {
      const r = run(["npm", "run", "--silent", "test:unit"], logs);
      expect(r.last).toMatch(/^[1-9][0-9]* passed, 0 failed$/);
      expect(r.status).toBe(0);
      const bunFiles = readFileSync(join(logs, "test-all.log"), "utf8").split("\n").filter((l) => /^test\/.*\.test\.ts:$/.test(l));
      expect(bunFiles.length).toBeGreaterThan(20);
      expect(bunFiles.filter((f) => !f.endsWith(".unit.test.ts:"))).toEqual([]);
      expect(readFileSync(join(logs, "test-deno-unit.log"), "utf8")).toMatch(/^ok \| [1-9][0-9]* passed/m);
    } finally {
      rmSync(logs, { recursive: true, force: true });
    }
  }, 600_000);

  test("an unknown tier is a usage error that still ends with the count line", () => {
    const logs = mkdtempSync(join(tmpdir(), "fr-tiers-"));
    try {
      const r = run(["bash", "test/run.sh", "fast"], logs);
      expect(r.status).toBe(2);
      expect(r.last).toBe("0 passed, 1 failed");
    } finally {
      rmSync(logs, { recursive: true, force: true });
    }
  });
});
