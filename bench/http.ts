// `bun bench/http.ts` (part of `npm run bench`): the service binary against a
// bare Hono binary built with the same flags (bench/binaries.ts), same run.
//
//  1. Cache-hit POST /v1/images/resolve vs a bare Hono route that parses the
//     same JSON body and answers a JSON object of the same size (wrk, 64
//     connections, rounds alternating). Target: ≥ 90 %. Also shown: the same
//     with --access-log (a log line per request at info), for its cost.
//  2. Start → ready: ours until gRPC health SERVING and /readyz 200, bare until
//     its first /readyz 200. Target p50 ≤ 2×. Idle RSS ≤ 1.5×, binary ≤ 1.1×.
//     Where our start-up time goes: the milestones main.ts logs at debug.
//  3. RSS after BENCH_RSS_IMAGES (10,000) cached images ≤ idle + 20 MB.
//
// Knobs: BENCH_HTTP_SECONDS (8), BENCH_HTTP_ROUNDS (3), BENCH_START_RUNS (15),
// BENCH_RSS_IMAGES (10000), BENCH_HTTP_PARTS (hot,start,memory: which parts run; all by default).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushImage, pushRawManifest } from "../test/support/push.ts";
import { startRegistry, type TestRegistry } from "../test/support/registry.ts";
import { binaries, type Binaries } from "./binaries.ts";
import { healthServing, rssMb, startServer, until200, type Server } from "./procs.ts";
import { liveChildren, mark, pool, runProcess, summarize } from "./util.ts";

const intEnv = (name: string, def: number, min: number, max: number): number => {
  const v = Number(process.env[name] ?? def);
  return Number.isInteger(v) ? Math.min(max, Math.max(min, v)) : def;
};
const SECONDS = intEnv("BENCH_HTTP_SECONDS", 8, 1, 60);
const ROUNDS = intEnv("BENCH_HTTP_ROUNDS", 3, 1, 10);
const START_RUNS = intEnv("BENCH_START_RUNS", 15, 3, 100);
const RSS_IMAGES = intEnv("BENCH_RSS_IMAGES", 10_000, 100, 50_000);
const CONNECTIONS = 64;
const PARTS = new Set((process.env.BENCH_HTTP_PARTS ?? "hot,start,memory").split(","));
const TARGET = { hotPath: 0.9, start: 2, rss: 1.5, binary: 1.1, cacheMb: 20 } as const;

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  bad: number;
}

/** wrk's latency value ("812.00us", "1.20ms", "1.01s") in milliseconds. */
function wrkMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

async function wrk(url: string, script: string, seconds: number): Promise<WrkResult> {
  const r = await runProcess("wrk", ["-t", "2", "-c", String(CONNECTIONS), "-d", `${seconds}s`, "--latency", "-s", script, url], { timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`wrk failed: ${r.error ?? (r.stderr || r.stdout)}`);
  const text = r.stdout;
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN),
    p50: wrkMs(/^\s+50%\s+(\S+)/m.exec(text)?.[1] ?? ""),
    p99: wrkMs(/^\s+99%\s+(\S+)/m.exec(text)?.[1] ?? ""),
    bad: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0) + (errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

async function ready(s: Server, started: number): Promise<number> {
  await until200(`${s.base}/readyz`, s.child, started);
  // gRPC listens before HTTP (src/server/service.ts); health is checked once HTTP is ready.
  for (;;) {
    if (await healthServing(s.grpcPort)) return performance.now() - started;
    if (performance.now() - started > 15_000) throw new Error("gRPC health not SERVING within 15 s");
    await Bun.sleep(1);
  }
}

async function post(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } });
  return { status: res.status, text: await res.text() };
}

// ---------------------------------------------------------------------------------------------

