// docs/architecture.md draws the folder-level import graph as the code has
// it, and the graph has no cycles: each folder's imports point one way.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cycles, folderGraph, mermaid } from "./import-graph.ts";

const DOC = join(import.meta.dir, "..", "..", "docs", "architecture.md");

describe("docs/architecture.md", () => {
  test("its picture is the import graph of src/ (regenerate: bun test/docs/import-graph.ts)", () => {
    const block = /```mermaid\n[\s\S]*?```/.exec(readFileSync(DOC, "utf8"))?.[0];
    expect(block).toBe(mermaid(folderGraph()));
  });

  test("no folders import each other, directly or through others", () => {
    expect(cycles(folderGraph())).toEqual([]);
  });

  test("the cycle check finds a cycle through three folders", () => {
    const g = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])], ["d", new Set(["a"])]]);
    expect(cycles(g)).toEqual([["a", "b", "c"]]);
  });
});
