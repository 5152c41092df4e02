// The compiled binary under hostile callers and registries (bounded memory, paged listing, connection caps,
// credential scrubbing), with fault-injecting servers of our own on loopback.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runBinary } from "../cli/binary.ts";
import { ensureBinary, postJson, spawnServing, type Spawned } from "../server/helpers.ts";
import { basicAuth, dockerConfigFile } from "./helpers.ts";

let bin: string;
let reg: TestRegistry;
const TAGS = ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"];

beforeAll(async () => {
  bin = ensureBinary();
  reg = await startRegistry({ mode: "http" });
  for (const t of TAGS) await pushImage(reg, "bh/fn", t, { format: "oci", entrypoint: [`/${t}`] });
  await pushImage(reg, "bh/arm-only", "v1", { format: "oci", os: "linux", architecture: "arm64", variant: "v8", entrypoint: ["/arm"] });
});
afterAll(async () => {
  await reg?.stop();
});

const serve = (args: string[] = []): Promise<Spawned> =>
  spawnServing(bin, ["--http-port", "0", "--port", "0", "--listen-address", "127.0.0.1", "--disable-runtimes", "pod", ...args]);

const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "0");
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

async function metric(s: Spawned, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? "NaN");
}

const stop = async (s: Spawned) => {
  s.proc.kill("SIGKILL");
  await s.exited;
};

describe("bounded memory from callers (compiled binary)", () => {
  test("huge platforms and names are refused before anything is stored; RSS stays flat", async () => {
    const s = await serve();
    try {
      const url = `http://127.0.0.1:${s.httpPort}/v1/images/resolve`;
      const image = `${reg.host}/bh/fn:t1`;
      expect((await postJson(url, { image })).status).toBe(200);
      const before = rssKb(s.proc.pid!);
      const big = "v".repeat(5_000_000);
      for (let i = 0; i < 15; i++) {
        // A platform that fits the grammar but is 5 MB long, and a 5 MB registry host.
        const p = await postJson(url, { image, platform: `linux/amd64/${big}${i}` });
        expect(p.status).toBe(400);
        expect((await p.text()).length).toBeLessThan(1000);
        const h = await postJson(url, { image: `${"h".repeat(300)}${i}.example/x/y:v1` });
        expect(h.status).toBe(400);
        expect((await h.text()).length).toBeLessThan(1000);
      }
      expect(await metric(s, "function_runner_image_cache_entries")).toBe(1);
      // 150 MB of hostile text went in; what stays must be a small fraction of it.
      expect(rssKb(s.proc.pid!) - before).toBeLessThan(60_000);
    } finally {
      await stop(s);
    }
  }, 60_000);

  test("--image-cache-max-entries bounds the cache; evictions are counted", async () => {
    const s = await serve(["--image-cache-max-entries", "5"]);
    try {
      const url = `http://127.0.0.1:${s.httpPort}/v1/images/resolve`;
      for (const t of TAGS) expect((await postJson(url, { image: `${reg.host}/bh/fn:${t}` })).status).toBe(200);
      expect(await metric(s, "function_runner_image_cache_entries")).toBe(5);
      expect(await metric(s, "function_runner_image_cache_evictions_total")).toBe(3);
    } finally {
      await stop(s);
    }
  }, 30_000);
});

describe("cache listing and delete (compiled binary)", () => {
  test("GET /v1/images/cache is paged: limit + cursor walk every record once; limits are checked", async () => {
    const s = await serve();
    try {
      const base = `http://127.0.0.1:${s.httpPort}`;
      for (const t of TAGS) expect((await postJson(`${base}/v1/images/resolve`, { image: `${reg.host}/bh/fn:${t}` })).status).toBe(200);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor === null ? "?limit=3" : `?limit=3&cursor=${cursor}`;
        const page = (await (await fetch(`${base}/v1/images/cache${q}`)).json()) as { images: Array<{ image: string }>; next: string | null };
        expect(page.images.length).toBeLessThanOrEqual(3);
        seen.push(...page.images.map((i) => i.image));
        cursor = page.next;
        pages++;
      } while (cursor !== null && pages < 10);
      expect(pages).toBe(3);
      expect(seen.sort()).toEqual(TAGS.map((t) => `${reg.host}/bh/fn:${t}`).sort());
      // The default page is bounded too.
      const all = (await (await fetch(`${base}/v1/images/cache`)).json()) as { images: unknown[]; next: string | null };
      expect(all.images).toHaveLength(8);
      expect(all.next).toBeNull();
      expect((await fetch(`${base}/v1/images/cache?limit=100000`)).status).toBe(400);
      expect((await fetch(`${base}/v1/images/cache?cursor=abc`)).status).toBe(400);
      const del = await fetch(`${base}/v1/images/cache?image=${encodeURIComponent(`${reg.host}/bh/fn:t3`)}`, { method: "DELETE" });
      expect(await del.json()).toEqual({ image: `${reg.host}/bh/fn:t3`, removed: 1 });
      expect(await metric(s, "function_runner_image_cache_entries")).toBe(7);
    } finally {
      await stop(s);
    }
  }, 30_000);
});

