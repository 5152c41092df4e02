// `bun bench/eval.ts` (part of `npm run bench`): what EvaluateFunction adds to
// running a function. The function is /bin/cat (a compiled binary copying
// stdin to stdout) in the exec runtime of dist/function-runner; the peer is
// the same binary spawned directly from this Bun process with the same input.
//
//  2. p50 of sequential gRPC EvaluateFunction ≤ 1.2× p50 of a direct spawn;
//     ≥ 300 calls/s sustained with 16 concurrent callers.
//
// Knobs: BENCH_EVAL_CALLS (300 sequential per side), BENCH_EVAL_SECONDS (8).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PorchClient, RESOURCE_LIST, writeFunctionsConfig } from "../test/evaluator/helpers.ts";
import { binaries } from "./binaries.ts";
import { healthServing, startServer, until200 } from "./procs.ts";
import { liveChildren, mark, summarize } from "./util.ts";

const intEnv = (name: string, def: number, min: number, max: number): number => {
  const v = Number(process.env[name] ?? def);
  return Number.isInteger(v) ? Math.min(max, Math.max(min, v)) : def;
};
const CALLS = intEnv("BENCH_EVAL_CALLS", 300, 20, 10_000);
const SECONDS = intEnv("BENCH_EVAL_SECONDS", 8, 1, 60);
const CALLERS = 16;
const TARGET = { p50: 1.2, rate: 300 } as const;
const CAT = "/bin/cat";
const IMAGE = "example.com/bench/cat:v1";

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

/** The peer: spawn, write stdin, read stdout to the end, wait for exit. */
function direct(input: Uint8Array): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(CAT, [], { stdio: ["pipe", "pipe", "pipe"] });
    let n = 0;
    child.stdout.on("data", (c: Buffer) => {
      n += c.length;
    });
    child.stderr.resume();
    child.on("error", reject);
    child.on("close", (code) => (code === 0 && n === input.length ? resolve(performance.now() - t0) : reject(new Error(`cat: exit ${code}, ${n} bytes`))));
    child.stdin.end(input);
  });
}

async function main(): Promise<void> {
  const bins = await binaries();
  const dir = mkdtempSync(join(tmpdir(), "fr-bench-eval-"));
  writeFunctionsConfig(dir, [{ image: IMAGE, binary: CAT }]);
  const s = await startServer(bins.ours, ["--functions", dir, "--disable-runtimes", "pod"]);
  const client = new PorchClient(`127.0.0.1:${s.grpcPort}`);
  const input = new TextEncoder().encode(RESOURCE_LIST);
  try {
    await until200(`${s.base}/readyz`, s.child, performance.now());
    if (!(await healthServing(s.grpcPort))) throw new Error("gRPC health is not SERVING");
    const first = await client.evaluate(IMAGE, RESOURCE_LIST);
    if (first.resourceList !== RESOURCE_LIST) throw new Error("the function did not echo its input");
    const call = async (): Promise<number> => {
      const t0 = performance.now();
      await client.evaluate(IMAGE, RESOURCE_LIST);
      return performance.now() - t0;
    };
    for (let i = 0; i < 30; i++) {
      await call();
      await direct(input);
    }
    const ours: number[] = [];
    const peer: number[] = [];
    // Interleaved, so both see the same machine.
    for (let i = 0; i < CALLS; i++) {
      ours.push(await call());
      peer.push(await direct(input));
    }
    const o = summarize(ours);
    const p = summarize(peer);
    let done = 0;
    let failed = 0;
    const until = performance.now() + SECONDS * 1000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        while (performance.now() < until) {
          try {
            await client.evaluate(IMAGE, RESOURCE_LIST, 30_000);
            done++;
          } catch {
            failed++;
          }
        }
      }),
    );
    const rate = done / ((performance.now() - t0) / 1000);
    let peerDone = 0;
    const peerUntil = performance.now() + SECONDS * 1000;
    const p0 = performance.now();
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        while (performance.now() < peerUntil) {
          await direct(input);
          peerDone++;
        }
      }),
    );
    const peerRate = peerDone / ((performance.now() - p0) / 1000);
    out(`[2] EvaluateFunction of ${CAT} (exec runtime, ${input.length}-byte ResourceList) vs spawning ${CAT} from this Bun process; ${CALLS} calls each, interleaved`);
    out(`  direct spawn:                 p50 ${fmt(p.p50)} ms  p90 ${fmt(p.p90)} ms  min ${fmt(p.min)} ms`);
    out(`  gRPC EvaluateFunction:        p50 ${fmt(o.p50)} ms  p90 ${fmt(o.p90)} ms  min ${fmt(o.min)} ms`);
    out(`  TARGET p50 ≤ ${TARGET.p50}× direct: ${fmt(o.p50 / p.p50)}× ${mark(o.p50 / p.p50 <= TARGET.p50)}`);
    out(`  TARGET ≥ ${TARGET.rate} calls/s with ${CALLERS} concurrent callers (${SECONDS} s): ${fmt(rate, 0)} calls/s${failed > 0 ? ` (${failed} failed)` : ""} ${mark(rate >= TARGET.rate && failed === 0)}` +
      `   (direct spawn, ${CALLERS} at a time: ${fmt(peerRate, 0)}/s)`);
    out("  pod evaluator cache-hit path vs a direct gRPC call to the wrapper: see bench/pod.ts");
  } finally {
    client.close();
    await s.stop();
    for (const c of liveChildren) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (e) {
  out(`bench/eval failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
