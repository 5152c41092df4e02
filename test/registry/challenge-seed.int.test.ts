// Seeded challenges (RegistryAuth.seed: what the challenge cache file gives a new process) against
// the real token registry: a good seed saves the 401; a stale one (a token service that is gone,
// one whose tokens the registry rejects, the wrong scheme) is dropped and the challenge learned
// anew, with the same result as without a seed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { makeClient } from "./helpers.ts";

let reg: TestRegistry;
let other: TestRegistry;
beforeAll(async () => {
  [reg, other] = await Promise.all([startRegistry({ mode: "tls-token" }), startRegistry({ mode: "tls-token" })]);
  await pushImage(reg, "public/seeded", "v1", { format: "oci", entrypoint: ["/seeded"] });
});
afterAll(async () => {
  await Promise.all([reg?.stop(), other?.stop()]);
});

const unauthorized = () => reg.count((e) => e.path.startsWith("/v2/") && e.status === 401);

async function resolveSeeded(seed: { scheme: string; params: Record<string, string> }) {
  const { client, resolver, logger, close } = makeClient({ registries: [reg, other] });
  client.auth.seed(reg.host, seed);
  await reg.clearLog();
  reg.tokenServer!.clear();
  other.tokenServer!.clear();
  const r = await resolver.resolve(`${reg.host}/public/seeded:v1`);
  expect(r.metadata.entrypoint).toEqual(["/seeded"]);
  const { challenges, dropped } = client.auth.learned();
  // What the cache file would keep of each (scope and error are per request).
  const learned = { challenges: challenges.map(([r, c]) => [r, { scheme: c.scheme, realm: c.params.realm, service: c.params.service }]), dropped };
  await close();
  return { learned, logger, unauthorized: await unauthorized() };
}

const current = () => ({ scheme: "bearer", realm: reg.tokenServer!.realm, service: reg.tokenServer!.service });

describe("a seeded challenge", () => {
  test("that is current: no 401, and nothing learned to write back", async () => {
    const r = await resolveSeeded({ scheme: "bearer", params: { realm: reg.tokenServer!.realm, service: reg.tokenServer!.service } });
    expect(r.unauthorized).toBe(0);
    expect(reg.tokenServer!.requests()).toHaveLength(1);
    expect(r.learned).toEqual({ challenges: [], dropped: [] });
  });

  test("whose token service is gone: dropped, learned from one 401, no warning", async () => {
    const r = await resolveSeeded({ scheme: "bearer", params: { realm: "https://127.0.0.1:9/token", service: "gone" } });
    expect(r.unauthorized).toBe(1);
    expect(r.learned.challenges).toEqual([[reg.host, current()]]);
    expect(r.logger.lines.filter((l) => l.includes('"level":"warn"'))).toEqual([]);
  });

  test("whose tokens the registry rejects: replaced by the challenge of that 401", async () => {
    const r = await resolveSeeded({ scheme: "bearer", params: { realm: other.tokenServer!.realm, service: other.tokenServer!.service } });
    expect(other.tokenServer!.requests()).toHaveLength(1);
    expect(r.unauthorized).toBe(1);
    expect(r.learned.challenges).toEqual([[reg.host, current()]]);
  });

  test("of the wrong scheme: replaced the same way", async () => {
    const r = await resolveSeeded({ scheme: "basic", params: { realm: "old" } });
    expect(r.unauthorized).toBeGreaterThanOrEqual(1);
    expect(r.learned.challenges).toEqual([[reg.host, current()]]);
  });
});
