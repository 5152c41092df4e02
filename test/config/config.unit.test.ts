import { describe, expect, test } from "../support/testing.ts";
import { defaultAuthSecretPath, parseCommandLine, type Config } from "../../src/config/config.ts";
import { parseDuration } from "../../src/config/duration.ts";
import { FlagError } from "../../src/config/flags.ts";
import { AUTH_SECRET_CODE_PATH, AUTH_SECRET_DOCS_PATH, COMMANDS, FLAGS, flagsOf, type Command } from "../../src/config/schema.ts";
import { closest, editDistance } from "../../src/config/suggest.ts";

const nothingMounted = { exists: () => false };
const parse = (argv: string[], command: Command = "serve") => parseCommandLine(argv, { ...nothingMounted, command });

function flagError(argv: string[], command: Command = "serve"): FlagError {
  try {
    parse(argv, command);
  } catch (e) {
    if (e instanceof FlagError) return e;
    throw e;
  }
  throw new Error(`accepted: ${argv.join(" ")}`);
}

describe("Porch's flags (func/server/server.go, HEAD and v4.1.2)", () => {
  test("Porch's defaults", () => {
    const { config } = parse([]);
    expect(config).toMatchObject({
      port: 9445,
      "disable-runtimes": [],
      "log-level": "info",
      "default-image-prefix": "ghcr.io/kptdev/krm-functions-catalog/",
      functions: "./functions",
      "pod-cache-config": "/pod-cache-config/pod-cache-config.yaml",
      "warm-up-pod-cache": true,
      "pod-namespace": "porch-fn-system",
      "pod-ttl": 1_800_000,
      "scan-interval": 60_000,
      "enable-private-registries": false,
      "registry-auth-secret-path": AUTH_SECRET_CODE_PATH,
      "registry-auth-secret-name": "auth-secret",
      "enable-private-registries-tls": false,
      "tls-secret-path": "/var/tmp/tls-secret/",
      "max-request-body-size": 6291456,
      "max-waitlist-length": 2,
      "max-parallel-pods-per-function": 1,
    });
    // No default in Porch HEAD (v4.1.2's --config defaulted to ./config.yaml: docs/flags.md says why not ours).
    expect(config.config).toBeUndefined();
    expect(config["function-pod-template"]).toBeUndefined();
    expect(config.kubeconfig).toBeUndefined();
  });

  // Every non-boolean Porch flag: a non-default value and what it becomes.
  const valued: Array<[string, string, Partial<Config>]> = [
    ["port", "1234", { port: 1234 }],
    ["disable-runtimes", "exec", { "disable-runtimes": ["exec"] }],
    ["log-level", "4", { "log-level": "debug" }],
    ["default-image-prefix", "r.example/fns/", { "default-image-prefix": "r.example/fns/" }],
    ["functions", "/home/nonroot/functions", { functions: "/home/nonroot/functions" }],
    ["config", "/config.yaml", { config: "/config.yaml" }],
    ["pod-cache-config", "/etc/pcc.yaml", { "pod-cache-config": "/etc/pcc.yaml" }],
    ["pod-namespace", "fns", { "pod-namespace": "fns" }],
    ["pod-ttl", "10m", { "pod-ttl": 600_000 }],
    ["scan-interval", "30s", { "scan-interval": 30_000 }],
    ["function-pod-template", "kpt-function-eval-pod-template", { "function-pod-template": "kpt-function-eval-pod-template" }],
    ["registry-auth-secret-path", "/s/.dockerconfigjson", { "registry-auth-secret-path": "/s/.dockerconfigjson" }],
    ["registry-auth-secret-name", "creds", { "registry-auth-secret-name": "creds" }],
    ["tls-secret-path", "/t/", { "tls-secret-path": "/t/" }],
    ["max-request-body-size", "1024", { "max-request-body-size": 1024 }],
    ["max-waitlist-length", "1", { "max-waitlist-length": 1 }],
    ["max-parallel-pods-per-function", "2", { "max-parallel-pods-per-function": 2 }],
    ["kubeconfig", "/k/config", { kubeconfig: "/k/config" }],
  ];
  for (const [name, value, expected] of valued) {
    test(`--${name}: all four Go forms`, () => {
      for (const argv of [[`--${name}=${value}`], [`--${name}`, value], [`-${name}=${value}`], [`-${name}`, value]]) {
        expect(parse(argv).config).toMatchObject(expected);
      }
    });
  }

  const booleans: Array<[string, boolean]> = [
    ["warm-up-pod-cache", true],
    ["enable-private-registries", false],
    ["enable-private-registries-tls", false],
  ];
  for (const [name, byDefault] of booleans) {
    test(`--${name}: bare, -single-dash and Go's ParseBool spellings (default ${byDefault})`, () => {
      const value = (argv: string[]) => parse(argv).config[name as "warm-up-pod-cache"];
      expect(value([])).toBe(byDefault);
      expect(value([`--${name}`])).toBe(true);
      expect(value([`-${name}`])).toBe(true);
      for (const t of ["true", "True", "TRUE", "t", "T", "1"]) expect(value([`--${name}=${t}`])).toBe(true);
      for (const f of ["false", "False", "FALSE", "f", "F", "0"]) expect(value([`--${name}=${f}`])).toBe(false);
      expect(value([`-${name}=false`])).toBe(false);
      // As in Go, a bare boolean does not take the next word: it is an argument.
      expect(parse([`--${name}`, "false"]).positionals).toEqual(["false"]);
      expect(flagError([`--${name}=maybe`]).flag).toBe(name);
    });
  }

  test("--log-level: Porch's 0-5 integers map to our levels; our names stay", () => {
    const level = (v: string) => parse(["--log-level", v]).config["log-level"];
    expect([0, 1, 2].map((n) => level(String(n)))).toEqual(["info", "info", "info"]);
    expect([3, 4, 5].map((n) => level(String(n)))).toEqual(["debug", "debug", "debug"]);
    for (const name of ["debug", "info", "warn", "error"]) expect(level(name) as string).toBe(name);
    expect(flagError(["--log-level", "loud"]).message).toContain("--log-level");
    expect(flagError(["--log-level=-1"]).flag).toBe("log-level");
  });

  test("--disable-runtimes: unknown names are a warning, not an exit (Porch ignores them)", () => {
    const r = parse(["--disable-runtimes", "exec,docker,wasm"]);
    expect(r.config["disable-runtimes"]).toEqual(["exec"]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain('"docker", "wasm"');
    expect(parse(["--disable-runtimes=exec,pod"]).warnings).toEqual([]);
    expect(parse(["--disable-runtimes=exec,pod"]).config["disable-runtimes"]).toEqual(["exec", "pod"]);
  });

  test("the auth secret: Porch's code path, else its docs' path when only that one is mounted", () => {
    expect(defaultAuthSecretPath(() => false)).toBe(AUTH_SECRET_CODE_PATH);
    expect(defaultAuthSecretPath((p) => p === AUTH_SECRET_DOCS_PATH)).toBe(AUTH_SECRET_DOCS_PATH);
    expect(defaultAuthSecretPath(() => true)).toBe(AUTH_SECRET_CODE_PATH);
    expect(defaultAuthSecretPath((p) => p === AUTH_SECRET_CODE_PATH)).toBe(AUTH_SECRET_CODE_PATH);
    const docsOnly = (argv: string[]) => parseCommandLine(argv, { exists: (p) => p === AUTH_SECRET_DOCS_PATH }).config["registry-auth-secret-path"];
    expect(docsOnly([])).toBe(AUTH_SECRET_DOCS_PATH);
    // Given explicitly, the flag is used as given, mounted or not.
    expect(docsOnly(["--registry-auth-secret-path", AUTH_SECRET_CODE_PATH])).toBe(AUTH_SECRET_CODE_PATH);
  });

  // The container args of Porch's Deployments (deployments/porch/2-function-runner.yaml,
  // nephio-project/porch HEAD and v4.1.2, Apache-2.0), without the binary path.
  test("Porch HEAD's and v4.1.2's Deployment args parse", () => {
    const head = parse([
      "--pod-namespace=porch-fn-system",
      "--max-request-body-size=6291456",
      "--max-parallel-pods-per-function=2",
      "--max-waitlist-length=1",
      "--warm-up-pod-cache=true",
      "--functions=/home/nonroot/functions",
    ]).config;
    expect(head).toMatchObject({ "max-parallel-pods-per-function": 2, "max-waitlist-length": 1, "warm-up-pod-cache": true, functions: "/home/nonroot/functions" });
    const v4 = parse(["--config=/config.yaml", "--functions=/functions", "--pod-namespace=porch-fn-system", "--max-request-body-size=6291456"]).config;
    expect(v4).toMatchObject({ config: "/config.yaml", functions: "/functions", "pod-namespace": "porch-fn-system" });
  });
});

describe("flag syntax and validation", () => {
  test("Go flag forms on our flags too, and positionals between flags", () => {
    const { config, positionals } = parse(["resolve-me", "--http-port=1", "-listen-address", "127.0.0.1", "--insecure-registries", "a:5000, b"]);
    expect(config["http-port"]).toBe(1);
    expect(config["listen-address"]).toBe("127.0.0.1");
    expect(config["insecure-registries"]).toEqual(["a:5000", "b"]);
    expect(positionals).toEqual(["resolve-me"]);
  });

  test("everything after -- is kept apart", () => {
    expect(parse(["--port", "1", "--", "/fn", "--x"]).rest).toEqual(["/fn", "--x"]);
  });

  test("given: which flags were on the command line", () => {
    expect([...parse(["--port=1", "-log-level", "3"]).given].sort()).toEqual(["log-level", "port"]);
  });

  const bad: Array<[string[], string]> = [
    [["--port", "99999"], "port"],
    [["--pod-ttl", "30 minutes"], "pod-ttl"],
    [["--platform", "amd64"], "platform"],
    [["--enable-private-registries=maybe"], "enable-private-registries"],
    [["--no-such-flag"], "no-such-flag"],
    [["--http-port"], "http-port"],
    [["--max-waitlist-length", "-1"], "max-waitlist-length"],
  ];
  for (const [argv, flag] of bad) {
    test(`invalid: ${argv.join(" ")} names --${flag}`, () => {
      const e = flagError(argv);
      expect(e.flag).toBe(flag);
      expect(e.message).toContain(`--${flag}`);
    });
  }
});

describe("per-command flags", () => {
  test("resolve accepts its own small set, not serve's", () => {
    expect(parse(["--platform", "linux/arm64", "-o", "yaml", "--docker-config", "/d"], "resolve").config).toMatchObject({ platform: "linux/arm64", output: "yaml" });
    const e = flagError(["--pod-ttl", "1m"], "resolve");
    expect(e.message).toBe("flag --pod-ttl is not accepted by resolve (it is a flag of serve, podspec)");
    expect(flagError(["--port", "1"], "resolve").flag).toBe("port");
  });

  test("serve does not take output flags", () => {
    expect(flagError(["--json"]).message).toContain("not accepted by serve");
    expect(flagError(["-o", "json"]).flag).toBe("o");
  });

  test("-o json|yaml|table, --json is -o json", () => {
    expect(parse([], "explain").config.output).toBe("table");
    expect(parse(["--json"], "explain").config.output).toBe("json");
    expect(parse(["-o=yaml"], "podspec").config.output).toBe("yaml");
    expect(parse(["--output", "json"], "resolve").config.output).toBe("json");
    expect(flagError(["-o", "xml"], "resolve").flag).toBe("output");
  });

  test("-h/--help and -v/--version everywhere", () => {
    for (const c of COMMANDS) {
      expect(parse(["-h"], c).config.help).toBe(true);
      expect(parse(["--help"], c).config.help).toBe(true);
      expect(parse(["-v"], c).config.version).toBe(true);
      expect(parse(["--version"], c).config.version).toBe(true);
    }
  });

  test("a typo gets one line naming the nearest flag of that command", () => {
    expect(flagError(["--tls-secret-pth", "/x"], "resolve").message).toBe("unknown flag --tls-secret-pth; did you mean --tls-secret-path?");
    expect(flagError(["--enable-privat-registries"]).message).toBe("unknown flag --enable-privat-registries; did you mean --enable-private-registries?");
    expect(flagError(["--zzzzzz"]).message).toBe("unknown flag --zzzzzz");
  });
});

describe("the schema is the one source of help and boolean handling", () => {
  test("every flag has help and at least one command; booleans come from the type", () => {
    for (const f of FLAGS) {
      expect(f.help.length).toBeGreaterThan(10);
      expect(f.commands.length).toBeGreaterThan(0);
    }
    expect(FLAGS.filter((f) => f.boolean).map((f): string => f.name).sort()).toEqual(
      ["access-log", "challenge-cache", "enable-private-registries", "enable-private-registries-tls", "help", "json", "verbose", "version", "warm-up-pod-cache"].sort(),
    );
  });

  test("defaults shown are the ones parsing applies", () => {
    for (const c of COMMANDS) {
      const { config } = parse([], c);
      for (const f of flagsOf(c)) {
        if (f.default === undefined || f.name === "registry-auth-secret-path") continue;
        const explicit = parse(f.boolean ? [`--${f.name}=${f.default}`] : [`--${f.name}`, f.default], c).config;
        expect(explicit[f.name]).toEqual(config[f.name]);
      }
    }
    expect(FLAGS.find((f) => f.name === "pod-ttl")?.default).toBe("30m");
    expect(FLAGS.find((f) => f.name === "log-level")?.default).toBe("2");
  });
});

describe("suggestions", () => {
  test("edit distance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
    expect(closest("prot", ["port", "http-port"])).toBe("port");
    expect(closest("xyz", ["port"])).toBeUndefined();
  });
});

describe("durations", () => {
  test("Go syntax", () => {
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("0")).toBe(0);
    for (const bad of ["", "m", "10", "10x", "-1s", "1h 2m"]) expect(parseDuration(bad)).toBeUndefined();
  });
});
