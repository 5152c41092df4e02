// `npm run bench`: image metadata resolution — ours (in-process and the compiled CLI) vs skopeo —
// against one local Debian docker-registry per mode, with the same N images (bench/README.md, part [4]).
//
// Modes: "tls-token" (the one the targets are about: TLS + bearer tokens from the harness's token
// server) and, because it is cheap, "http" (plain HTTP, anonymous). Figures are printed, never asserted.
//
// Environment knobs (all optional): BENCH_N (images, default 20), BENCH_ROUNDS (in-process rounds,
// default 3), BENCH_PROC_ROUNDS (CLI and skopeo rounds, default 2), BENCH_MODES (e.g. "tls-token").
import { mkdtempSync, rmSync, statSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { anonymousProvider, type CredentialProvider } from "../src/registry/credential.ts";
import { FileCredentials } from "../src/auth/keychain.ts";
import type { Platform } from "../src/image/platform.ts";
import { MetadataCache } from "../src/resolve/metadata-cache.ts";
import { formatReference } from "../src/image/reference.ts";
import { cacheKey, ImageResolver } from "../src/resolve/resolver.ts";
import { silentLogger } from "../src/log.ts";
import { RegistryClient } from "../src/registry/client.ts";
import { DefaultTransport } from "../src/registry/transport.ts";
import { pushImage, pushIndex, pushRawManifest } from "../test/support/push.ts";
import { startRegistry, type AccessLogEntry, type RegistryMode, type TestRegistry } from "../test/support/registry.ts";
import {
  firstLine,
  fmtSummary,
  liveChildren,
  mark,
  mean,
  ms,
  pool,
  runProcess,
  speedup,
  summarize,
  type ProcResult,
} from "./util.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const intEnv = (name: string, def: number, min: number, max: number): number => {
  const v = Number(process.env[name] ?? def);
  return Number.isInteger(v) ? Math.min(max, Math.max(min, v)) : def;
};
const N = intEnv("BENCH_N", 20, 2, 60);
const ROUNDS = intEnv("BENCH_ROUNDS", 3, 1, 20);
const PROC_ROUNDS = intEnv("BENCH_PROC_ROUNDS", 2, 1, 5);
const MODES: RegistryMode[] = (process.env.BENCH_MODES ?? "tls-token,http")
  .split(",")
  .map((s) => s.trim())
  .filter((s): s is RegistryMode => s === "http" || s === "tls-token" || s === "tls-htpasswd");
const PROC_TIMEOUT_MS = 30_000;
const WATCHDOG_MS = 170_000;
const PLATFORM: Platform = { os: "linux", architecture: "amd64" };
const SKOPEO = "/usr/bin/skopeo";

// Targets: the CLI ratio is bench/README.md's [4]; in-process ratio and hit time are kept beside it.
const TARGET = { inProcess: 5, cli: 1.5, hitNs: 1000 } as const;

type Kind = "plain" | "index";
interface BenchImage {
  i: number;
  kind: Kind;
  format: "oci" | "docker";
  repo: string;
  ref: string;
  /** Another tag of the same repository (same manifest): a cache miss with a live token. */
  ref2: string;
  digest: string;
  entrypoint: string[];
}

interface Sample {
  kind: Kind;
  ms: number;
  reg: number;
  tok: number;
  sigs: string[];
}

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};

// ---------------------------------------------------------------------------------------------
// Cleanup and the watchdog.

const cleanups: Array<() => Promise<void> | void> = [];
async function cleanupAll(): Promise<void> {
  for (const c of liveChildren) c.kill("SIGKILL");
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // best effort
    }
  }
}
const watchdog = setTimeout(() => {
  out(`bench: watchdog: still running after ${WATCHDOG_MS / 1000} s; stopping`);
  void cleanupAll().finally(() => process.exit(1));
}, WATCHDOG_MS);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void cleanupAll().finally(() => process.exit(130));
  });
}

const scratch = mkdtempSync(join(tmpdir(), "fr-bench-"));
cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// The CLI binary: dist/function-runner, built when missing; a private build when sources are newer.

