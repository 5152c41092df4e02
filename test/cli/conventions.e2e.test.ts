// CLI conventions (docs/cli.md) against the compiled binary: help and flags per command, typos,
// output formats, logs of one-shot commands, exit codes, completion, colour.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { parse as parseYaml } from "yaml";
import { ResolveAnswer } from "../../src/resolve/resolve-answer.ts";
import { basicAuth, dockerConfigFile } from "../registry/helpers.ts";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { secretDir } from "../registry/tls-helpers.ts";
import { logLines, spawnServing } from "../server/helpers.ts";
import { ensureBinary, runBinary } from "./binary.ts";

let reg: TestRegistry;
let secure: TestRegistry;

beforeAll(async () => {
  ensureBinary();
  [reg, secure] = await Promise.all([startRegistry({ mode: "http" }), startRegistry({ mode: "tls-htpasswd", users: { ann: "Ann-pa55" } })]);
  await pushImage(reg, "conv/fn", "v1", { format: "oci", entrypoint: ["/fn"] });
  await pushImage(secure, "conv/fn", "v1", { format: "oci", entrypoint: ["/secure"] });
});
afterAll(async () => {
  await Promise.all([reg?.stop(), secure?.stop()]);
});

const VERSION = /^function-runner \d+\.\d+\.\d+\n$/;

