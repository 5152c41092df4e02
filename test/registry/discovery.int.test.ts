// Single-flight challenge discovery (src/registry/auth.ts `discover`): concurrent first callers to
// one registry share one 401 instead of each learning the challenge for itself. Counted in the
// real registry's access log and the token server's log.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseReference } from "../../src/image/reference.ts";
import { pushImage } from "../support/push.ts";
import { startProxy, type TestProxy } from "../support/proxy.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { makeClient, rejection } from "./helpers.ts";

const REPOS = Array.from({ length: 8 }, (_, i) => `public/fn${i}`);
const isUnauthorized = (e: { path: string; status: number }) => e.path.startsWith("/v2/") && e.status === 401;
const isManifestGet = (e: { method: string; path: string }) => e.method === "GET" && e.path.includes("/manifests/");

describe("concurrent first callers to a token registry", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ mode: "tls-token" });
    for (const repo of REPOS) await pushImage(reg, repo, "v1", { format: "oci", entrypoint: [`/${repo}`] });
  });
  afterAll(async () => reg?.stop());

  test("one 401 teaches the challenge to all of them; each then needs only its token, manifest and config", async () => {
    const { resolver, close } = makeClient({ registries: [reg] });
    await reg.clearLog();
    reg.tokenServer!.clear();
    const got = await Promise.all(REPOS.map((repo) => resolver.resolve(`${reg.host}/${repo}:v1`)));
    expect(got.map((r) => r.metadata.entrypoint)).toEqual(REPOS.map((repo) => [`/${repo}`]));
    expect(await reg.count(isUnauthorized)).toBe(1);
    expect(await reg.count(isManifestGet)).toBe(REPOS.length + 1);
    expect(reg.tokenServer!.requests()).toHaveLength(REPOS.length);
    await close();
  });
});

describe("concurrent first callers to an anonymous registry", () => {
  let reg: TestRegistry;
  let proxy: TestProxy;
  beforeAll(async () => {
    reg = await startRegistry({ mode: "http" });
    for (const repo of REPOS) await pushImage(reg, repo, "v1", { format: "oci", entrypoint: [`/${repo}`] });
    proxy = await startProxy({ upstream: reg.url });
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  test("no challenge: every caller gets its manifest, none is sent twice", async () => {
    const { resolver, close } = makeClient();
    await reg.clearLog();
    const got = await Promise.all(REPOS.map((repo) => resolver.resolve(`${reg.host}/${repo}:v1`)));
    expect(got.map((r) => r.metadata.entrypoint)).toEqual(REPOS.map((repo) => [`/${repo}`]));
    expect(await reg.count(isUnauthorized)).toBe(0);
    expect(await reg.count(isManifestGet)).toBe(REPOS.length);
    await close();
  });

  /** Starts a resolve whose discovery request the proxy holds for 2 s; resolves once the proxy has it. */
  async function heldLeader(client: ReturnType<typeof makeClient>["client"]) {
    proxy.clear();
    const state = { held: true };
    proxy.setOnRequest((r) => (r.path.includes("/manifests/") && r.index === 1 ? { delayMs: 2_000 } : undefined));
    const done = client.resolve(parseReference(`${proxy.host}/${REPOS[0]}:v1`)).finally(() => {
      state.held = false;
    });
    while (proxy.requests().length === 0) await new Promise((r) => setTimeout(r, 5));
    return { state, done };
  }
  const sentFor = (repo: string | undefined) => proxy.requests().filter((r) => r.path.includes(`/${repo}/`));

  test("a caller waiting for another's discovery still ends at its own deadline", async () => {
    const { client, close } = makeClient();
    const leader = await heldLeader(client);
    const second = await rejection(client.resolve(parseReference(`${proxy.host}/${REPOS[1]}:v1`), { signal: AbortSignal.timeout(30) }));
    expect(second.code).toBe("TIMEOUT");
    expect(sentFor(REPOS[1])).toHaveLength(0);
    expect(leader.state.held).toBe(true);
    expect((await leader.done).entrypoint).toEqual([`/${REPOS[0]}`]);
    proxy.setOnRequest(undefined);
    await close();
  });

  test("the wait is bounded: behind a discovery that does not answer, a caller sends its own request", async () => {
    const { client, close } = makeClient();
    const leader = await heldLeader(client);
    const second = await client.resolve(parseReference(`${proxy.host}/${REPOS[1]}:v1`));
    expect(second.entrypoint).toEqual([`/${REPOS[1]}`]);
    expect(sentFor(REPOS[1]).length).toBeGreaterThan(0);
    expect(leader.state.held).toBe(true);
    expect((await leader.done).entrypoint).toEqual([`/${REPOS[0]}`]);
    proxy.setOnRequest(undefined);
    await close();
  });
});
