// The README's shell examples, run as written so they cannot rot.
//
// Every ```sh block of README.md is one of:
//   ```sh keep-running   started in the background (the walkthrough's local registry); it must print
//                        the `export REGISTRY=...` line the next block pastes;
//   ```sh pinned         not run here (npm install, build and test are what `npm test` itself does);
//                        its text must be one this file knows, so editing it fails until checked;
//   ```sh                run, in order, in one bash (set -euo pipefail) from the repository root,
//                        against the compiled binary, with three substitutions: the pasted
//                        `export REGISTRY=` line gets the running registry, and the ports 9080 and
//                        9445 get free ones (other test runs may hold those).
// A ```text block after a command is its output: every sha256 digest it shows must be in what the
// command printed; a ```text exact block must match line for line ("..." skips lines).
// Relative links of README.md and docs/*.md must name files that exist (README's anchors too).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { HARNESS_TOOLS, requireTool } from "../support/tools.ts";
import { anchors, type Fence, fences, relativeLinks } from "./markdown.ts";
import { freePort } from "../support/free-port.ts";

const ROOT = resolve(import.meta.dir, "..", "..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const BLOCKS = fences(README);

/** Pinned blocks: not run here, because `npm test` (test/run.sh) runs them before this file. */
const PINNED = new Map<string, string>([
  ["npm install && npm run build      # dist/function-runner, one binary\n", "scripts.build"],
  ["npm test\n", "scripts.test"],
]);

const sh = BLOCKS.filter((b) => b.lang === "sh");
const background = sh.filter((b) => b.tags.includes("keep-running"));
const pinned = sh.filter((b) => b.tags.includes("pinned"));
const runnable = sh.filter((b) => !b.tags.includes("keep-running") && !b.tags.includes("pinned"));


/** The environment of a newcomer's shell, minus anything that could reach past loopback. */
function isolatedEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const k of ["KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "REGISTRY", "NO_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]) {
    delete env[k];
  }
  env.HOME = home;
  env.PATH = `${join(ROOT, "node_modules", ".bin")}:${env.PATH ?? "/usr/bin:/bin"}`;
  return env;
}

const DIGEST = /sha256:[0-9a-f]{64}/g;