/** Builds with the package's own build script, so the bench measures what ships. */
async function cliBinary(): Promise<{ path: string; note: string } | { error: string }> {
  const bun = process.versions.bun !== undefined ? process.execPath : join(ROOT, "node_modules/.bin/bun");
  const r = await runProcess(bun, ["run", "--cwd", ROOT, "build"], { timeoutMs: 120_000 });
  if (r.code !== 0) return { error: `build failed: ${firstLine(r)}` };
  return { path: join(ROOT, "dist/function-runner"), note: `npm run build (dist/function-runner) in ${ms(r.ms)}` };
}

// ---------------------------------------------------------------------------------------------
// Registry fixtures.

async function pushImages(reg: TestRegistry): Promise<BenchImage[]> {
  const specs = Array.from({ length: N }, (_, i) => i);
  return pool(specs, 4, async (i) => {
    const kind: Kind = i % 2 === 0 ? "plain" : "index";
    const format = Math.floor(i / 2) % 2 === 0 ? "oci" : "docker";
    const repo = `bench/fn-${String(i).padStart(2, "0")}`;
    const entrypoint = [`/usr/local/bin/fn-${i}`];
    let digest: string;
    if (kind === "plain") {
      const img = await pushImage(reg, repo, "v1", { format, entrypoint });
      await pushRawManifest(reg, repo, "v2", img.manifestBytes, img.mediaType);
      digest = img.digest;
    } else {
      const idx = await pushIndex(
        reg,
        repo,
        "v1",
        [
          { platform: { os: "linux", architecture: "amd64" }, entrypoint },
          { platform: { os: "linux", architecture: "arm64" }, entrypoint: [`/usr/local/bin/fn-${i}-arm64`] },
        ],
        { format },
      );
      await pushRawManifest(reg, repo, "v2", idx.bytes, idx.mediaType);
      digest = idx.digest;
    }
    return { i, kind, format, repo, ref: `${reg.host}/${repo}:v1`, ref2: `${reg.host}/${repo}:v2`, digest, entrypoint };
  });
}

function signature(e: AccessLogEntry): string {
  let what = e.path;
  if (e.path === "/v2/") what = "/v2/ (ping)";
  else if (/\/manifests\/sha256:/.test(e.path)) what = "manifest by digest";
  else if (e.path.includes("/manifests/")) what = "manifest by tag";
  else if (e.path.includes("/blobs/")) what = "blob (config)";
  return `${e.method} ${what} ${e.status}`;
}

/** Runs `fn` with clean access and token logs; returns what it cost in requests. */
async function counted<T>(reg: TestRegistry, fn: () => Promise<T>): Promise<{ value: T; ms: number; reg: number; tok: number; sigs: string[] }> {
  await reg.clearLog();
  reg.tokenServer?.clear();
  const t0 = performance.now();
  const value = await fn();
  const elapsed = performance.now() - t0;
  const log = await reg.accessLog();
  const toks = reg.tokenServer?.requests() ?? [];
  const sigs = [
    ...toks.map((t) => `token ${t.method} ${t.status}${t.hadAuthorization ? " (with credentials)" : " (anonymous)"}`),
    ...log.map(signature),
  ];
  return { value, ms: elapsed, reg: log.length, tok: toks.length, sigs };
}

/** "3.00 = 2.00 registry + 1.00 token" per image of a kind, and the average breakdown. */
function requestLines(samples: readonly Sample[], indent: string): string[] {
  const lines: string[] = [];
  for (const kind of ["plain", "index"] as const) {
    const ks = samples.filter((s) => s.kind === kind);
    if (ks.length === 0) continue;
    const reg = mean(ks.map((s) => s.reg));
    const tok = mean(ks.map((s) => s.tok));
    const counts = new Map<string, number>();
    for (const s of ks) for (const g of s.sigs) counts.set(g, (counts.get(g) ?? 0) + 1);
    const detail = [...counts].map(([g, c]) => `${g} ×${(c / ks.length).toFixed(2).replace(/\.00$/, "")}`).join(", ");
    lines.push(`${indent}${kind.padEnd(5)} ${(reg + tok).toFixed(2)} req/image = ${reg.toFixed(2)} registry + ${tok.toFixed(2)} token  [${detail}]`);
  }
  return lines;
}

const perKind = (samples: readonly Sample[], kind: Kind): number => {
  const ks = samples.filter((s) => s.kind === kind);
  return mean(ks.map((s) => s.reg + s.tok));
};

// ---------------------------------------------------------------------------------------------
// In-process.

