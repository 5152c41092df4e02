// Every test file names its tier in its suffix (docs/testing.md), and the
// suffix is true: a unit file reaches nothing outside its process, an int
// file does not need the compiled binary. `npm run test:unit` stays seconds
// only while this holds.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === "fixtures" ? [] : testFiles(p);
    return name.endsWith(".test.ts") ? [relative(ROOT, p)] : [];
  });
}

const FILES = testFiles(join(ROOT, "test"));
// This file names the patterns it looks for, so it is not scanned itself.
const SELF = relative(ROOT, import.meta.path);
const tierOf = (file: string): string | undefined => /\.(unit|int|e2e)\.test\.ts$/.exec(file)?.[1];

/** What a unit file may not use: other processes, sockets, the harnesses, the binary. */
const OUTSIDE = [
  /from "node:child_process"/,
  /from "node:net"/,
  /from "node:http2?"/,
  /Bun\.(spawn|serve|listen|connect)\b/,
  /support\/(registry|proxy|token-server|push|kube\/server|kube\/index)\.ts"/,
  /\bstartInProcess\b|\bspawnServing\b|\bensureBinary\b/,
];
const BINARY = [/\bspawnServing\b|\bensureBinary\b/, /dist\/function-runner/];

describe("test tiers", () => {
  test("every test file has a tier suffix", () => {
    expect(FILES.length).toBeGreaterThan(50);
    expect(FILES.filter((f) => tierOf(f) === undefined)).toEqual([]);
  });

  test("unit files reach nothing outside their process", () => {
    const offenders = FILES.filter((f) => tierOf(f) === "unit" && f !== SELF).flatMap((f) => {
      const text = readFileSync(join(ROOT, f), "utf8");
      return OUTSIDE.filter((rx) => rx.test(text)).map((rx) => `${f}: ${rx.source}`);
    });
    expect(offenders).toEqual([]);
  });

  test("int files do not need the compiled binary", () => {
    const offenders = FILES.filter((f) => tierOf(f) === "int").flatMap((f) => {
      const text = readFileSync(join(ROOT, f), "utf8");
      return BINARY.filter((rx) => rx.test(text)).map((rx) => `${f}: ${rx.source}`);
    });
    expect(offenders).toEqual([]);
  });
});
