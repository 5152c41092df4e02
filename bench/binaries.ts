// The binaries the benchmarks compare: dist/function-runner as `npm run build`
// makes it, and bench/bare-hono.ts compiled with the very same `bun build`
// flags (read from package.json's build script), so a ratio compares our code
// with Hono's, never two build configurations.
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "./util.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BUN = process.versions.bun !== undefined ? process.execPath : join(ROOT, "node_modules/.bin/bun");

export interface Binaries {
  ours: string;
  bare: string;
  /** The `bun build` flags both were built with. */
  flags: string[];
  oursBytes: number;
  bareBytes: number;
}

/** The flags of the `bun build` command in package.json's build script (entry point and --outfile removed). */
export function buildFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { build: string } };
  const cmd = pkg.scripts.build.split("&&").map((s) => s.trim()).find((s) => s.startsWith("bun build"));
  if (cmd === undefined) throw new Error("package.json build script has no `bun build` command");
  const words = cmd.split(/\s+/).slice(2);
  const flags: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w === "--outfile") i++;
    else if (w.startsWith("--")) flags.push(w);
  }
  return flags;
}

let built: Promise<Binaries> | undefined;

/** Builds both once per process. */
export function binaries(): Promise<Binaries> {
  built ??= (async () => {
    const b1 = await runProcess(BUN, ["run", "--cwd", ROOT, "build"], { timeoutMs: 180_000 });
    if (b1.code !== 0) throw new Error(`npm run build failed: ${b1.stderr.slice(0, 400)}`);
    const flags = buildFlags();
    const dir = mkdtempSync(join(tmpdir(), "fr-bench-bare-"));
    const bare = join(dir, "bare-hono");
    const b2 = await runProcess(BUN, ["build", ...flags, join(ROOT, "bench/bare-hono.ts"), "--outfile", bare], { timeoutMs: 180_000 });
    if (b2.code !== 0) throw new Error(`building bench/bare-hono.ts failed: ${b2.stderr.slice(0, 400)}`);
    const ours = join(ROOT, "dist/function-runner");
    return { ours, bare, flags, oursBytes: statSync(ours).size, bareBytes: statSync(bare).size };
  })();
  return built;
}
