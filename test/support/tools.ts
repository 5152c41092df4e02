/**
 * System tools the tests need (docs/testing.md). `npm test` installs them
 * when run as root; a non-root user may lack some. Then the tests that need
 * a missing tool are skipped with the reason, and the rest run:
 *
 * - a test file calls `requireTool("buildah", ...)` and skips its tests when
 *   `ok` is false (the reason is printed, and is part of the skipped group's name);
 * - run as a script (`bun test/support/tools.ts harness-skips`), it prints the
 *   test files that reach the registry harness (docker-registry, htpasswd,
 *   openssl) through their imports, when one of those tools is missing:
 *   test/run.sh leaves them out and lists them as skipped.
 */
import { accessSync, constants, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** Debian package of each tool, for the hint. */
const PACKAGE: Readonly<Record<string, string>> = { htpasswd: "apache2-utils" };

export interface ToolCheck {
  ok: boolean;
  missing: string[];
  /** Empty when ok; else what is missing and how to get it. */
  reason: string;
}

function onPath(tool: string, path = process.env.PATH ?? ""): boolean {
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    try {
      const file = join(dir, tool);
      if (statSync(file).isFile()) {
        accessSync(file, constants.X_OK);
        return true;
      }
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

export function checkTools(tools: readonly string[]): ToolCheck {
  const missing = tools.filter((t) => !onPath(t));
  const reason =
    missing.length === 0 ? "" : `${missing.join(", ")} not on PATH (Debian: apt-get install ${[...new Set(missing.map((t) => PACKAGE[t] ?? t))].join(" ")})`;
  return { ok: missing.length === 0, missing, reason };
}

/** The tools a test file needs; prints the reason once when one is missing (run as root, npm test installs it). */
export function requireTool(...tools: string[]): ToolCheck {
  const check = checkTools(tools);
  if (!check.ok) process.stderr.write(`skipping tests that need ${tools.join(", ")}: ${check.reason}\n`);
  return check;
}

/** The tools behind test/support/registry.ts (docker-registry; htpasswd for its users) and certs.ts (openssl). */
export const HARNESS_TOOLS: readonly string[] = ["docker-registry", "htpasswd", "openssl"];
const HARNESS_MODULES = ["test/support/registry.ts", "test/support/certs.ts"];

/** Relative imports of a TypeScript file (static and literal dynamic ones). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
    if (m[1] !== undefined) found.push(resolve(dirname(file), m[1]));
  }
  return found;
}

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

/** Test files under `root/test` whose imports reach one of the harness modules. */
export function filesReachingHarness(root: string): string[] {
  const targets = new Set(HARNESS_MODULES.map((m) => join(root, m)));
  const memo = new Map<string, boolean>();
  const reaches = (file: string): boolean => {
    const known = memo.get(file);
    if (known !== undefined) return known;
    memo.set(file, false); // cycles: not through here
    let hit = targets.has(file);
    if (!hit) {
      try {
        hit = importsOf(file).some(reaches);
      } catch {
        hit = false; // not a file of ours (a directory or a missing path)
      }
    }
    memo.set(file, hit);
    return hit;
  };
  return testFiles(join(root, "test")).filter(reaches).map((f) => relative(root, f)).sort();
}

if (import.meta.main && process.argv[2] === "harness-skips") {
  const check = checkTools(HARNESS_TOOLS);
  if (!check.ok) {
    process.stdout.write(`# ${check.reason}\n`);
    for (const f of filesReachingHarness(resolve(import.meta.dir, "..", ".."))) process.stdout.write(`${f}\n`);
  }
}