describe("version and help", () => {
  test("version, -v and --version everywhere", async () => {
    for (const argv of [["version"], ["-v"], ["--version"], ["resolve", "-v"], ["explain", "--version"], ["podspec", "-v"], ["serve", "--version"]]) {
      const r = await runBinary(argv);
      expect([argv.join(" "), r.code]).toEqual([argv.join(" "), 0]);
      expect(r.stdout).toMatch(VERSION);
    }
  });

  test("each command's help lists its own flags only", async () => {
    const resolve = await runBinary(["resolve", "--help"]);
    expect(resolve.code).toBe(0);
    expect(resolve.stdout).toContain("usage: function-runner resolve IMAGE");
    expect(resolve.stdout).toContain("--platform");
    expect(resolve.stdout).toContain("-o, --output");
    for (const serveOnly of ["--pod-ttl", "--port ", "--http-port", "--warm-up-pod-cache", "--kubeconfig"]) expect(resolve.stdout).not.toContain(serveOnly);
    expect((await runBinary(["help", "resolve"])).stdout).toBe(resolve.stdout);
    expect((await runBinary(["resolve", "-h"])).stdout).toBe(resolve.stdout);

    const podspec = await runBinary(["podspec", "-h"]);
    expect(podspec.stdout).toContain("--function-pod-template");
    expect(podspec.stdout).toContain("--kubeconfig");
    expect(podspec.stdout).not.toContain("--scan-interval");

    const serve = await runBinary(["--help"]);
    expect(serve.code).toBe(0);
    for (const porch of ["--warm-up-pod-cache", "--pod-cache-config", "--function-pod-template", "--max-waitlist-length", "--config "]) expect(serve.stdout).toContain(porch);
    expect(serve.stdout).toContain("(default /var/tmp/config-secret/.dockerconfigjson)");
    expect(serve.stdout).not.toContain("--output");
    expect(serve.stdout).toContain("completion");
  });

  test("help of an unknown command: exit 2, one line", async () => {
    const r = await runBinary(["help", "nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("usage errors: one line, exit 2", () => {
  const cases: Array<[string[], string]> = [
    [["resolve", "--tls-secret-pth", "/x", "i"], "function-runner resolve: unknown flag --tls-secret-pth; did you mean --tls-secret-path? (see function-runner resolve --help)"],
    [["--enable-privte-registries"], "function-runner serve: unknown flag --enable-privte-registries; did you mean --enable-private-registries? (see function-runner --help)"],
    [["resolve", "--pod-ttl", "1m", "i"], "function-runner resolve: flag --pod-ttl is not accepted by resolve (it is a flag of serve, podspec) (see function-runner resolve --help)"],
    [["serve", "--json"], "function-runner serve: flag --json is not accepted by serve (it is a flag of resolve, explain, podspec) (see function-runner --help)"],
    [["reslove", "i"], "function-runner serve: unknown command reslove; did you mean resolve? (see function-runner --help)"],
    [["resolve"], "function-runner resolve: takes exactly one IMAGE (see function-runner resolve --help)"],
    [["resolve", "a", "b"], "function-runner resolve: takes exactly one IMAGE (see function-runner resolve --help)"],
    [["resolve", "-o", "xml", "i"], "function-runner resolve: invalid value for --output:"],
    [["completion", "fish"], "function-runner completion: takes one shell: bash or zsh (see function-runner completion --help)"],
  ];
  for (const [argv, line] of cases) {
    test(argv.join(" "), async () => {
      const r = await runBinary(argv);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]?.startsWith(line)).toBe(true);
    });
  }
});

describe("output formats", () => {
  test("-o json, --json and -o yaml print the same resolve answer; -o table the text", async () => {
    const image = `${reg.host}/conv/fn:v1`;
    const [json, flag, yaml, table] = await Promise.all([
      runBinary(["resolve", "-o", "json", image]),
      runBinary(["resolve", "--json", image]),
      runBinary(["resolve", image, "--output=yaml"]),
      runBinary(["resolve", "-o", "table", image]),
    ]);
    for (const r of [json, flag, yaml, table]) expect(r.code).toBe(0);
    const answer = ResolveAnswer.strict().parse(JSON.parse(json.stdout));
    expect(answer.entrypoint).toEqual(["/fn"]);
    expect(JSON.parse(flag.stdout)).toEqual(answer);
    expect(parseYaml(yaml.stdout)).toEqual(answer);
    expect(table.stdout).toMatch(/^image: +\S+\/conv\/fn:v1$/m);
    expect(table.stdout).toContain('entrypoint:  ["/fn"]');
  });

  test("explain -o yaml is the -o json data", async () => {
    const image = `${reg.host}/conv/fn:v1`;
    const [json, yaml] = await Promise.all([runBinary(["explain", "-o", "json", image]), runBinary(["explain", "-o", "yaml", image])]);
    expect(json.code).toBe(0);
    expect(parseYaml(yaml.stdout)).toEqual(JSON.parse(json.stdout));
    expect(JSON.parse(json.stdout).registry).toBe(reg.host);
  });
});

describe("logs and exit codes of one-shot commands", () => {
  test("no info logs unless --verbose (or --log-level)", async () => {
    const tls = secretDir({ "ca.crt": secure.caPem! });
    const auth = dockerConfigFile({ [secure.host]: basicAuth("ann", "Ann-pa55") });
    const argv = ["resolve", `${secure.host}/conv/fn:v1`, "--enable-private-registries", "--enable-private-registries-tls", "--tls-secret-path", tls, "--registry-auth-secret-path", auth];
    const quiet = await runBinary(argv);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
    const verbose = await runBinary([...argv, "--verbose"]);
    expect(verbose.code).toBe(0);
    expect(verbose.stderr).toContain('"level":"info"');
    expect(verbose.stderr).toContain("registry CA loaded");
    expect((await runBinary([...argv, "--log-level", "info"])).stderr).toContain("registry CA loaded");
    for (const r of [quiet, verbose]) expect(r.stdout + r.stderr).not.toContain("Ann-pa55");
  });

  test("0 ok, 1 runtime failure, 2 invalid input; errors one line with the code", async () => {
    expect((await runBinary(["resolve", `${reg.host}/conv/fn:v1`])).code).toBe(0);
    const missing = await runBinary(["resolve", `${reg.host}/conv/fn:nope`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: MANIFEST_UNKNOWN: [^\n]+\n$/);
    const invalid = await runBinary(["explain", "Bad//Ref"]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/^error: INVALID_REFERENCE: [^\n]+\n$/);
  });
});

describe("Porch's flags reach the binary", () => {
  // The container args of Porch's Deployments (deployments/porch/2-function-runner.yaml,
  // nephio-project/porch HEAD and v4.1.2, Apache-2.0), plus a Porch integer --log-level.
  test("HEAD's and v4.1.2's Deployment flags are accepted (checked, then --version)", async () => {
    const head = ["--pod-namespace=porch-fn-system", "--max-request-body-size=6291456", "--max-parallel-pods-per-function=2", "--max-waitlist-length=1", "--warm-up-pod-cache=true", "--functions=/home/nonroot/functions"];
    const v4 = ["--config=/config.yaml", "--functions=/functions", "--pod-namespace=porch-fn-system", "--max-request-body-size=6291456", "--pod-cache-config", "/pod-cache-config/pod-cache-config.yaml", "-function-pod-template", "kpt-function-eval-pod-template", "--log-level=2"];
    for (const argv of [head, v4]) {
      const r = await runBinary([...argv, "--version"]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
    }
  });
});

describe("completion", () => {
  /** Completions bash offers for the words typed so far (the last one being completed). */
  function complete(words: string[]): string[] {
    const bin = ensureBinary();
    const script = `source <("${bin}" completion bash)
COMP_WORDS=(${["function-runner", ...words].map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length}
_function_runner; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.split("\n").filter((l) => l !== "");
  }

  test("bash: commands, each command's own flags, -o formats", () => {
    expect(complete(["res"])).toEqual(["resolve"]);
    expect(complete(["resolve", "--pla"])).toEqual(["--platform"]);
    expect(complete(["resolve", "--pod-t"])).toEqual([]);
    expect(complete(["serve", "--pod-t"])).toEqual(["--pod-ttl"]);
    expect(complete(["--warm"])).toEqual(["--warm-up-pod-cache"]);
    expect(complete(["explain", "-o", ""]).sort()).toEqual(["json", "table", "yaml"]);
  });

  test("zsh: a completion function for function-runner", async () => {
    const r = await runBinary(["completion", "zsh"]);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("#compdef function-runner\n")).toBe(true);
    expect(r.stdout).toContain("resolve) flags=(");
    expect(r.stdout).toContain("--platform");
    // Valid shell for bash's parser too (zsh itself is not installed here).
    const syntax = spawnSync("bash", ["-n"], { input: r.stdout.replace(/\$\{\(@\)words\[2,CURRENT-1\]\}/g, "x"), encoding: "utf8" });
    expect(syntax.status).toBe(0);
  });
});

describe("colour", () => {
  /** Runs under a pseudo-terminal (util-linux `script`), so stdout and stderr are TTYs. */
  const onTty = (args: string, env: Record<string, string | undefined> = {}) =>
    spawnSync("script", ["-qec", `${ensureBinary()} ${args}`, "/dev/null"], { encoding: "utf8", env: { ...process.env, TERM: "xterm", ...env } });

  test("on a terminal: coloured; with NO_COLOR or not a terminal: plain", async () => {
    expect(onTty("resolve --help").stdout).toContain("\x1b[1musage:");
    expect(onTty("resolve --nope x").stdout).toContain("\x1b[31m");
    expect(onTty("resolve --help", { NO_COLOR: "1" }).stdout).not.toContain("\x1b[");
    expect(onTty("resolve --nope x", { NO_COLOR: "1" }).stdout).not.toContain("\x1b[");
    const piped = await runBinary(["resolve", "--help"], { NO_COLOR: undefined, TERM: "xterm" });
    expect(piped.stdout).not.toContain("\x1b[");
  });
});

describe("serve with Porch's flag values", () => {
  test("an unknown runtime is one warning; the service starts with Porch's integer --log-level; HTTP resolve = CLI -o json", async () => {
    const s = await spawnServing(ensureBinary(), ["--http-port", "0", "--port", "0", "--listen-address", "127.0.0.1", "--disable-runtimes=pod,wasm", "--log-level=2", "--functions", "/nonexistent"]);
    try {
      const warnings = logLines(s.stderr()).filter((l) => l.level === "warn" && String(l.msg).includes("--disable-runtimes"));
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]?.msg)).toContain('"wasm"');
      expect((await fetch(`http://127.0.0.1:${s.httpPort}/healthz`)).status).toBe(200);
      // One answer shape: the HTTP API's resolve answer is the CLI's -o json, field for field.
      const image = `${reg.host}/conv/fn:v1`;
      const http = await fetch(`http://127.0.0.1:${s.httpPort}/v1/images/resolve`, { method: "POST", body: JSON.stringify({ image }) });
      expect(http.status).toBe(200);
      const fromHttp = ResolveAnswer.strict().parse(await http.json());
      const fromCli = ResolveAnswer.strict().parse(JSON.parse((await runBinary(["resolve", "-o", "json", image])).stdout));
      expect(fromHttp).toEqual(fromCli);
    } finally {
      s.proc.kill("SIGTERM");
      expect((await s.exited).code).toBe(0);
    }
  });
});