function makeClient(reg: TestRegistry, dockerConfig: string | undefined) {
  const transport = new DefaultTransport({ extraCAs: reg.caPem !== undefined ? [reg.caPem] : [] });
  const credentials: CredentialProvider = dockerConfig !== undefined ? new FileCredentials(dockerConfig) : anonymousProvider;
  const client = new RegistryClient({ credentials, transport, platform: PLATFORM, logger: silentLogger });
  const cache = new MetadataCache();
  const resolver = new ImageResolver(client, cache, { defaultImagePrefix: "ghcr.io/kptdev/krm-functions-catalog/", platform: PLATFORM });
  return { client, cache, resolver, close: () => transport.close() };
}

function check(img: BenchImage, digest: string | undefined, entrypoint: unknown, who: string, problems: string[]): void {
  if (digest !== img.digest) problems.push(`${who}: ${img.ref}: digest ${digest ?? "none"} != pushed ${img.digest}`);
  else if (JSON.stringify(entrypoint) !== JSON.stringify(img.entrypoint)) {
    problems.push(`${who}: ${img.ref}: entrypoint ${JSON.stringify(entrypoint)} != ${JSON.stringify(img.entrypoint)}`);
  }
}

interface InProcessResult {
  first: Sample[];
  subsequent: Sample[];
  live: Sample[];
  hit: Hits;
}

interface Hits {
  /** MetadataCache.peek on a known key. */
  peekNs: number;
  /** resolver.reference + cacheKey(formatReference) + peek, synchronously: the resolver's work without the await. */
  syncNs: number;
  /** `await resolver.resolve(image)` on a cached image. */
  resolveNs: number;
}

async function inProcess(reg: TestRegistry, images: BenchImage[], dockerConfig: string | undefined, problems: string[]): Promise<InProcessResult> {
  // Warm-up (untimed): JIT and the registry's file system cache, for every tool alike.
  {
    const c = makeClient(reg, dockerConfig);
    for (const img of images) await c.resolver.resolve(img.ref);
    await c.close();
  }

  // (a) A fresh client per image: every image is the first one the client sees (challenge discovery).
  const first: Sample[] = [];
  for (const img of images) {
    const c = makeClient(reg, dockerConfig);
    const r = await counted(reg, () => c.resolver.resolve(img.ref));
    check(img, r.value.metadata.digest, r.value.metadata.entrypoint, "in-process", problems);
    first.push({ kind: img.kind, ms: r.ms, reg: r.reg, tok: r.tok, sigs: r.sigs });
    await c.close();
  }

  // (b) One client per round, N new repositories in sequence (challenge remembered, connections kept),
  // then (c) another tag of each repository: a cache miss with a live token.
  const subsequent: Sample[] = [];
  const live: Sample[] = [];
  let hit: Hits = { peekNs: Number.NaN, syncNs: Number.NaN, resolveNs: Number.NaN };
  for (let round = 0; round < ROUNDS; round++) {
    const c = makeClient(reg, dockerConfig);
    const order = images.map((_, k) => images[(k + round * 7) % images.length] as BenchImage);
    for (const [pos, img] of order.entries()) {
      const r = await counted(reg, () => c.resolver.resolve(img.ref));
      check(img, r.value.metadata.digest, r.value.metadata.entrypoint, "in-process", problems);
      if (pos > 0) subsequent.push({ kind: img.kind, ms: r.ms, reg: r.reg, tok: r.tok, sigs: r.sigs });
    }
    for (const img of order) {
      const r = await counted(reg, () => c.resolver.resolve(img.ref2));
      check(img, r.value.metadata.digest, r.value.metadata.entrypoint, "in-process", problems);
      live.push({ kind: img.kind, ms: r.ms, reg: r.reg, tok: r.tok, sigs: r.sigs });
    }
    if (round === ROUNDS - 1) hit = await cacheHits(c.resolver, c.cache, images);
    await c.close();
  }
  return { first, subsequent, live, hit };
}

