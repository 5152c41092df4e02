// `bun bench/scale.ts` (part of `npm run bench`): cold resolves at scale.
// BENCH_SCALE_N (1,000) distinct images, each in its own repository of a TLS +
// token registry (one in ten an index), resolved once each through the
// service binary by 64 concurrent callers; the peer is skopeo's inspect pair
// (--no-tags, --config) run as 64 processes in parallel over the same images.
//
//  5. Requests per image at the floor: token + manifest + config (+1 manifest
//     for an index); the one-off challenge discovery is shown apart.
//     Throughput (images/s) against skopeo's, same images, same registry.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushImage, pushIndex } from "../test/support/push.ts";
import { startRegistry, type TestRegistry } from "../test/support/registry.ts";
import { binaries } from "./binaries.ts";
import { healthServing, startServer, until200 } from "./procs.ts";
import { liveChildren, mark, pool, runProcess } from "./util.ts";

const intEnv = (name: string, def: number, min: number, max: number): number => {
  const v = Number(process.env[name] ?? def);
  return Number.isInteger(v) ? Math.min(max, Math.max(min, v)) : def;
};
const N = intEnv("BENCH_SCALE_N", 1000, 10, 10_000);
const CALLERS = 64;
const SKOPEO = "/usr/bin/skopeo";

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

interface Img {
  ref: string;
  digest: string;
  index: boolean;
}

async function push(reg: TestRegistry): Promise<Img[]> {
  return pool(
    Array.from({ length: N }, (_, i) => i),
    8,
    async (i) => {
      const repo = `scale/fn-${String(i).padStart(5, "0")}`;
      const entrypoint = [`/fn-${i}`];
      if (i % 10 === 9) {
        const idx = await pushIndex(reg, repo, "v1", [
          { platform: { os: "linux", architecture: "amd64" }, entrypoint },
          { platform: { os: "linux", architecture: "arm64" }, entrypoint },
        ], { format: "oci" });
        return { ref: `${reg.host}/${repo}:v1`, digest: idx.digest, index: true };
      }
      const img = await pushImage(reg, repo, "v1", { format: i % 2 === 0 ? "oci" : "docker", entrypoint });
      return { ref: `${reg.host}/${repo}:v1`, digest: img.digest, index: false };
    },
  );
}

interface Counts {
  registry: number;
  token: number;
  /** Requests outside any image's repository (the /v2/ ping), and 401s: challenge discovery. */
  discovery: number;
}

async function counts(reg: TestRegistry): Promise<Counts> {
  const log = await reg.accessLog();
  const toks = reg.tokenServer?.requests() ?? [];
  return {
    registry: log.filter((e) => e.status !== 401 && e.path !== "/v2/").length,
    token: toks.length,
    discovery: log.filter((e) => e.status === 401 || e.path === "/v2/").length,
  };
}

async function main(): Promise<void> {
  const bins = await binaries();
  const dir = mkdtempSync(join(tmpdir(), "fr-bench-scale-"));
  const reg = await startRegistry({ mode: "tls-token", users: { bench: "bench-password-1" } });
  try {
    const t0 = performance.now();
    const images = await push(reg);
    const indexes = images.filter((i) => i.index).length;
    const floor = 3 * (N - indexes) + 4 * indexes;
    out(`[5] cold resolves at scale: ${N} images (${N - indexes} plain, ${indexes} indexes), one repository each, TLS + token registry; pushed in ${fmt((performance.now() - t0) / 1000)} s`);
    const authfile = join(dir, "auth.json");
    writeFileSync(authfile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`bench:${reg.users.bench ?? ""}`).toString("base64") } } }));
    if (reg.caDir === undefined) throw new Error("the TLS registry has no CA directory");

    // Ours: the service binary, trusting the registry's CA through the private-registry flags.
    const s = await startServer(bins.ours, [
      "--enable-private-registries", "--enable-private-registries-tls", "--tls-secret-path", reg.caDir, "--registry-auth-secret-path", authfile,
    ]);
    let oursMs = Number.NaN;
    let bad = 0;
    let c: Counts;
    try {
      await until200(`${s.base}/readyz`, s.child, performance.now());
      if (!(await healthServing(s.grpcPort))) throw new Error("gRPC health is not SERVING");
      await reg.clearLog();
      reg.tokenServer?.clear();
      const t1 = performance.now();
      await pool(images, CALLERS, async (img) => {
        const res = await fetch(`${s.base}/v1/images/resolve`, { method: "POST", body: JSON.stringify({ image: img.ref }), headers: { "content-type": "application/json" } });
        const body = (await res.json()) as { digest?: string };
        if (res.status !== 200 || body.digest !== img.digest) bad++;
      });
      oursMs = performance.now() - t1;
      c = await counts(reg);
    } finally {
      await s.stop();
    }
    const oursRate = N / (oursMs / 1000);
    const perImage = (c.registry + c.token) / N;
    out(`  function-runner service, ${CALLERS} concurrent callers: ${fmt(oursMs / 1000, 2)} s = ${fmt(oursRate)} images/s${bad > 0 ? ` (${bad} wrong or failed)` : ""}`);
    out(`    requests: ${c.registry} registry + ${c.token} token = ${fmt(perImage, 3)}/image (floor ${fmt(floor / N, 3)}: token + manifest + config, +1 manifest per index); challenge discovery: ${c.discovery}`);
    out(`  TARGET requests at the floor: ${c.registry + c.token} for ${floor} ${mark(c.registry + c.token <= floor && bad === 0)}` +
      `   (plus ${c.discovery} challenge discoveries: 401s of callers that reached the registry before its challenge was known)`);

    const transport = ["--cert-dir", reg.caDir];
    const global = ["--override-os", "linux", "--override-arch", "amd64"];
    await reg.clearLog();
    reg.tokenServer?.clear();
    let skBad = 0;
    const t2 = performance.now();
    await pool(images, CALLERS, async (img) => {
      const a = await runProcess(SKOPEO, [...global, "inspect", "--no-tags", ...transport, "--authfile", authfile, `docker://${img.ref}`], { timeoutMs: 120_000 });
      const b = await runProcess(SKOPEO, [...global, "inspect", "--config", ...transport, "--authfile", authfile, `docker://${img.ref}`], { timeoutMs: 120_000 });
      if (a.code !== 0 || b.code !== 0 || !a.stdout.includes(img.digest)) skBad++;
    });
    const skMs = performance.now() - t2;
    const sk = await counts(reg);
    const skRate = N / (skMs / 1000);
    out(`  skopeo inspect pair, ${CALLERS} images at a time: ${fmt(skMs / 1000, 2)} s = ${fmt(skRate)} images/s${skBad > 0 ? ` (${skBad} wrong or failed)` : ""}; ` +
      `requests ${sk.registry} registry + ${sk.token} token + ${sk.discovery} discovery = ${fmt((sk.registry + sk.token + sk.discovery) / N, 2)}/image`);
    out(`  throughput ours ÷ skopeo: ${fmt(oursRate / skRate, 2)}× (reported; no target)`);
  } finally {
    for (const ch of liveChildren) ch.kill("SIGKILL");
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (e) {
  out(`bench/scale failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
