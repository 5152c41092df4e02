// Comments and docs cite files in this repository (docs/...), never documents
// outside it: every docs/*.md a source, test or bench file names must exist,
// and none names the design document the project started from.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "../server/helpers.ts";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|sh)$/.test(name) ? [p] : [];
  });
}

const SOURCES = [join(ROOT, "main.ts"), ...["src", "test", "bench"].flatMap((d) => files(join(ROOT, d)))];
// Spelled in two parts so this file does not match itself.
const OUTSIDE_DOC = new RegExp(["design", "\\.md"].join(""));

describe("citations", () => {
  test("every docs/*.md named in src, test and bench exists", () => {
    const missing: string[] = [];
    for (const file of SOURCES) {
      for (const m of readFileSync(file, "utf8").matchAll(/\bdocs\/([a-z0-9-]+\.md)/g)) {
        if (!existsSync(join(ROOT, "docs", m[1] ?? ""))) missing.push(`${relative(ROOT, file)}: docs/${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test("no comment cites the design document outside the repository", () => {
    const found = SOURCES.filter((f) => OUTSIDE_DOC.test(readFileSync(f, "utf8"))).map((f) => relative(ROOT, f));
    expect(found).toEqual([]);
  });
});
