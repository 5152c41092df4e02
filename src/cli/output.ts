import { stringify } from "yaml";
import type { Output } from "../config/schema.ts";

/** `-o json|yaml` print the data; `table` (the default) the command's own text. */
export function render(output: Output, data: unknown, table: () => string): string {
  if (output === "json") return JSON.stringify(data, null, 2);
  if (output === "yaml") return stringify(data, { lineWidth: 0 }).trimEnd();
  return table();
}
