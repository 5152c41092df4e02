// `bun bench/soak.ts`: the compiled binary under a mixed, partly hostile load for about a minute
// (SOAK_SECONDS, default 60), all on loopback:
//   - cache hits: POST /v1/images/resolve of warm images, latency recorded;
//   - cold misses: DELETE an image's records, then resolve it again;
//   - failing images: tags that do not exist (404 every time, never cached) and a registry port that
//     accepts connections and never answers, under several host spellings;
//   - hostile inputs: multi-megabyte platforms and host names, over-long names, garbage bodies.
// Samples RSS and open file descriptors of the server every second and prints RSS at start, peak and
// end, the fd count, and p50/p99 of cache hits. RSS must level off: the verdict compares the peak of
// the last third of the run with the peak of the first two thirds.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createServer, type Socket } from "node:net";
import { pushImage } from "../test/support/push.ts";
import { startRegistry } from "../test/support/registry.ts";
import { rssMb, startServer, until200 } from "./procs.ts";
import { liveChildren, mark } from "./util.ts";

const SECONDS = Math.min(600, Math.max(5, Number(process.env.SOAK_SECONDS ?? 60) || 60));
const out = (s: string) => process.stdout.write(`${s}\n`);
const fdCount = (pid: number | undefined): number => {
  try {
    return pid === undefined ? Number.NaN : readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
};

async function main(): Promise<void> {
  const ours = join(import.meta.dir, "..", "dist", "function-runner");
  if (!existsSync(ours)) throw new Error(`${ours} is missing: run \`bun run build\` first`);
  const reg = await startRegistry({ mode: "http" });
  const WARM = 20;
  for (let i = 0; i < WARM; i++) await pushImage(reg, "soak/fn", `w${i}`, { format: "oci", entrypoint: [`/w${i}`] });
  for (let i = 0; i < 5; i++) await pushImage(reg, "soak/cold", `c${i}`, { format: "oci", entrypoint: [`/c${i}`] });
  // Accepts and never answers: the registry that holds connections.
  const held: Socket[] = [];
  const silent = createServer((s) => {
    held.push(s);
    s.on("error", () => {});
    if (held.length > 500) held.shift()?.destroy();
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const silentPort = (silent.address() as { port: number }).port;

  const server = await startServer(ours, [
    "serve",
    "--disable-runtimes",
    "pod",
    "--registry-request-timeout",
    "2s",
    "--resolve-timeout",
    "4s",
    "--image-cache-max-entries",
    "1000",
  ]);
  await until200(`${server.base}/readyz`, server.child, performance.now());
  const pid = server.child.pid;
  const post = (body: unknown) =>
    fetch(`${server.base}/v1/images/resolve`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const warm = Array.from({ length: WARM }, (_, i) => `${reg.host}/soak/fn:w${i}`);
  for (const image of warm) await (await post({ image })).arrayBuffer();

  const counts = { hits: 0, cold: 0, failing: 0, hostile: 0, unexpected: 0 };
  const hitMs: number[] = [];
  const samples: Array<{ t: number; rss: number; fds: number }> = [];
  const started = performance.now();
  const until = started + SECONDS * 1000;
  const running = () => performance.now() < until;
  const sample = () => samples.push({ t: (performance.now() - started) / 1000, rss: rssMb(pid), fds: fdCount(pid) });
  sample();
  const sampler = setInterval(sample, 1000);

  const hits = async () => {
    for (let i = 0; running(); i++) {
      const t0 = performance.now();
      const res = await post({ image: warm[i % WARM] });
      await res.arrayBuffer();
      if (res.status === 200) {
        hitMs.push(performance.now() - t0);
        counts.hits++;
      } else counts.unexpected++;
    }
  };
  const cold = async () => {
    for (let i = 0; running(); i++) {
      const image = `${reg.host}/soak/cold:c${i % 5}`;
      await (await fetch(`${server.base}/v1/images/cache?image=${encodeURIComponent(image)}`, { method: "DELETE" })).arrayBuffer();
      const res = await post({ image });
      await res.arrayBuffer();
      if (res.status === 200) counts.cold++;
      else counts.unexpected++;
    }
  };
  const spellings = ["localhost", "LOCALHOST", "LocalHost", "127.0.0.1"];
  const failing = async () => {
    for (let i = 0; running(); i++) {
      const image = i % 4 === 0 ? `${spellings[i % 4]}:${silentPort}/never/x${i}:v1` : `${reg.host}/soak/missing:m${i}`;
      const res = await post({ image });
      await res.arrayBuffer();
      if (res.status >= 400) counts.failing++;
      else counts.unexpected++;
    }
  };
  const big = "v".repeat(1_000_000);
  const hostile = async () => {
    for (let i = 0; running(); i++) {
      const bodies: unknown[] = [
        { image: warm[0], platform: `linux/amd64/${big}${i}` },
        { image: `${"h".repeat(1_000_000)}${i}.example/x/y:v1` },
        { image: `${reg.host}/${"a".repeat(300)}${i}:v1` },
        `{"image": "${"x".repeat(1000)}`,
        { image: `169.254.169.254/latest/meta:v${i}` },
      ];
      const res = await post(bodies[i % bodies.length]);
      await res.arrayBuffer();
      if (res.status >= 400) counts.hostile++;
      else counts.unexpected++;
    }
  };
  const workers = [hits(), hits(), hits(), hits(), cold(), failing(), failing(), failing(), hostile()];
  await Promise.all(workers);
  clearInterval(sampler);
  sample();

  const rss = samples.map((s) => s.rss);
  const third = Math.max(1, Math.floor(samples.length / 3));
  const middle = Math.max(...rss.slice(0, 2 * third));
  const last = Math.max(...rss.slice(2 * third));
  const fds = samples.map((s) => s.fds);
  const sorted = [...hitMs].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
  const h = { n: sorted.length, p50: q(0.5), p99: q(0.99) };
  out(`soak: ${SECONDS}s against ${ours} (loopback registry ${reg.host}, silent port ${silentPort})`);
  out(`requests: ${counts.hits} cache hits, ${counts.cold} cold misses, ${counts.failing} failing images, ${counts.hostile} hostile inputs refused, ${counts.unexpected} unexpected answers`);
  out(`RSS: start ${rss[0]?.toFixed(1)} MB, peak ${Math.max(...rss).toFixed(1)} MB, end ${rss[rss.length - 1]?.toFixed(1)} MB; first two thirds peak ${middle.toFixed(1)} MB, last third peak ${last.toFixed(1)} MB`);
  out(`fds: start ${fds[0]}, peak ${Math.max(...fds)}, end ${fds[fds.length - 1]}`);
  out(`cache hits: p50 ${h.p50.toFixed(2)} ms, p99 ${h.p99.toFixed(2)} ms (n=${h.n})`);
  out(`RSS levels off (last third's peak within 10% of the first two thirds' peak): ${mark(last <= middle * 1.1)}`);
  out(`no unexpected answers: ${mark(counts.unexpected === 0)}`);
  await server.stop();
  for (const s of held) s.destroy();
  silent.close();
  await reg.stop();
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`soak failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of liveChildren) c.kill("SIGKILL");
  });