describe("README", () => {
  test("its shell blocks are tagged the way this test expects", () => {
    expect(background.length).toBe(1);
    expect(runnable.length).toBeGreaterThanOrEqual(4);
    // The walkthrough's first runnable block pastes the registry's line.
    expect(runnable[0]?.body).toMatch(/^export REGISTRY=\S+$/m);
  });

  test("pinned blocks are the commands npm test runs itself", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    for (const b of pinned) {
      const script = PINNED.get(b.body);
      if (script === undefined) {
        throw new Error(`README line ${b.line}: a pinned block changed; check it works, then update PINNED in test/docs/readme.e2e.test.ts:\n${b.body}`);
      }
      expect(pkg.scripts[script.replace("scripts.", "")]).toBeDefined();
    }
    // CI's .ci/run calls `npm test`, and test/run.sh ends with the line it reads.
    expect(pkg.scripts.test).toBe("bash test/run.sh");
    expect(pinned.map((b) => b.body)).toContain("npm test\n");
  });

  test("the benchmark figures sit between one pair of markers", () => {
    const start = README.split("<!-- bench:start -->").length - 1;
    const end = README.split("<!-- bench:end -->").length - 1;
    expect([start, end]).toEqual([1, 1]);
    expect(README.indexOf("<!-- bench:start -->")).toBeLessThan(README.indexOf("<!-- bench:end -->"));
  });

  test("relative links name files that exist, and README's anchors exist", () => {
    const broken: string[] = [];
    const docs = readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f));
    for (const file of ["README.md", ...docs]) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const link of relativeLinks(text)) {
        const target = link.path === "" ? join(ROOT, file) : resolve(join(ROOT, dirname(file)), link.path);
        if (!existsSync(target)) {
          broken.push(`${file}: ${link.path} does not exist`);
          continue;
        }
        if (file === "README.md" && link.anchor !== undefined && target.endsWith(".md")) {
          if (!anchors(readFileSync(target, "utf8")).has(link.anchor)) broken.push(`${file}: ${link.path}#${link.anchor}: no such heading`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});

// The walkthrough's registry is the harness's, and its commands call curl and jq.
const tools = requireTool(...HARNESS_TOOLS, "curl", "jq");

describe.skipIf(!tools.ok)(tools.ok ? "README walkthrough" : `README walkthrough (skipped: ${tools.reason})`, () => {
  let home: string;
  let registry: ChildProcess | undefined;
  let registryOut = "";
  let registryHost = "";

  beforeAll(async () => {
    if (!tools.ok) return;
    home = mkdtempSync(join(tmpdir(), "fr-readme-"));
    const block = background[0];
    if (block === undefined) throw new Error("README has no keep-running block");
    registry = spawn("bash", ["-c", block.body], { cwd: ROOT, env: isolatedEnv(home), detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    registry.stderr?.on("data", (c: Buffer) => (err += c.toString()));
    registryHost = await new Promise<string>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no "export REGISTRY=" line within 30 s:\n${registryOut}\n${err}`)), 30_000);
      registry?.stdout?.on("data", (c: Buffer) => {
        registryOut += c.toString();
        const m = /^export REGISTRY=(\S+)$/m.exec(registryOut);
        if (m) {
          clearTimeout(timer);
          done(m[1] ?? "");
        }
      });
      registry?.once("exit", (code) => fail(new Error(`the registry block exited (${code}):\n${registryOut}\n${err}`)));
    });
  }, 40_000);

  afterAll(async () => {
    if (!tools.ok) return;
    const r = registry;
    if (r?.pid !== undefined && r.exitCode === null) {
      const exited = new Promise((done) => r.once("exit", done));
      process.kill(-r.pid, "SIGTERM");
      await exited;
    }
    rmSync(home, { recursive: true, force: true });
  });

  test("the local registry listens on loopback", () => {
    expect(registryHost).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  test("every command runs, and what README shows it printing is what it prints", async () => {
    const http = await freePort();
    const grpc = await freePort();
    const marker = (i: number): string => `@@readme-block-${i}@@`;
    const script = [
      "set -euo pipefail",
      // A failing step must not leave the backgrounded server behind.
      "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT",
      ...runnable.map((b, i) =>
        [
          `echo '${marker(i)}'`,
          b.body
            .replace(/^export REGISTRY=.*$/m, `export REGISTRY=${registryHost}`)
            .replace(/\b9080\b/g, String(http))
            .replace(/\b9445\b/g, String(grpc)),
        ].join("\n"),
      ),
    ].join("\n");
    const proc = spawn("bash", ["-c", script], { cwd: ROOT, env: isolatedEnv(home), detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout?.on("data", (c: Buffer) => (out += c.toString()));
    proc.stderr?.on("data", (c: Buffer) => (err += c.toString()));
    // A command that hangs (say, waiting for a server that never starts) ends the group, not the suite.
    const guard = setTimeout(() => proc.pid !== undefined && process.kill(-proc.pid, "SIGKILL"), 45_000);
    const code = await new Promise<number | null>((done) => proc.once("exit", done));
    clearTimeout(guard);
    if (code !== 0) throw new Error(`the README commands failed (exit ${code}):\n--- stdout\n${out}\n--- stderr\n${err}`);

    // Output of each block: the background block's, then each runnable block's.
    const outputs = new Map<Fence, string>([[background[0] as Fence, registryOut]]);
    runnable.forEach((b, i) => {
      const from = out.indexOf(marker(i));
      const to = i + 1 < runnable.length ? out.indexOf(marker(i + 1)) : out.length;
      outputs.set(b, out.slice(from + marker(i).length, to));
    });

    let shown = 0;
    for (const [i, b] of BLOCKS.entries()) {
      if (b.lang !== "text") continue;
      const cmd = BLOCKS.slice(0, i).reverse().find((p) => p.lang === "sh");
      const printed = cmd === undefined ? undefined : outputs.get(cmd);
      if (printed === undefined) continue;
      shown++;
      for (const d of b.body.match(DIGEST) ?? []) {
        if (!printed.includes(d)) throw new Error(`README line ${b.line} shows ${d}, which the command above it did not print:\n${printed}`);
      }
      if (b.tags.includes("exact")) {
        // Line for line from the first line printed; "..." lets any lines pass until the next one matches.
        const got = printed.trim().split("\n");
        let at = 0;
        let skipping = false;
        for (const want of b.body.trimEnd().split("\n")) {
          if (want.trim() === "...") {
            skipping = true;
            continue;
          }
          const found = skipping ? got.indexOf(want, at) : got[at] === want ? at : -1;
          if (found < 0) throw new Error(`README line ${b.line}: expected ${JSON.stringify(want)} as line ${at + 1} or later of:\n${printed}`);
          at = found + 1;
          skipping = false;
        }
      }
    }
    expect(shown).toBeGreaterThanOrEqual(3);
    // The README example really wrote something (not an empty run that happened to exit 0).
    expect(out).toContain("namespace: prod");
  }, 60_000);
});
