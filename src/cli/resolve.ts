import type { ImageMetadata } from "../image/metadata.ts";
import type { Runner } from "../runner.ts";

/** Human-readable form of a record; `--json` prints the record itself. */
export function formatMetadata(m: ImageMetadata): string {
  const rows: Array<[string, string]> = [
    ["image", m.reference],
    ["digest", m.digest],
    ["platform", `${m.platform} (${m.platformDigest})`],
    ["entrypoint", JSON.stringify(m.entrypoint)],
    ["config", `Entrypoint=${JSON.stringify(m.configEntrypoint)} Cmd=${JSON.stringify(m.configCmd)}`],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(12)}${v}`).join("\n");
}

export async function resolveCommand(runner: Runner, image: string, json: boolean): Promise<string> {
  const { metadata } = await runner.resolver.resolve(image);
  return json ? JSON.stringify(metadata, null, 2) : formatMetadata(metadata);
}
