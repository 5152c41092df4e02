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

/** Left out of the picture: imported by almost every folder (docs/architecture.md says so). */
export const EVERYWHERE: ReadonlySet<string> = new Set(["errors", "log"]);

/** The Mermaid block docs/architecture.md shows. */
export function mermaid(graph: Map<string, Set<string>>): string {
  const lines = ["```mermaid", "flowchart TD"];
  for (const from of [...graph.keys()].sort()) {
    if (EVERYWHERE.has(from)) continue;
    for (const to of [...(graph.get(from) ?? [])].sort()) if (!EVERYWHERE.has(to)) lines.push(`  ${from} --> ${to}`);
  }
  lines.push("```");
  return lines.join("\n");
}

/** Groups of folders that reach each other through imports (strongly connected, more than one folder). */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  const reach = (from: string): Set<string> => {
    const seen = new Set<string>();
    const todo = [from];
    while (todo.length > 0) {
      for (const to of graph.get(todo.pop() ?? "") ?? []) if (!seen.has(to)) seen.add(to), todo.push(to);
    }
    return seen;
  };
  const nodes = [...new Set([...graph.keys(), ...[...graph.values()].flatMap((s) => [...s])])].sort();
  const reaches = new Map(nodes.map((n) => [n, reach(n)]));
  const groups = new Map<string, string[]>();
  for (const n of nodes) {
    const group = nodes.filter((m) => m === n || (reaches.get(n)?.has(m) && reaches.get(m)?.has(n)));
    if (group.length > 1) groups.set(group.join(" "), group);
  }
  return [...groups.values()];
}

if (import.meta.main) {
  const graph = folderGraph();
  console.log(mermaid(graph));
  const found = cycles(graph);
  console.log(found.length === 0 ? "\nno import cycles between folders" : `\nfolders in import cycles: ${found.map((g) => g.join(" → ")).join("; ")}`);
}
