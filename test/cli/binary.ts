import { existsSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
export const BINARY = join(ROOT, "dist", "function-runner");

/** test/run.sh builds before testing; a lone `bun test` builds here. */
export function ensureBinary(): string {
  if (!existsSync(BINARY)) {
    const r = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` } });
    if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
  }
  return BINARY;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runBinary(args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  const p = Bun.spawn([ensureBinary(), ...args], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}
