// docs/flags.md documents every flag the binary accepts: the flags are read
// from the compiled binary's own help, so a new or renamed flag fails here
// until docs/flags.md names it.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary, ROOT } from "../server/helpers.ts";

const FLAGS_MD = readFileSync(join(ROOT, "docs", "flags.md"), "utf8");

/** `--name` at the start of an indented help line: the flag list of a usage text. */
function helpFlags(args: string[]): string[] {
  const r = spawnSync(ensureBinary(), args, { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  const text = `${r.stdout}${r.stderr}`;
  return [...text.matchAll(/^\s+(--[a-z0-9][a-z0-9-]*)/gm)].map((m) => m[1] ?? "");
}

describe("docs/flags.md", () => {
  for (const [name, args, least] of [
    ["serve", ["serve", "--help"], 25],
    ["wrapper-server", ["wrapper-server", "--help"], 4],
  ] as const) {
    test(`names every flag of ${name} --help`, () => {
      const flags = [...new Set(helpFlags([...args]))];
      // A help text whose flags this test cannot see must fail, not pass empty.
      expect(flags.length).toBeGreaterThanOrEqual(least);
      const missing = flags.filter((f) => !FLAGS_MD.includes(`\`${f}\``));
      expect(missing).toEqual([]);
    });
  }
});
