// Prints the folder-level import graph of src/ (and main.ts) as the Mermaid
// block docs/architecture.md shows, and the pairs of folders that import each
// other. Regenerate the picture with:
//
//   ./node_modules/.bin/bun test/docs/import-graph.ts
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..", "..");

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** The node a file belongs to: its folder under src/, or the file itself at the top (runner, errors, log, main). */
function nodeOf(file: string): string {
  const rel = relative(ROOT, file);
  const parts = rel.split("/");
  if (parts[0] !== "src") return rel.replace(/\.ts$/, "");
  return parts.length > 2 ? (parts[1] ?? rel) : (parts[1] ?? rel).replace(/\.ts$/, "");
}

/** Relative specifiers of static imports, re-exports and dynamic imports (type-only ones included). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*"(\.[^"]+)"/g)) out.push(m[1] ?? "");
  for (const m of text.matchAll(/\bimport\(\s*"(\.[^"]+)"\s*\)/g)) out.push(m[1] ?? "");
  return out;
}

export function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of [join(ROOT, "main.ts"), ...tsFiles(join(ROOT, "src"))]) {
    const from = nodeOf(file);
    for (const spec of specifiers(readFileSync(file, "utf8"))) {
      const target = normalize(join(dirname(file), spec));
      if (!relative(ROOT, target).startsWith("src/")) continue;
      const to = nodeOf(target);
      if (to === from) continue;
      let set = graph.get(from);
      if (set === undefined) graph.set(from, (set = new Set()));
      set.add(to);
    }
  }
  return graph;
}

if (import.meta.main) {
  const graph = folderGraph();
  const lines = ["```mermaid", "flowchart TD"];
  for (const from of [...graph.keys()].sort()) {
    for (const to of [...(graph.get(from) ?? [])].sort()) lines.push(`  ${from} --> ${to}`);
  }
  lines.push("```");
  console.log(lines.join("\n"));
  const cycles: string[] = [];
  for (const [from, tos] of graph) {
    for (const to of tos) if (from < to && graph.get(to)?.has(from)) cycles.push(`${from} <-> ${to}`);
  }
  console.log(cycles.length === 0 ? "\nno folder imports a folder that imports it" : `\nfolders importing each other: ${cycles.sort().join(", ")}`);
}
