// Porch's function-runner Deployment as copied into test/fixtures/porch/:
// the container the service tests start as written.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ROOT } from "./helpers.ts";

export const PORCH_FIXTURES = join(ROOT, "test", "fixtures", "porch");

export interface PorchContainer {
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  readinessProbe?: { exec?: { command?: string[] } };
}

/** The function-runner container of the Deployment in a fixture file. */
export function deploymentContainer(file: string): PorchContainer {
  for (const doc of parseAllDocuments(readFileSync(join(PORCH_FIXTURES, file), "utf8"))) {
    const o = doc.toJSON() as { kind?: string; metadata?: { name?: string }; spec?: { template?: { spec?: { containers?: PorchContainer[] } } } } | null;
    if (o?.kind === "Deployment" && o.metadata?.name === "function-runner") {
      const c = o.spec?.template?.spec?.containers?.[0];
      if (c) return c;
    }
  }
  throw new Error(`no function-runner Deployment in ${file}`);
}
