/** Writes docs/flags.md from the flag schema: `bun scripts/gen-flags-doc.ts`. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderFlagsDoc } from "./flags-doc.ts";

const path = join(import.meta.dirname ?? ".", "..", "docs", "flags.md");
writeFileSync(path, renderFlagsDoc());
process.stdout.write(`wrote ${path}\n`);
