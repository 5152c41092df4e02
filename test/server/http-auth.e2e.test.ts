// --http-auth-token-file on the compiled binary: the HTTP API needs the
// bearer token, the probes and /metrics stay open, the file is re-read when it
// is replaced, and a bad file stops the start instead of serving open.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, spawnServing, type Spawned } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "fr-http-auth-"));
const tokenPath = join(dir, "token");
const TOKEN = "first-token-0123456789abcdef";
const NEXT = "second-token-9876543210fedcba";
let svc: Spawned;
let base: string;

/** Replaces the file by rename, as editors and Kubernetes secret updates do. */
function replaceToken(text: string): void {
  const tmp = `${tokenPath}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, tokenPath);
}

const get = (path: string, token?: string, scheme = "Bearer"): Promise<Response> =>
  fetch(`${base}${path}`, { headers: token === undefined ? {} : { authorization: `${scheme} ${token}` } });

beforeAll(async () => {
  writeFileSync(tokenPath, `${TOKEN}\n`);
  svc = await spawnServing(ensureBinary(), ["--http-port", "0", "--port", "0", "--listen-address", "127.0.0.1", "--http-auth-token-file", tokenPath, "--access-log"]);
  base = `http://127.0.0.1:${svc.httpPort}`;
});

afterAll(async () => {
  svc?.proc.kill("SIGTERM");
  await svc?.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe("--http-auth-token-file", () => {
  test("probes and metrics answer without a token", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics"]) expect((await get(path)).status).toBe(200);
  });

  test("the API without a token, with a wrong one or another scheme: 401 UNAUTHORIZED with WWW-Authenticate", async () => {
    for (const [token, scheme] of [[undefined, "Bearer"], ["wrong-token-0123456789abcdef", "Bearer"], [TOKEN.slice(0, -1), "Bearer"], [`${TOKEN}x`, "Bearer"], [TOKEN, "Basic"]] as const) {
      const res = await get("/v1/images/cache", token, scheme);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="function-runner"');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
    }
    // A POST is refused before its body matters.
    const post = await fetch(`${base}/v1/images/resolve`, { method: "POST", body: "{not json" });
    expect(post.status).toBe(401);
  });

  test("the right token opens the API (scheme case-insensitive)", async () => {
    expect((await get("/v1/images/cache", TOKEN)).status).toBe(200);
    expect((await get("/v1/images/cache", TOKEN, "bearer")).status).toBe(200);
    const res = await fetch(`${base}/v1/images/resolve`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: "{not json" });
    expect(res.status).toBe(400);
  });

  test("a replaced file brings the new token; a broken replacement keeps the last good one and warns", async () => {
    replaceToken(`${NEXT}\n`);
    let switched = false;
    for (let i = 0; i < 100 && !switched; i++) {
      switched = (await get("/v1/images/cache", NEXT)).status === 200;
      if (!switched) await Bun.sleep(50);
    }
    expect(switched).toBe(true);
    expect((await get("/v1/images/cache", TOKEN)).status).toBe(401);

    replaceToken("");
    let warned = false;
    for (let i = 0; i < 100 && !warned; i++) {
      await get("/v1/images/cache", NEXT);
      warned = svc.stderr().includes("HTTP auth token file unusable");
      if (!warned) await Bun.sleep(50);
    }
    expect(warned).toBe(true);
    expect((await get("/v1/images/cache", NEXT)).status).toBe(200);
    expect((await get("/v1/images/cache", "")).status).toBe(401);
  });

  test("no token ever reaches the log", () => {
    expect(svc.stderr()).not.toContain(TOKEN);
    expect(svc.stderr()).not.toContain(NEXT);
    expect(svc.stderr()).toContain('"status":401');
  });

  test("a missing, empty or too short token file stops the start, naming the file", () => {
    const cases: Array<[string, string | undefined]> = [["missing", undefined], ["empty", "\n"], ["short", "abc\n"]];
    for (const [name, content] of cases) {
      const path = join(dir, `bad-${name}`);
      if (content !== undefined) writeFileSync(path, content);
      const r = spawnSync(ensureBinary(), ["--http-port", "0", "--port", "0", "--listen-address", "127.0.0.1", "--http-auth-token-file", path], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(path);
      expect(r.stderr).toContain("INVALID_ARGUMENT");
    }
  });
});
