import type { Output } from "../config/schema.ts";

/**
 * `-o json|yaml` print the data; `table` (the default) the command's own text.
 * The YAML module loads only for `-o yaml`: one-shot start-up is mostly module loading.
 */
export async function render(output: Output, data: unknown, table: () => string): Promise<string> {
  if (output === "json") return JSON.stringify(data, null, 2);
  if (output === "yaml") return (await import("yaml")).stringify(data, { lineWidth: 0 }).trimEnd();
  return table();
}