async function hotPath(bins: Binaries, reg: TestRegistry, dir: string): Promise<void> {
  await pushImage(reg, "fn/bench", "v1", { format: "oci" });
  const image = `${reg.host}/fn/bench:v1`;
  const body = JSON.stringify({ image });
  const ours = await startServer(bins.ours, []);
  const logged = await startServer(bins.ours, ["--access-log"]);
  let bare: Server | undefined;
  try {
    await ready(ours, performance.now());
    await ready(logged, performance.now());
    const cold = await post(`${ours.base}/v1/images/resolve`, body);
    const warm = await post(`${ours.base}/v1/images/resolve`, body);
    await post(`${logged.base}/v1/images/resolve`, body);
    if (cold.status !== 200 || !warm.text.includes('"cached":true')) throw new Error(`resolve did not go cold → cached: ${cold.status} ${warm.text.slice(0, 200)}`);
    const answerFile = join(dir, "answer.json");
    writeFileSync(answerFile, warm.text);
    bare = await startServer(bins.bare, ["--answer", answerFile]);
    await until200(`${bare.base}/readyz`, bare.child, performance.now());
    const bareAnswer = await post(`${bare.base}/echo`, body);
    if (bareAnswer.text.length !== warm.text.length) throw new Error(`bare answer is ${bareAnswer.text.length} bytes, ours ${warm.text.length}`);

    const lua = join(dir, "post.lua");
    writeFileSync(lua, ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(body)}`, 'wrk.headers["Content-Type"] = "application/json"', ""].join("\n"));
    const routes = {
      bare: `${bare.base}/echo`,
      ours: `${ours.base}/v1/images/resolve`,
      logged: `${logged.base}/v1/images/resolve`,
    };
    type Route = keyof typeof routes;
    const order: Route[] = ["bare", "ours", "logged"];
    for (const r of order) await wrk(routes[r], lua, 2); // warm-up: JIT, connections
    await reg.clearLog();
    const results: Record<Route, WrkResult[]> = { bare: [], ours: [], logged: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const r of round % 2 === 0 ? order : [...order].reverse()) results[r].push(await wrk(routes[r], lua, SECONDS));
    }
    const registryCalls = await reg.count(() => true);
    const avg = (xs: WrkResult[], k: keyof WrkResult): number => xs.reduce((a, x) => a + x[k], 0) / xs.length;
    const row = (label: string, xs: WrkResult[]): string =>
      `  ${label.padEnd(58)} ${fmt(avg(xs, "rps"), 0).padStart(7)} req/s   p50 ${fmt(avg(xs, "p50"), 2)} ms   p99 ${fmt(avg(xs, "p99"), 2)} ms` +
      (avg(xs, "bad") > 0 ? `   (non-2xx or socket errors: ${avg(xs, "bad")})` : "");
    out(`[1] HTTP hot path: wrk -t2 -c${CONNECTIONS}, ${SECONDS} s × ${ROUNDS} rounds per server, rounds alternate; answer ${warm.text.length} bytes both`);
    out(row("bare Hono binary: POST /echo (parses body, same-size JSON)", results.bare));
    out(row("function-runner: POST /v1/images/resolve (cache hit)", results.ours));
    out(row("function-runner --access-log: same (a log line per request)", results.logged));
    const ratio = avg(results.ours, "rps") / avg(results.bare, "rps");
    const loggedRatio = avg(results.logged, "rps") / avg(results.bare, "rps");
    out(`  TARGET cache-hit resolve ≥ ${TARGET.hotPath * 100}% of bare Hono: ${fmt(ratio * 100)}% ${mark(ratio >= TARGET.hotPath)}` +
      `   (with --access-log: ${fmt(loggedRatio * 100)}%; registry requests during the runs: ${registryCalls})`);
  } finally {
    await Promise.all([ours.stop(), logged.stop(), bare?.stop()]);
  }
}

// ---------------------------------------------------------------------------------------------

async function startUp(bins: Binaries): Promise<void> {
  const oursMs: number[] = [];
  const bareMs: number[] = [];
  const oursRss: number[] = [];
  const bareRss: number[] = [];
  const phases = new Map<string, number[]>();
  for (let i = 0; i <= START_RUNS; i++) {
    // Run 0 warms the page cache and is not counted.
    for (const which of i % 2 === 0 ? (["ours", "bare"] as const) : (["bare", "ours"] as const)) {
      const t0 = performance.now();
      const s = which === "ours" ? await startServer(bins.ours, ["--log-level", "debug"], { keepStderr: true }) : await startServer(bins.bare, []);
      try {
        const ms = which === "ours" ? await ready(s, t0) : await until200(`${s.base}/readyz`, s.child, t0);
        if (i === 0) continue;
        (which === "ours" ? oursMs : bareMs).push(ms);
        if (i <= 5) {
          await Bun.sleep(300);
          (which === "ours" ? oursRss : bareRss).push(rssMb(s.child.pid));
        }
        if (which === "ours") {
          const line = s.stderr().split("\n").find((l) => l.includes('"msg":"start-up"'));
          if (line !== undefined) {
            for (const [k, v] of Object.entries(JSON.parse(line) as Record<string, unknown>)) {
              if (typeof v === "number") phases.set(k, [...(phases.get(k) ?? []), v]);
            }
          }
        }
      } finally {
        await s.stop();
      }
    }
  }
  const o = summarize(oursMs);
  const b = summarize(bareMs);
  const or = summarize(oursRss);
  const br = summarize(bareRss);
  out();
  out(`[3] start → ready, ${START_RUNS} runs each, interleaved (both binaries: bun build ${bins.flags.join(" ")})`);
  out(`  bare Hono binary, start → first /readyz 200:                    p50 ${fmt(b.p50)} ms  p90 ${fmt(b.p90)} ms  min ${fmt(b.min)} ms`);
  out(`  function-runner, start → /readyz 200 and gRPC health SERVING:   p50 ${fmt(o.p50)} ms  p90 ${fmt(o.p90)} ms  min ${fmt(o.min)} ms`);
  const med = (k: string): number => summarize(phases.get(k) ?? []).p50;
  const names = ["main", "runner module", "runner created", "runner started", "serve module", "serving"];
  const steps = names.map((k, i) => `${k} ${fmt(med(k) - (i === 0 ? 0 : med(names[i - 1] as string)))}`);
  out(`  where ours goes (p50 ms per step, from its debug start-up line): process start → ${steps.join(" → ")}`);
  out(`  TARGET start p50 ≤ ${TARGET.start}× bare: ${fmt(o.p50 / b.p50, 2)}× ${mark(o.p50 / b.p50 <= TARGET.start)}`);
  out(`  TARGET idle RSS ≤ ${TARGET.rss}× bare: ours ${fmt(or.p50)} MB, bare ${fmt(br.p50)} MB = ${fmt(or.p50 / br.p50, 2)}× ${mark(or.p50 / br.p50 <= TARGET.rss)}`);
  const size = bins.oursBytes / bins.bareBytes;
  out(`  TARGET binary ≤ ${TARGET.binary}× bare: ours ${fmt(bins.oursBytes / 1e6)} MB, bare ${fmt(bins.bareBytes / 1e6)} MB = ${fmt(size, 3)}× ${mark(size <= TARGET.binary)}`);
}

// ---------------------------------------------------------------------------------------------

async function cacheMemory(bins: Binaries, reg: TestRegistry): Promise<void> {
  // One manifest under RSS_IMAGES tags: each tag is its own cache entry, and pushing a tag is one PUT.
  const img = await pushImage(reg, "fn/many", "t0", { format: "oci" });
  const tags = Array.from({ length: RSS_IMAGES }, (_, i) => `t${i}`);
  await pool(tags.slice(1), 16, (t) => pushRawManifest(reg, "fn/many", t, img.manifestBytes, img.mediaType));
  const s = await startServer(bins.ours, []);
  try {
    await ready(s, performance.now());
    await Bun.sleep(500);
    const idle = rssMb(s.child.pid);
    const t0 = performance.now();
    let failed = 0;
    await pool(tags, 32, async (t) => {
      const r = await post(`${s.base}/v1/images/resolve`, JSON.stringify({ image: `${reg.host}/fn/many:${t}` }));
      if (r.status !== 200) failed++;
    });
    const ms = performance.now() - t0;
    const stats = (await (await fetch(`${s.base}/v1/images/cache`)).json()) as { stats: { size: number } };
    await Bun.sleep(500);
    const after = rssMb(s.child.pid);
    // Control: as many requests, all cache hits of one image, in a fresh process: what serving alone adds to RSS.
    const control = await requestsOnly(bins, `${reg.host}/fn/many:t0`);
    out();
    out(`[3] memory: ${RSS_IMAGES} distinct images resolved through the service (32 callers, ${fmt(ms / 1000)} s${failed > 0 ? `, ${failed} failed` : ""}), ${stats.stats.size} cache entries`);
    out(`  TARGET RSS after ≤ idle + ${TARGET.cacheMb} MB: idle ${fmt(idle)} MB, after ${fmt(after)} MB = +${fmt(after - idle)} MB ${mark(after - idle <= TARGET.cacheMb)}`);
    out(`  control, ${RSS_IMAGES} requests that are all hits of one cached image (fresh process): idle ${fmt(control.idle)} MB, after ${fmt(control.after)} MB = +${fmt(control.after - control.idle)} MB`);
  } finally {
    await s.stop();
  }
}

async function requestsOnly(bins: Binaries, image: string): Promise<{ idle: number; after: number }> {
  const s = await startServer(bins.ours, []);
  try {
    await ready(s, performance.now());
    await post(`${s.base}/v1/images/resolve`, JSON.stringify({ image }));
    await Bun.sleep(500);
    const idle = rssMb(s.child.pid);
    await pool(Array.from({ length: RSS_IMAGES }, (_, i) => i), 32, () => post(`${s.base}/v1/images/resolve`, JSON.stringify({ image })));
    await Bun.sleep(500);
    return { idle, after: rssMb(s.child.pid) };
  } finally {
    await s.stop();
  }
}

async function main(): Promise<void> {
  if (spawnSync("wrk", ["--version"]).error) throw new Error("wrk is not installed (npm run bench installs it when run as root)");
  const bins = await binaries();
  const dir = mkdtempSync(join(tmpdir(), "fr-bench-http-"));
  const reg = await startRegistry({ mode: "http" });
  try {
    if (PARTS.has("hot")) await hotPath(bins, reg, dir);
    if (PARTS.has("start")) await startUp(bins);
    if (PARTS.has("memory")) await cacheMemory(bins, reg);
  } finally {
    for (const c of liveChildren) c.kill("SIGKILL");
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (e) {
  out(`bench/http failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