/** ns per cache hit: MetadataCache.peek directly, and the resolver's full path (parse + key + peek). */
async function cacheHits(resolver: ImageResolver, cache: MetadataCache, images: BenchImage[]): Promise<Hits> {
  const refs = images.map((img) => img.ref);
  const keys = refs.map((r) => cacheKey(formatReference(resolver.reference(r)), PLATFORM));
  const mask = keys.length;
  let hits = 0;
  const peekLoop = (n: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) if (cache.peek(keys[i % mask] as string) !== undefined) hits++;
    return performance.now() - t0;
  };
  const syncLoop = (n: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const ref = resolver.reference(refs[i % mask] as string);
      if (cache.peek(cacheKey(formatReference(ref), PLATFORM)) !== undefined) hits++;
    }
    return performance.now() - t0;
  };
  const resolveLoop = async (n: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) if ((await resolver.resolve(refs[i % mask] as string)).cached) hits++;
    return performance.now() - t0;
  };
  peekLoop(200_000);
  syncLoop(20_000);
  await resolveLoop(20_000);
  const P = 2_000_000;
  const R = 200_000;
  const peekMs = peekLoop(P);
  const syncMs = syncLoop(R);
  const resolveMs = await resolveLoop(R);
  if (hits !== 200_000 + 2 * 20_000 + P + 2 * R) throw new Error(`cache-hit loops saw ${hits} hits`);
  return { peekNs: (peekMs * 1e6) / P, syncNs: (syncMs * 1e6) / R, resolveNs: (resolveMs * 1e6) / R };
}

// ---------------------------------------------------------------------------------------------
// Processes: the CLI and skopeo.

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "REGISTRY_AUTH_FILE", "DOCKER_CONFIG"].includes(k)) continue;
    env[k] = v;
  }
  // resolve's challenge cache file (docs/registry.md) in the bench's scratch directory: the setup
  // probe teaches it each registry's challenge, as an earlier resolve would on a user's machine.
  return { ...env, XDG_CACHE_HOME: join(scratch, "xdg-cache"), ...extra };
}

