import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FLAGS } from "../../src/config/schema.ts";
import { renderFlagsDoc } from "../../scripts/flags-doc.ts";

const DOC = join(import.meta.dir, "..", "..", "docs", "flags.md");

describe("docs/flags.md", () => {
  test("is what `bun scripts/gen-flags-doc.ts` writes from the schema (rerun it after changing a flag)", () => {
    expect(readFileSync(DOC, "utf8")).toBe(renderFlagsDoc());
  });

  test("names every flag and its default", () => {
    const doc = renderFlagsDoc();
    for (const f of FLAGS) {
      expect(doc).toContain(`| \`--${f.name}\``);
      if (f.default !== undefined && f.default !== "") expect(doc).toContain(`\`${f.default}\``);
    }
  });
});
