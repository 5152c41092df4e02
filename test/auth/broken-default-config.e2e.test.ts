// A broken Docker config in the default keychain (whatever the machine has)
// must not break anonymous pulls of public images: the compiled binary warns
// once naming the file and the problem and goes on. A broken custom secret,
// which the operator configured explicitly, stays AUTH_CONFIG_INVALID.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCommandLine } from "../../src/config/config.ts";
import { memoryLogger } from "../../src/log.ts";
import { createRunner } from "../../src/runner.ts";
import { ensureBinary, runBinary } from "../cli/binary.ts";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

let reg: TestRegistry;
let root: string;
let image: string;
let digest: string;
const SECRET = Buffer.from("eve:Sup3r-Secret-pw").toString("base64");
/** Truncated JSON holding a credential: neither may show up anywhere. */
const BROKEN = `{"auths":{"127.0.0.1":{"auth":"${SECRET}"}}`;

const warnings = (stderr: string): Array<Record<string, unknown>> =>
  stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.level === "warn");

/** An environment with no Docker config but the ones a test writes. */
function env(over: Record<string, string | undefined>): Record<string, string | undefined> {
  return { DOCKER_CONFIG: undefined, REGISTRY_AUTH_FILE: undefined, XDG_RUNTIME_DIR: undefined, HOME: join(root, "nohome"), ...over };
}

function writeFile(path: string, text: string): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  return path;
}

beforeAll(async () => {
  ensureBinary();
  root = mkdtempSync(join(tmpdir(), "fr-broken-cfg-"));
  reg = await startRegistry({ mode: "http" });
  image = `${reg.host}/public/fn:v1`;
  digest = (await pushImage(reg, "public/fn", "v1", { format: "oci", entrypoint: ["/fn"] })).digest;
});
afterAll(async () => {
  await reg?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("a broken default Docker config (compiled binary)", () => {
  const cases: Array<[string, (dir: string) => { file: string; env: Record<string, string | undefined> }]> = [
    ["~/.docker/config.json", (dir) => ({ file: writeFile(join(dir, ".docker", "config.json"), BROKEN), env: { HOME: dir } })],
    ["$DOCKER_CONFIG/config.json", (dir) => ({ file: writeFile(join(dir, "config.json"), BROKEN), env: { DOCKER_CONFIG: dir } })],
    [
      "$XDG_RUNTIME_DIR/containers/auth.json",
      (dir) => ({ file: writeFile(join(dir, "containers", "auth.json"), BROKEN), env: { XDG_RUNTIME_DIR: dir } }),
    ],
  ];
  for (const [name, make] of cases) {
    test(`${name}: the public image resolves anonymously, one warning names the file and the problem`, async () => {
      const { file, env: over } = make(mkdtempSync(join(root, "case-")));
      const r = await runBinary(["resolve", "--json", image], env(over));
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).digest).toBe(digest);
      const w = warnings(r.stderr);
      expect(w).toHaveLength(1);
      expect(w[0]?.file).toBe(file);
      expect(String(w[0]?.error)).toContain("not valid JSON");
      expect(r.stderr + r.stdout).not.toContain(SECRET);
      expect(r.stderr + r.stdout).not.toContain("Sup3r-Secret-pw");
    });
  }

  test("a broken custom secret (explicitly configured) stays AUTH_CONFIG_INVALID naming the file", async () => {
    const secret = writeFile(join(mkdtempSync(join(root, "case-")), ".dockerconfigjson"), BROKEN);
    const r = await runBinary(["resolve", "--json", "--enable-private-registries", "--registry-auth-secret-path", secret, image], env({}));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("AUTH_CONFIG_INVALID");
    expect(r.stderr).toContain(secret);
    expect(r.stderr + r.stdout).not.toContain(SECRET);
  });
});

describe("a broken default Docker config in a long-running runner", () => {
  test("warned once over many resolves, not once per resolve", async () => {
    const dir = mkdtempSync(join(root, "case-"));
    const file = writeFile(join(dir, "config.json"), BROKEN);
    const saved = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = dir;
    const logger = memoryLogger();
    const runner = createRunner(parseCommandLine(["--insecure-registries", reg.host]).config, logger, { kube: { env: {}, homeDir: "/nonexistent" } });
    try {
      for (const tag of ["v1", "v1", "v1"]) {
        runner.resolver.forget(image);
        expect((await runner.resolver.resolve(`${reg.host}/public/fn:${tag}`)).metadata.digest).toBe(digest);
      }
      const w = warnings(logger.lines.join("\n"));
      expect(w).toHaveLength(1);
      expect(w[0]?.file).toBe(file);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = saved;
      await runner.close();
    }
  });
});
