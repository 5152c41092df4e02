// `bun bench/http.ts` (part of `npm run bench`): the HTTP service's hot path.
//
// 1. Throughput and latency of a cache-hit POST /v1/images/resolve against bare
//    Hono hello routes served by the same process (one Bun.serve, same run),
//    driven by wrk with 64 connections. Target: resolve >= 80% of hello.
// 2. Start of the compiled binary to the first /readyz 200. Target: < 100 ms.
//
// The service here is the real one (httpApp with its logging, metrics and body
// limit middleware, the real runner and cache); its request log goes to
// /dev/null through the same JSON logger. Knobs: BENCH_HTTP_SECONDS (per
// measurement, default 8), BENCH_HTTP_ROUNDS (default 2), BENCH_START_RUNS (default 15).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { parseCommandLine } from "../src/config/config.ts";
import { noEvaluator } from "../src/evaluator/types.ts";
import { jsonLogger } from "../src/log.ts";
import { createRunner } from "../src/runner.ts";
import { httpHandler } from "../src/server/http.ts";
import { listen } from "../src/server/listen.ts";
import { batchedSink } from "../src/server/log-sink.ts";
import { pushImage } from "../test/support/push.ts";
import { startRegistry } from "../test/support/registry.ts";
import { mark, runProcess, summarize } from "./util.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BINARY = join(ROOT, "dist", "function-runner");
const intEnv = (name: string, def: number, min: number, max: number): number => {
  const v = Number(process.env[name] ?? def);
  return Number.isInteger(v) ? Math.min(max, Math.max(min, v)) : def;
};
const SECONDS = intEnv("BENCH_HTTP_SECONDS", 8, 1, 60);
const ROUNDS = intEnv("BENCH_HTTP_ROUNDS", 2, 1, 10);
const START_RUNS = intEnv("BENCH_START_RUNS", 15, 1, 100);
const CONNECTIONS = 64;
const TARGET = { ratio: 0.8, startMs: 100 } as const;

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** wrk's latency value ("812.00us", "1.20ms", "1.01s") in milliseconds. */
function wrkMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

/** Async on purpose: the server under test runs on this process's event loop. */
async function wrk(url: string, script: string, seconds: number): Promise<WrkResult> {
  const r = await runProcess("wrk", ["-t", "2", "-c", String(CONNECTIONS), "-d", `${seconds}s`, "--latency", "-s", script, url], {
    timeoutMs: (seconds + 30) * 1000,
  });
  if (r.code !== 0) throw new Error(`wrk failed: ${r.error ?? (r.stderr || r.stdout)}`);
  const text = r.stdout;
  const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? Number.NaN);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: wrkMs(/^\s+50%\s+(\S+)/m.exec(text)?.[1] ?? ""),
    p99: wrkMs(/^\s+99%\s+(\S+)/m.exec(text)?.[1] ?? ""),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });

/** Spawn → first /readyz 200, polling as fast as connections are refused. */
async function startToReady(port: number): Promise<number> {
  const started = performance.now();
  const child = spawn(BINARY, ["--http-port", String(port), "--port", "0", "--listen-address", "127.0.0.1"], { stdio: "ignore" });
  try {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (res.status === 200) return performance.now() - started;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null) throw new Error(`function-runner exited ${child.exitCode} before /readyz`);
      if (performance.now() - started > 10_000) throw new Error("no /readyz 200 within 10 s");
      await Bun.sleep(1);
    }
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
}

const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

