// src/http/undici.ts: the Agent whose undici pool (and undici itself) is built on its first
// request behaves as an undici Agent built up front: same connection reuse, same refusal once closed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import { Agent as UndiciAgent, request as undiciRequest } from "undici-real";
import { Agent, request } from "../../src/http/undici.ts";

let server: Server;
let base: string;
let connections = 0;
beforeAll(async () => {
  server = createServer((_req, res) => res.end("ok"));
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

type Send = (path: string) => Promise<{ status: number; body: string }>;
const ours = (agent: Agent): Send => async (path) => {
  const res = await request(`${base}${path}`, { method: "GET", dispatcher: agent });
  return { status: res.statusCode, body: await res.body.text() };
};
const theirs = (agent: UndiciAgent): Send => async (path) => {
  const res = await undiciRequest(`${base}${path}`, { dispatcher: agent });
  return { status: res.statusCode, body: await res.body.text() };
};
const code = (p: Promise<unknown>) => p.then(() => "answered", (e: unknown) => (e as { code?: string }).code ?? String(e));

describe("a lazily built Agent, next to an undici Agent built up front", () => {
  test("sequential requests reuse connections the same way", async () => {
    const counts: number[] = [];
    for (const [send, close] of [
      ((a) => [ours(a), () => a.close()] as const)(new Agent({ keepAliveTimeout: 5_000 })),
      ((a) => [theirs(a), () => a.close()] as const)(new UndiciAgent({ keepAliveTimeout: 5_000 })),
    ]) {
      connections = 0;
      for (let i = 0; i < 4; i++) expect(await send(`/x${i}`)).toEqual({ status: 200, body: "ok" });
      counts.push(connections);
      await close();
    }
    expect(counts[0]).toBe(counts[1]);
    expect(counts[0]).toBeLessThan(4);
  });

  test("closed before any request: refused without a connection, as undici refuses", async () => {
    const lazy = new Agent({});
    await lazy.close();
    const eager = new UndiciAgent({});
    await eager.close();
    connections = 0;
    const got = await code(ours(lazy)("/late"));
    expect(got).toBe(await code(theirs(eager)("/late")));
    expect(got).not.toBe("answered");
    expect(connections).toBe(0);
  });

  test("closed after use: refused as undici refuses", async () => {
    const lazy = new Agent({});
    const eager = new UndiciAgent({});
    expect((await ours(lazy)("/a")).status).toBe(200);
    expect((await theirs(eager)("/a")).status).toBe(200);
    await Promise.all([lazy.close(), eager.close()]);
    const got = await code(ours(lazy)("/b"));
    expect(got).toBe(await code(theirs(eager)("/b")));
    expect(got).not.toBe("answered");
  });
});