interface CliSetup {
  label: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** How the CLI gets to trust the test CA: the private-registry flags if it takes them, else env vars. */
async function cliSetup(bin: string, reg: TestRegistry, probe: BenchImage, dockerConfig: string | undefined): Promise<{ setup?: CliSetup; notes: string[] }> {
  const notes: string[] = [];
  if (reg.caDir === undefined || reg.caFile === undefined) {
    return { setup: { label: "plain HTTP (loopback)", args: dockerConfig ? ["--docker-config", dockerConfig] : [], env: cleanEnv() }, notes };
  }
  const help = await runProcess(bin, ["--help"], { env: cleanEnv(), timeoutMs: PROC_TIMEOUT_MS });
  const text = help.stdout + help.stderr;
  const hasFlags = ["--enable-private-registries", "--enable-private-registries-tls", "--tls-secret-path", "--registry-auth-secret-path"].every((f) =>
    text.includes(f),
  );
  const creds = dockerConfig !== undefined ? dockerConfig : join(scratch, "empty-config.json");
  const candidates: CliSetup[] = [];
  if (hasFlags) {
    candidates.push({
      label: `flags --enable-private-registries --enable-private-registries-tls --tls-secret-path ${reg.caDir} --registry-auth-secret-path FILE`,
      args: ["--enable-private-registries", "--enable-private-registries-tls", "--tls-secret-path", reg.caDir, "--registry-auth-secret-path", creds],
      env: cleanEnv(),
    });
  } else {
    notes.push("--help does not list --enable-private-registries-tls/--tls-secret-path");
  }
  candidates.push({ label: "NODE_EXTRA_CA_CERTS=<test CA> with --docker-config FILE", args: ["--docker-config", creds], env: cleanEnv({ NODE_EXTRA_CA_CERTS: reg.caFile }) });
  candidates.push({ label: "SSL_CERT_FILE=<test CA> with --docker-config FILE", args: ["--docker-config", creds], env: cleanEnv({ SSL_CERT_FILE: reg.caFile }) });
  for (const c of candidates) {
    const r = await runProcess(bin, ["resolve", probe.ref, "--json", ...c.args], { env: c.env, timeoutMs: PROC_TIMEOUT_MS });
    const rec = parseJson(r.stdout);
    if (r.code === 0 && rec && str(rec.digest) === probe.digest) return { setup: c, notes };
    notes.push(`tried ${c.label.split(" ")[0]} (probe image ${probe.repo}:v1): ${r.code === 0 ? "wrong output" : firstLine(r)}`);
  }
  return { notes };
}

/** One CLI process for one image (`extra`: more flags); undefined when it failed (the problem is listed). */
async function cliOnce(bin: string, setup: CliSetup, reg: TestRegistry, img: BenchImage, problems: string[], extra: string[] = []): Promise<Sample | undefined> {
  const r = await counted(reg, () => runProcess(bin, ["resolve", img.ref, "--json", ...setup.args, ...extra], { env: setup.env, timeoutMs: PROC_TIMEOUT_MS }));
  const p = r.value;
  if (p.code !== 0) {
    problems.push(`CLI: ${img.ref}: ${firstLine(p)}`);
    return undefined;
  }
  const rec = parseJson(p.stdout);
  check(img, str(rec?.digest), rec?.entrypoint, "CLI", problems);
  return { kind: img.kind, ms: p.ms, reg: r.reg, tok: r.tok, sigs: r.sigs };
}

interface SkopeoSample extends Sample {
  noTagsMs: number;
  configMs: number;
}

/** skopeo's inspect pair for one image; undefined when it failed (the problem is listed). */
async function skopeoOnce(reg: TestRegistry, img: BenchImage, authfile: string, problems: string[]): Promise<SkopeoSample | undefined> {
  const global = ["--override-os", "linux", "--override-arch", "amd64"];
  const transportArgs = reg.caDir !== undefined ? ["--cert-dir", reg.caDir] : ["--tls-verify=false"];
  const env = cleanEnv();
  const r = await counted(reg, async () => {
    const a = await runProcess(SKOPEO, [...global, "inspect", "--no-tags", ...transportArgs, "--authfile", authfile, `docker://${img.ref}`], { env, timeoutMs: PROC_TIMEOUT_MS });
    const b = await runProcess(SKOPEO, [...global, "inspect", "--config", ...transportArgs, "--authfile", authfile, `docker://${img.ref}`], { env, timeoutMs: PROC_TIMEOUT_MS });
    return { a, b };
  });
  const { a, b } = r.value;
  if (a.code !== 0 || b.code !== 0) {
    problems.push(`skopeo: ${img.ref}: ${a.code !== 0 ? firstLine(a) : firstLine(b)}`);
    return undefined;
  }
  const inspect = parseJson(a.stdout);
  const config = parseJson(b.stdout);
  const cfg = config?.config;
  const entry = typeof cfg === "object" && cfg !== null && "Entrypoint" in cfg ? cfg.Entrypoint : undefined;
  check(img, str(inspect?.Digest), entry, "skopeo", problems);
  return { kind: img.kind, ms: a.ms + b.ms, noTagsMs: a.ms, configMs: b.ms, reg: r.reg, tok: r.tok, sigs: r.sigs };
}

/**
 * The processes, interleaved per image (ours, skopeo's pair, and in the first round ours
 * with --challenge-cache=false), so all three see the same background load.
 */
async function processRuns(
  bin: string | undefined,
  setup: CliSetup | undefined,
  reg: TestRegistry,
  images: BenchImage[],
  authfile: string,
  problems: string[],
): Promise<{ cli: Sample[]; cold: Sample[]; skopeo: SkopeoSample[] }> {
  const cli: Sample[] = [];
  const cold: Sample[] = [];
  const skopeo: SkopeoSample[] = [];
  const withSkopeo = existsSync(SKOPEO);
  for (let round = 0; round < PROC_ROUNDS; round++) {
    for (const img of images) {
      if (bin !== undefined && setup !== undefined) {
        const s = await cliOnce(bin, setup, reg, img, problems);
        if (s) cli.push(s);
      }
      if (withSkopeo) {
        const s = await skopeoOnce(reg, img, authfile, problems);
        if (s) skopeo.push(s);
      }
      if (round === 0 && bin !== undefined && setup !== undefined) {
        const s = await cliOnce(bin, setup, reg, img, problems, ["--challenge-cache=false"]);
        if (s) cold.push(s);
      }
    }
  }
  return { cli, cold, skopeo };
}

// ---------------------------------------------------------------------------------------------
// One mode.

interface ModeResult {
  mode: RegistryMode;
  ip: InProcessResult;
  cli: Sample[];
  /** The same with --challenge-cache=false (one round). */
  cliCold: Sample[];
  cliLabel: string;
  skopeo: SkopeoSample[];
}

/** Whole-process time of `function-runner version`: start-up with no network, for reading the CLI figures. */
async function cliStartup(bin: string): Promise<number[]> {
  const xs: number[] = [];
  await runProcess(bin, ["version"], { env: cleanEnv(), timeoutMs: PROC_TIMEOUT_MS });
  for (let i = 0; i < 10; i++) {
    const r = await runProcess(bin, ["version"], { env: cleanEnv(), timeoutMs: PROC_TIMEOUT_MS });
    if (r.code === 0) xs.push(r.ms);
  }
  return xs;
}
let startupMs: number[] = [];

async function runMode(mode: RegistryMode, cli: { path: string } | undefined): Promise<ModeResult> {
  out();
  out(`=== mode ${mode}: ${mode === "tls-token" ? "HTTPS (test CA) + bearer tokens from the harness token server, user credentials" : mode === "http" ? "plain HTTP, anonymous" : "HTTPS + Basic"} ===`);
  const reg = await startRegistry({ mode, users: { bench: "bench-password-1" } });
  cleanups.push(() => reg.stop());
  const problems: string[] = [];
  try {
    const t0 = performance.now();
    const images = await pushImages(reg);
    const probeImg = await pushImage(reg, "bench/probe", "v1", { format: "oci", entrypoint: ["/probe"] });
    const probe: BenchImage = {
      i: -1, kind: "plain", format: "oci", repo: "bench/probe", ref: `${reg.host}/bench/probe:v1`, ref2: "", digest: probeImg.digest, entrypoint: ["/probe"],
    };
    const plain = images.filter((i) => i.kind === "plain").length;
    out(`registry ${reg.url}; pushed ${images.length} images in ${ms(performance.now() - t0)}: ${plain} plain manifests (OCI and Docker v2.2), ${images.length - plain} indexes (OCI index and Docker list, linux/amd64 + linux/arm64); each in its own repository, tags v1 and v2`);

    let dockerConfig: string | undefined;
    const authfile = join(scratch, `auth-${mode}.json`);
    if (mode === "http") {
      writeFileSync(authfile, JSON.stringify({ auths: {} }));
    } else {
      const pw = reg.users.bench ?? "";
      writeFileSync(authfile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`bench:${pw}`).toString("base64") } } }));
      dockerConfig = authfile;
    }

    // In-process.
    const ip = await inProcess(reg, images, dockerConfig, problems);
    out();
    out("in-process (RegistryClient + DefaultTransport + MetadataCache + ImageResolver; warm-up pass untimed):");
    out(`  first image on a new client (fresh client per image):        ${fmtSummary(summarize(ip.first.map((s) => s.ms)))}`);
    out(`  subsequent new repositories (one client per round, ${ROUNDS} rounds): ${fmtSummary(summarize(ip.subsequent.map((s) => s.ms)))}`);
    for (const kind of ["plain", "index"] as const) {
      out(`      ${kind.padEnd(5)}: ${fmtSummary(summarize(ip.subsequent.filter((s) => s.kind === kind).map((s) => s.ms)))}`);
    }
    out(`  other tag of a resolved repository (live token):            ${fmtSummary(summarize(ip.live.map((s) => s.ms)))}`);
    out("  requests, first image on a new client:");
    for (const l of requestLines(ip.first, "    ")) out(l);
    out("  requests, subsequent new repository:");
    for (const l of requestLines(ip.subsequent, "    ")) out(l);
    out(`  requests, live token${mode === "http" ? " / anonymous" : ""}:`);
    for (const l of requestLines(ip.live, "    ")) out(l);
    out(`  cache hit: MetadataCache.peek ${ip.hit.peekNs.toFixed(1)} ns/hit (${(1e9 / ip.hit.peekNs / 1e6).toFixed(1)} M lookups/s); ` +
      `parse + key + peek (sync) ${ip.hit.syncNs.toFixed(1)} ns; ` +
      `await resolver.resolve ${ip.hit.resolveNs.toFixed(1)} ns/hit (${(1e9 / ip.hit.resolveNs / 1e6).toFixed(2)} M lookups/s)`);

    // The processes: ours and skopeo's, interleaved.
    let cliLabel = "not run";
    out();
    let setup: CliSetup | undefined;
    if (cli === undefined) {
      out("CLI: skipped (no binary)");
    } else {
      const found = await cliSetup(cli.path, reg, probe, dockerConfig);
      for (const n of found.notes) out(`  CLI setup: ${n}`);
      setup = found.setup;
      if (setup === undefined) out("CLI: skipped (could not make it trust the test CA)");
    }
    const runs = await processRuns(cli?.path, setup, reg, images, authfile, problems);
    const cliSamples = runs.cli;
    const cliCold = runs.cold;
    const skopeo = runs.skopeo;
    if (cli !== undefined && setup !== undefined) {
      cliLabel = setup.label;
      out(`CLI (${cli.path.startsWith(ROOT) ? cli.path.slice(ROOT.length) : cli.path} resolve IMAGE --json, spawn per image, ${PROC_ROUNDS} rounds, interleaved with skopeo); TLS trust via: ${setup.label}`);
      out(`  whole process:  ${fmtSummary(summarize(cliSamples.map((s) => s.ms)))}`);
      out("  requests per image:");
      for (const l of requestLines(cliSamples, "    ")) out(l);
      // The same without the challenge cache file: every process learns the challenge from a 401.
      out(`  --challenge-cache=false (1 round): ${fmtSummary(summarize(cliCold.map((s) => s.ms)))}`);
      out("  requests per image:");
      for (const l of requestLines(cliCold, "    ")) out(l);
    }

    // skopeo.
    out();
    if (!existsSync(SKOPEO)) {
      out("skopeo: skipped (/usr/bin/skopeo missing)");
    } else {
      const ver = await runProcess(SKOPEO, ["--version"], { timeoutMs: PROC_TIMEOUT_MS });
      out(`skopeo pair (${ver.stdout.trim()}: inspect --no-tags + inspect --config, ${mode === "http" ? "--tls-verify=false" : "--cert-dir CA"}, --authfile; ${PROC_ROUNDS} rounds):`);
      out(`  pair:           ${fmtSummary(summarize(skopeo.map((s) => s.ms)))}`);
      out(`  --no-tags only: ${fmtSummary(summarize(skopeo.map((s) => s.noTagsMs)))}`);
      out(`  --config only:  ${fmtSummary(summarize(skopeo.map((s) => s.configMs)))}`);
      out("  requests per image (both calls):");
      for (const l of requestLines(skopeo, "    ")) out(l);
    }
    if (problems.length > 0) {
      out();
      out(`problems (${problems.length}):`);
      for (const p of problems.slice(0, 20)) out(`  ${p}`);
    }
    return { mode, ip, cli: cliSamples, cliCold, cliLabel, skopeo };
  } finally {
    await reg.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Summary with targets.

function summary(r: ModeResult): void {
  const token = r.mode !== "http";
  const sk = summarize(r.skopeo.map((s) => s.ms));
  const sub = summarize(r.ip.subsequent.map((s) => s.ms));
  const first = summarize(r.ip.first.map((s) => s.ms));
  const live = summarize(r.ip.live.map((s) => s.ms));
  const cli = summarize(r.cli.map((s) => s.ms));
  out();
  out(`=== summary: ${r.mode} ===`);
  out("cold resolve, ms/image (mean / p50):");
  const row = (name: string, s: ReturnType<typeof summarize>): void => out(`  ${name.padEnd(46)} ${ms(s.mean).padStart(10)} / ${ms(s.p50).padStart(10)}`);
  row("in-process, subsequent new repository", sub);
  row("in-process, first image on a new client", first);
  row(`in-process, other tag (${token ? "live token" : "anonymous"})`, live);
  row("CLI, whole process", cli);
  row("CLI, --challenge-cache=false", summarize(r.cliCold.map((s) => s.ms)));
  row("  of which start-up (`function-runner version`)", summarize(startupMs));
  row("skopeo pair (inspect --no-tags + --config)", sk);
  out("ratios ours/skopeo (skopeo pair time ÷ ours; mean, p50 in parentheses):");
  const ratio = (name: string, s: ReturnType<typeof summarize>, target: number | undefined): void => {
    if (s.n === 0 || sk.n === 0) {
      out(`  ${name.padEnd(46)} n/a`);
      return;
    }
    const m = speedup(s.mean, sk.mean);
    const p = speedup(s.p50, sk.p50);
    // The CLI target holds for both modes; the in-process ones are for TLS + tokens.
    const applies = token || target === TARGET.cli;
    const t = target === undefined ? "" : `  ${target === TARGET.cli ? "TARGET" : "target"} ≥ ${target}× ${applies ? mark(m.factor >= target) : "(targets are for TLS + tokens)"}`;
    out(`  ${name.padEnd(46)} ${m.text} (${p.text})${t}`);
  };
  ratio("in-process, subsequent new repository", sub, TARGET.inProcess);
  ratio("in-process, first image on a new client", first, TARGET.inProcess);
  ratio("CLI, whole process", cli, TARGET.cli);
  ratio("CLI, --challenge-cache=false (reported)", summarize(r.cliCold.map((s) => s.ms)), undefined);

  out("requests per cold image, registry + token (plain / index):");
  const reqRow = (name: string, ss: readonly Sample[], target: [number, number] | undefined, note = ""): void => {
    const p = perKind(ss, "plain");
    const i = perKind(ss, "index");
    const met = target === undefined ? "" : `  target ≤ ${target[0]} / ≤ ${target[1]} ${mark(p <= target[0] && i <= target[1])}`;
    out(`  ${name.padEnd(46)} ${p.toFixed(2)} / ${i.toFixed(2)}${met}${note}`);
  };
  if (token) {
    reqRow("ours, new repository (challenge known)", r.ip.subsequent, [3, 4]);
    reqRow("ours, live token (other tag)", r.ip.live, [2, 3]);
    reqRow("ours, first image on a new client", r.ip.first, undefined, "  (no target: +1 for the 401 that teaches the challenge)");
    reqRow("CLI (challenge cache file warm)", r.cli, [3, 4]);
    reqRow("CLI, --challenge-cache=false", r.cliCold, undefined, "  (no target: +1 for the 401 that teaches the challenge)");
    reqRow("skopeo pair", r.skopeo, undefined, "  (expected for skopeo: 6 / 8 registry + 2 token = 8 / 10)");
  } else {
    reqRow("ours, anonymous, new repository", r.ip.subsequent, [2, 3]);
    reqRow("ours, anonymous, first image on a new client", r.ip.first, [2, 3]);
    reqRow("CLI (a new client per process)", r.cli, [2, 3]);
    reqRow("skopeo pair", r.skopeo, undefined);
  }
  const skP = perKind(r.skopeo, "plain");
  const skI = perKind(r.skopeo, "index");
  const oP = perKind(r.ip.subsequent, "plain");
  const oI = perKind(r.ip.subsequent, "index");
  if (Number.isFinite(skP) && Number.isFinite(oP)) {
    out(`  skopeo ÷ ours (new repository): ${(skP / oP).toFixed(2)}× / ${(skI / oI).toFixed(2)}× as many requests`);
  }
  const hitNs = r.ip.hit.peekNs;
  out(`cache hit: MetadataCache.peek ${hitNs.toFixed(1)} ns (${(1e9 / hitNs / 1e6).toFixed(1)} M/s)  target < 1 µs ${mark(hitNs < TARGET.hitNs)}; ` +
    `parse + key + peek ${r.ip.hit.syncNs.toFixed(1)} ns ${mark(r.ip.hit.syncNs < TARGET.hitNs)}; ` +
    `await resolver.resolve ${r.ip.hit.resolveNs.toFixed(1)} ns (${(1e9 / r.ip.hit.resolveNs / 1e6).toFixed(2)} M/s) ${mark(r.ip.hit.resolveNs < TARGET.hitNs)}`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = performance.now();
  out(`resolve benchmark: N=${N} images, ${ROUNDS} in-process rounds, ${PROC_ROUNDS} CLI/skopeo rounds, modes ${MODES.join(", ")}; platform linux/amd64`);
  const bin = await cliBinary();
  if ("error" in bin) out(`CLI binary: ${bin.error} (CLI figures skipped)`);
  else {
    out(`CLI binary: ${bin.note}`);
    startupMs = await cliStartup(bin.path);
    out(`CLI start-up baseline (\`function-runner version\`, whole process, no network): ${fmtSummary(summarize(startupMs))}`);
  }
  const results: ModeResult[] = [];
  for (const mode of MODES) results.push(await runMode(mode, "error" in bin ? undefined : bin));
  for (const r of results) summary(r);
  out();
  out(`bench done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  out(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
} finally {
  clearTimeout(watchdog);
  await cleanupAll();
}
process.exit(code);
