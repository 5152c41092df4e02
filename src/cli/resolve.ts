import type { Output } from "../config/schema.ts";
import { parsePlatform } from "../image/platform.ts";
import { resolveAnswer } from "../resolve/resolve-answer.ts";
import type { Resolution } from "../resolve/resolver.ts";
import { formatStep } from "../registry/transport.ts";
import type { Runner } from "../runner.ts";
import { render } from "./output.ts";

/** Rows of `key: value`, aligned. */
export const table = (rows: ReadonlyArray<readonly [string, string]>): string =>
  rows.map(([k, v]) => `${`${k}:`.padEnd(13)}${v}`).join("\n");

/** Human-readable form of a resolution; `-o json|yaml` print the resolve answer (src/resolve/resolve-answer.ts). */
export function formatResolution(r: Resolution): string {
  const m = r.metadata;
  return table([
    ["image", m.reference],
    ["digest", m.digest],
    ["platform", `${m.platform} (${m.platformDigest})`],
    ["entrypoint", JSON.stringify(m.entrypoint)],
    ["config", `Entrypoint=${JSON.stringify(m.configEntrypoint)} Cmd=${JSON.stringify(m.configCmd)}`],
    ["auth", `${r.auth.strategy} (${r.auth.source})`],
    ...(r.transport ? [["transport", formatStep(r.transport)] as const] : []),
  ]);
}

/** `platform`: an explicit --platform, which a single-platform image must match (NO_MATCHING_PLATFORM). */
export async function resolveCommand(runner: Pick<Runner, "resolver">, image: string, output: Output, platform?: string): Promise<string> {
  const r = await runner.resolver.resolve(image, platform === undefined ? undefined : parsePlatform(platform));
  return render(output, resolveAnswer(image, r), () => formatResolution(r));
}