async function main(): Promise<void> {
  if (spawnSync("wrk", ["--version"]).error) {
    out("bench/http: wrk is not installed (Debian: apt-get install wrk); skipping the throughput part");
  }
  const dir = mkdtempSync(join(tmpdir(), "fr-bench-http-"));
  const reg = await startRegistry({ mode: "http" });
  try {
    await pushImage(reg, "fn/bench", "v1", { format: "oci" });
    const image = `${reg.host}/fn/bench:v1`;
    const { config } = parseCommandLine(["--listen-address", "127.0.0.1", "--http-port", "0", "--port", "0"]);
    // As the binary logs (batched, one write per turn), into /dev/null instead of stderr.
    const runner = createRunner(config, jsonLogger("info", batchedSink(openSync("/dev/null", "w")).write));
    const service = httpHandler({ runner, evaluator: noEvaluator, isReady: () => true });
    // The yardstick: Hono with nothing but the route.
    const bare = new Hono();
    bare.get("/hello", (c) => c.text("Hello Hono!"));
    bare.post("/hello", (c) => c.json({ hello: "world" }));
    bare.post("/hello-json", async (c) => c.json({ hello: ((await c.req.json()) as { image?: string }).image ?? "" }));
    const server = listen((req) => (req.url.includes("/hello") ? bare.fetch(req) : service(req)), { port: 0, hostname: "127.0.0.1" });
    const base = `http://127.0.0.1:${server.port}`;

    const body = JSON.stringify({ image });
    const cold = (await (await fetch(`${base}/v1/images/resolve`, { method: "POST", body })).json()) as { cached: boolean; digest: string };
    const warm = (await (await fetch(`${base}/v1/images/resolve`, { method: "POST", body })).json()) as { cached: boolean };
    if (cold.cached || !warm.cached) throw new Error("resolve did not go cold → cached");

    const script = (name: string, lines: string[]): string => {
      const p = join(dir, name);
      writeFileSync(p, `${lines.join("\n")}\n`);
      return p;
    };
    const lua = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
    const post = (payload: string) => ['wrk.method = "POST"', `wrk.body = ${lua(payload)}`, 'wrk.headers["Content-Type"] = "application/json"'];
    const scripts = {
      resolve: script("resolve.lua", post(body)),
      helloPost: script("hello-post.lua", post(body)),
      helloJson: script("hello-json.lua", post(body)),
      helloGet: script("hello-get.lua", ['wrk.method = "GET"']),
    };
    const urls = { resolve: `${base}/v1/images/resolve`, helloPost: `${base}/hello`, helloJson: `${base}/hello-json`, helloGet: `${base}/hello` };
    type Route = keyof typeof scripts;
    const order: Route[] = ["helloGet", "helloPost", "helloJson", "resolve"];

    let results: Record<Route, WrkResult[]> | undefined;
    if (!spawnSync("wrk", ["--version"]).error) {
      await reg.clearLog();
      for (const r of order) await wrk(urls[r], scripts[r], 2); // warm-up: JIT, connection pools
      results = { resolve: [], helloPost: [], helloJson: [], helloGet: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const r of round % 2 === 0 ? order : [...order].reverse()) results[r].push(await wrk(urls[r], scripts[r], SECONDS));
      }
      const registryCalls = await reg.count(() => true);
      const avg = (xs: WrkResult[], k: keyof WrkResult): number => xs.reduce((a, x) => a + x[k], 0) / xs.length;
      const row = (label: string, xs: WrkResult[]): string =>
        `  ${label.padEnd(40)} ${fmt(avg(xs, "rps"), 0).padStart(8)} req/s   p50 ${fmt(avg(xs, "p50"))} ms   p99 ${fmt(avg(xs, "p99"))} ms` +
        (avg(xs, "non2xx") + avg(xs, "errors") > 0 ? `   (non-2xx ${avg(xs, "non2xx")}, socket errors ${avg(xs, "errors")})` : "");
      out(`HTTP hot path — ${CONNECTIONS} connections, wrk -t2, ${SECONDS} s × ${ROUNDS} rounds per route, one Bun process (${process.versions.bun ? `Bun ${process.versions.bun}` : "?"})`);
      out(row("GET /hello (bare Hono, text)", results.helloGet));
      out(row("POST /hello (bare Hono, body not read)", results.helloPost));
      out(row("POST /hello-json (bare Hono, parses body)", results.helloJson));
      out(row("POST /v1/images/resolve (cache hit)", results.resolve));
      const resolveRps = avg(results.resolve, "rps");
      const ratio = (r: Route): string => {
        const v = resolveRps / avg(results?.[r] ?? [], "rps");
        return `${fmt(v * 100, 1)}% ${mark(v >= TARGET.ratio)}`;
      };
      out(`  resolve vs the ${TARGET.ratio * 100}% target: GET hello ${ratio("helloGet")}; POST hello ${ratio("helloPost")}; POST hello parsing the same JSON body ${ratio("helloJson")}`);
      out(`  registry requests during the runs: ${registryCalls} (every resolve was a cache hit)`);
    }
    await server.stop();
    await runner.close();

    if (!existsSync(BINARY)) {
      out(`start to /readyz: ${BINARY} missing (npm run build)`);
    } else {
      const port = await freePort();
      await startToReady(port); // page cache warm-up
      const times: number[] = [];
      for (let i = 0; i < START_RUNS; i++) times.push(await startToReady(port));
      const s = summarize(times);
      out(`binary start → /readyz 200 (${START_RUNS} runs): p50 ${fmt(s.p50, 1)} ms  p90 ${fmt(s.p90, 1)} ms  min ${fmt(s.min, 1)} ms  max ${fmt(s.max, 1)} ms  ${mark(s.p50 < TARGET.startMs)} (target < ${TARGET.startMs} ms)`);
    }
  } finally {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
