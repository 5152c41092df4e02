import process from "node:process";

/** This build's version: `version`, `--version`, the probe's `-version` and function_runner_build_info. */
export const VERSION = "0.1.0";

/** The JavaScript runtime running us, e.g. "bun/1.4.5" or "deno/2.9.6", for build_info. */
export function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun) return `bun/${g.Bun.version}`;
  if (g.Deno) return `deno/${g.Deno.version.deno}`;
  return `node/${process.versions.node ?? "unknown"}`;
}
