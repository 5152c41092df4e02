// A module whose header says "Pure." does no I/O, and neither does anything it
// imports (docs/architecture.md): following its value imports (type-only ones
// are erased) reaches only other modules labelled pure, the few unlabelled
// leaves below, and libraries that compute. A pure module that borrows a
// helper from a shell (as pod-reuse.ts once did from pod-kube.ts) fails here.
import { describe, expect, test } from "../support/testing.ts";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../src", import.meta.url));

/** Unlabelled modules pure ones may use: they import nothing but each other and the libraries below. */
const LEAVES = new Set(["errors.ts", "version.ts", "image/platform.ts", "config/duration.ts", "config/flags.ts", "config/schema.ts"]);
/** Libraries that only compute. */
const LIBRARIES = new Set(["zod", "yaml", "node:crypto", "node:buffer", "node:path", "node:process"]);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : name.endsWith(".ts") && !name.endsWith(".d.ts") ? [p] : [];
  });
}

const STATIC = /^\s*(?:import|export)\s+(type\s+)?([^;]*?)\s+from\s+"([^"]+)"/gms;
const BARE = /^\s*import\s+"([^"]+)"/gm;
const DYNAMIC = /\bimport\(\s*"([^"]+)"\s*\)/g;

/** The specifiers a module imports for their values (not `import type`, not `{ type A, type B }`). */
function valueImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(STATIC)) {
    if (m[1] !== undefined) continue;
    const named = /^\{([\s\S]*)\}$/.exec((m[2] ?? "").trim());
    const names = named?.[1]?.split(",").map((n) => n.trim()).filter((n) => n !== "");
    if (names !== undefined && names.every((n) => n.startsWith("type "))) continue;
    out.push(m[3] ?? "");
  }
  for (const m of text.matchAll(BARE)) out.push(m[1] ?? "");
  for (const m of text.matchAll(DYNAMIC)) out.push(m[1] ?? "");
  return out;
}

const header = (text: string): string => text.split("*/")[0] ?? "";
const labelledPure = (text: string): boolean => /^\s*\*\s*(?:.*\s)?Pure[.:]/m.test(header(text));

/** Every module `file` reaches by value imports that a pure module may not: "via → what". */
function leaks(file: string): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const stack = [file];
  while (stack.length > 0) {
    const at = stack.pop() ?? "";
    if (seen.has(at)) continue;
    seen.add(at);
    for (const spec of valueImports(readFileSync(at, "utf8"))) {
      const via = relative(SRC, at);
      if (!spec.startsWith(".")) {
        if (!LIBRARIES.has(spec)) found.push(`${via} → ${spec}`);
        continue;
      }
      const target = resolve(dirname(at), spec);
      const name = relative(SRC, target);
      if (!LEAVES.has(name) && !labelledPure(readFileSync(target, "utf8"))) found.push(`${via} → ${name} (not pure)`);
      else stack.push(target);
    }
  }
  return found;
}

describe("pure modules", () => {
  const pure = sources(SRC).filter((f) => labelledPure(readFileSync(f, "utf8")));

  test("the pod facts, pod rules, digest check and file stamp are labelled pure", () => {
    const names = pure.map((f) => relative(SRC, f));
    for (const name of [
      "evaluator/pod-facts.ts",
      "evaluator/pod-reuse.ts",
      "evaluator/pod-verdict.ts",
      "evaluator/pod-slot.ts",
      "evaluator/pod-choice.ts",
      "evaluator/pod-cache.ts",
      "image/digest.ts",
      "files/file-stamp.ts",
    ]) {
      expect(names).toContain(name);
    }
  });

  test("reach no I/O through their imports", () => {
    expect(pure.flatMap(leaks)).toEqual([]);
  });

  test("the leaves they may use import only libraries that compute", () => {
    expect([...LEAVES].flatMap((name) => leaks(join(SRC, name)))).toEqual([]);
  });

  test("type-only imports do not count; value, mixed, bare and dynamic imports do", () => {
    const text = [
      'import type { KubeClient } from "../kube/client.ts";',
      'import { type V1Pod, type V1Service } from "@kubernetes/client-node";',
      'import { type Logger, silentLogger } from "../log.ts";',
      'import "./side-effect.ts";',
      'const m = await import("node:fs");',
      "import {\n  alive,\n  labelOf,\n} from \"./pod-facts.ts\";",
    ].join("\n");
    expect(valueImports(text)).toEqual(["../log.ts", "./pod-facts.ts", "./side-effect.ts", "node:fs"]);
  });
});