describe("outbound connections (compiled binary)", () => {
  test("a never-answering registry under many host spellings gets only its per-host share; others still resolve", async () => {
    const held: Socket[] = [];
    const silent = createTcpServer((sock) => {
      held.push(sock);
      sock.on("error", () => {});
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const s = await serve(["--registry-max-connections-per-host", "4", "--registry-request-timeout", "20s", "--resolve-timeout", "30s"]);
    try {
      const url = `http://127.0.0.1:${s.httpPort}/v1/images/resolve`;
      const fdsBefore = fds(s.proc.pid!);
      const spellings = ["localhost", "LOCALHOST", "LocalHost", "lOcAlHoSt"];
      const aborter = new AbortController();
      const stuck = Array.from({ length: 200 }, (_, i) =>
        postJson(url, { image: `${spellings[i % 4]}:${port}/never/x${i}:v1` }, { signal: aborter.signal }).catch(() => undefined),
      );
      await Bun.sleep(1_000);
      expect(held.length).toBeLessThanOrEqual(4);
      // 200 HTTP callers hold a socket each on the server side; outbound adds at most the cap.
      expect(fds(s.proc.pid!) - fdsBefore).toBeLessThan(200 + 20);
      const ok = await postJson(url, { image: `${reg.host}/bh/fn:t2` });
      expect(ok.status).toBe(200);
      aborter.abort();
      await Promise.all(stuck);
    } finally {
      for (const sock of held) sock.destroy();
      silent.close();
      await stop(s);
    }
  }, 60_000);
});

/** A registry stand-in that challenges for Basic auth and then echoes the Authorization header in its error. */
async function echoingRegistry(): Promise<{ server: Server; host: string }> {
  const server = createHttpServer((req, res) => {
    const authz = req.headers.authorization;
    if (authz === undefined) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="echo"', "content-type": "application/json" });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"login"}]}');
      return;
    }
    const decoded = Buffer.from(authz.replace(/^Basic /, ""), "base64").toString("utf8");
    const message = `you sent ${authz} (${decoded}); internal: db_password=hunter2hunter2 ${"x".repeat(5_000)}`;
    res.writeHead(403, { "content-type": "application/json" });
    res.end(JSON.stringify({ errors: [{ code: "DENIED", message }] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, host: `localhost:${(server.address() as { port: number }).port}` };
}

describe("no credential pass-through (compiled binary)", () => {
  const password = "Pa55-word-ECHOED";
  const b64 = Buffer.from(`dev:${password}`).toString("base64");

  test("a registry echoing our Authorization header: only its code and a short message, credentials scrubbed", async () => {
    const echo = await echoingRegistry();
    try {
      const cfg = dockerConfigFile({ [echo.host]: basicAuth("dev", password) });
      const r = await runBinary(["resolve", `${echo.host}/team/fn:v1`, "--docker-config", cfg, "--insecure-registries", echo.host, "--log-level", "debug"]);
      expect(r.code).not.toBe(0);
      const out = r.stdout + r.stderr;
      expect(out).toContain("DENIED");
      expect(out).not.toContain(password);
      expect(out).not.toContain(b64);
      expect(out).not.toContain("x".repeat(300));
    } finally {
      echo.server.close();
    }
  }, 30_000);

  test("the same through the HTTP API", async () => {
    const echo = await echoingRegistry();
    const cfg = dockerConfigFile({ [echo.host]: basicAuth("dev", password) });
    const s = await serve(["--docker-config", cfg, "--insecure-registries", echo.host, "--log-level", "debug"]);
    try {
      const res = await postJson(`http://127.0.0.1:${s.httpPort}/v1/images/resolve`, { image: `${echo.host}/team/fn:v1` });
      const body = await res.text();
      expect(JSON.parse(body).error.code).toBe("DENIED");
      expect(body.length).toBeLessThan(1000);
      for (const text of [body, s.stderr()]) {
        expect(text).not.toContain(password);
        expect(text).not.toContain(b64);
      }
    } finally {
      echo.server.close();
      await stop(s);
    }
  }, 30_000);

  test("credential-helper stderr carrying a password we hold is scrubbed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fr-leaky-helper-"));
    const helper = join(dir, "docker-credential-leaky");
    writeFileSync(helper, `#!/bin/sh\necho "cannot unlock keyring with ${password}" >&2\nexit 1\n`);
    chmodSync(helper, 0o755);
    const cfgDir = mkdtempSync(join(tmpdir(), "fr-leaky-cfg-"));
    const cfg = join(cfgDir, "config.json");
    writeFileSync(cfg, JSON.stringify({ auths: { "other.example": basicAuth("dev", password) }, credHelpers: { [reg.host]: "leaky" } }));
    // The default keychain (DOCKER_CONFIG) runs helpers; listed insecure, so credentials are used over plain HTTP.
    const r = await runBinary(["resolve", `${reg.host}/bh/fn:t1`, "--insecure-registries", reg.host], { PATH: `${dir}:${process.env.PATH}`, DOCKER_CONFIG: cfgDir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("cannot unlock keyring");
    expect(r.stdout + r.stderr).not.toContain(password);
  }, 30_000);
});

describe("platforms on the command line (compiled binary)", () => {
  test("an explicit --platform a single-platform image does not match is NO_MATCHING_PLATFORM; one spelling in the answer", async () => {
    const image = `${reg.host}/bh/arm-only:v1`;
    const wrong = await runBinary(["resolve", image, "--platform", "linux/amd64"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("NO_MATCHING_PLATFORM");
    // Without --platform the image is taken as it is, as Porch does.
    expect((await runBinary(["resolve", image])).code).toBe(0);
    for (const p of ["linux/arm64/v8", "linux/arm64", "linux/aarch64"]) {
      const r = await runBinary(["resolve", image, "--platform", p, "--json"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).platform).toBe("linux/arm64");
    }
  }, 30_000);
});
