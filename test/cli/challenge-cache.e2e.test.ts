// The challenge cache file of `resolve` (docs/registry.md), with the compiled binary against the
// TLS + token registry: written, used (no 401 on the next process), expired, corrupt, stale,
// unsafe (writable by others), opted out of, and never holding a credential or a token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { basicAuth, dockerConfigFile } from "../registry/helpers.ts";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runBinary } from "./binary.ts";

let reg: TestRegistry;
let auth: string;
const digests: Record<string, string> = {};
const dirs: string[] = [];
const REPOS = ["cc/one", "cc/two", "cc/three"];

beforeAll(async () => {
  reg = await startRegistry({ mode: "tls-token", users: { dana: "D4na-secret" } });
  for (const repo of REPOS) digests[repo] = (await pushImage(reg, repo, "v1", { format: "oci", entrypoint: [`/${repo}`] })).digest;
  auth = dockerConfigFile({ [reg.host]: basicAuth("dana", "D4na-secret") });
});
afterAll(async () => {
  await reg?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh XDG_CACHE_HOME and the file the binary keeps in it. */
function cacheHome(): { home: string; file: string } {
  const home = mkdtempSync(join(tmpdir(), "fr-xdg-"));
  dirs.push(home);
  return { home, file: join(home, "function-runner", "challenges.json") };
}

async function resolve(repo: string, home: string, ...extra: string[]) {
  await reg.clearLog();
  reg.tokenServer!.clear();
  const r = await runBinary(
    [
      "resolve", `${reg.host}/${repo}:v1`, "--json", "--log-level", "debug",
      "--enable-private-registries", "--registry-auth-secret-path", auth,
      "--enable-private-registries-tls", "--tls-secret-path", reg.caDir ?? "",
      ...extra,
    ],
    { XDG_CACHE_HOME: home },
  );
  expect([r.code, r.stderr.includes('"level":"warn"')]).toEqual([0, false]);
  expect(JSON.parse(r.stdout).digest).toBe(digests[repo]);
  return { ...r, unauthorized: await reg.count((e) => e.path.startsWith("/v2/") && e.status === 401), tokens: reg.tokenServer!.requests().length };
}

const entry = (file: string) => (JSON.parse(readFileSync(file, "utf8")) as { registries: Record<string, Record<string, unknown>> }).registries[reg.host];
const seedFile = (file: string, text: string) => {
  mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600 });
};

describe("resolve keeps registry challenges between processes", () => {
  test("the first process learns the challenge from a 401 and writes it; the next sends no 401", async () => {
    const { home, file } = cacheHome();
    const first = await resolve(REPOS[0]!, home);
    expect([first.unauthorized, first.tokens]).toEqual([1, 1]);
    expect(entry(file)).toMatchObject({ scheme: "bearer", realm: reg.tokenServer!.realm, service: reg.tokenServer!.service });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "function-runner")).mode & 0o777).toBe(0o700);

    const before = readFileSync(file, "utf8");
    const second = await resolve(REPOS[1]!, home);
    expect([second.unauthorized, second.tokens]).toEqual([0, 1]);
    // Nothing new learned: the file is not rewritten.
    expect(readFileSync(file, "utf8")).toBe(before);
  }, 30_000);

  test("it never holds a credential or a token: only scheme, realm, service and when", async () => {
    const { home, file } = cacheHome();
    await resolve(REPOS[0]!, home);
    const text = readFileSync(file, "utf8");
    expect(Object.keys(entry(file) ?? {}).sort()).toEqual(["learnedAt", "realm", "scheme", "service"]);
    for (const secret of ["D4na-secret", basicAuth("dana", "D4na-secret").auth, "dana", "eyJ", "Bearer", "Basic"]) expect(text).not.toContain(secret);
  }, 30_000);

  test("an entry older than the TTL (24 h) is learned again and rewritten", async () => {
    const { home, file } = cacheHome();
    const old = Date.now() - 25 * 3600_000;
    seedFile(file, JSON.stringify({ version: 1, registries: { [reg.host]: { scheme: "bearer", realm: reg.tokenServer!.realm, service: reg.tokenServer!.service, learnedAt: old } } }));
    expect((await resolve(REPOS[0]!, home)).unauthorized).toBe(1);
    expect(Number(entry(file)?.learnedAt)).toBeGreaterThan(old);
  }, 30_000);

  test("a corrupt file is ignored and replaced", async () => {
    const { home, file } = cacheHome();
    seedFile(file, "{ not json");
    expect((await resolve(REPOS[0]!, home)).unauthorized).toBe(1);
    expect(entry(file)).toMatchObject({ scheme: "bearer", realm: reg.tokenServer!.realm });
  }, 30_000);

  test("a stale realm (its token service gone) is dropped and learned again, with the same answer and no warning", async () => {
    const { home, file } = cacheHome();
    seedFile(file, JSON.stringify({ version: 1, registries: { [reg.host]: { scheme: "bearer", realm: "https://127.0.0.1:9/token", service: "gone", learnedAt: Date.now() } } }));
    const r = await resolve(REPOS[2]!, home);
    expect(r.unauthorized).toBe(1);
    expect(entry(file)).toMatchObject({ realm: reg.tokenServer!.realm, service: reg.tokenServer!.service });
  }, 30_000);

  test("a file others can write is not trusted", async () => {
    const { home, file } = cacheHome();
    seedFile(file, JSON.stringify({ version: 1, registries: { [reg.host]: { scheme: "bearer", realm: reg.tokenServer!.realm, service: reg.tokenServer!.service, learnedAt: Date.now() } } }));
    chmodSync(file, 0o666);
    const r = await resolve(REPOS[0]!, home);
    expect(r.unauthorized).toBe(1);
    expect(r.stderr).toContain("writable by group or others");
  }, 30_000);

  test("--challenge-cache=false neither reads nor writes the file", async () => {
    const { home, file } = cacheHome();
    expect((await resolve(REPOS[0]!, home, "--challenge-cache=false")).unauthorized).toBe(1);
    expect(existsSync(file)).toBe(false);
    await resolve(REPOS[0]!, home);
    expect(existsSync(file)).toBe(true);
    expect((await resolve(REPOS[1]!, home, "--challenge-cache=false")).unauthorized).toBe(1);
  }, 30_000);
});
