import { describe, expect, test } from "../support/testing.ts";
import { parseCommandLine } from "../../src/config/config.ts";
import { parseDuration } from "../../src/config/duration.ts";
import { FlagError } from "../../src/config/flags.ts";

describe("flags", () => {
  test("Porch's defaults", () => {
    const { config } = parseCommandLine([]);
    expect(config).toMatchObject({
      port: 9445,
      "http-port": 9080,
      "pod-namespace": "porch-fn-system",
      "default-image-prefix": "ghcr.io/kptdev/krm-functions-catalog/",
      "enable-private-registries": false,
      "registry-auth-secret-path": "/var/tmp/auth-secret/.dockerconfigjson",
      "registry-auth-secret-name": "auth-secret",
      "enable-private-registries-tls": false,
      "tls-secret-path": "/var/tmp/tls-secret/",
      "max-request-body-size": 6291456,
      "pod-ttl": 1_800_000,
      "scan-interval": 60_000,
      functions: "./functions",
      platform: "linux/amd64",
      "insecure-registries": [],
    });
  });

  test("Go flag forms: --a=b, --a b, -a b, bare and =false booleans", () => {
    const { config, positionals } = parseCommandLine(["resolve-me", "--port=1", "--http-port", "2", "-pod-namespace", "ns", "--enable-private-registries", "--enable-private-registries-tls=false", "--insecure-registries", "a:5000, b"]);
    expect(config.port).toBe(1);
    expect(config["http-port"]).toBe(2);
    expect(config["pod-namespace"]).toBe("ns");
    expect(config["enable-private-registries"]).toBe(true);
    expect(config["enable-private-registries-tls"]).toBe(false);
    expect(config["insecure-registries"]).toEqual(["a:5000", "b"]);
    expect(positionals).toEqual(["resolve-me"]);
  });

  test("everything after -- is kept apart", () => {
    expect(parseCommandLine(["--port", "1", "--", "/fn", "--x"]).rest).toEqual(["/fn", "--x"]);
  });

  const bad: Array<[string[], string]> = [
    [["--port", "99999"], "port"],
    [["--pod-ttl", "30 minutes"], "pod-ttl"],
    [["--platform", "amd64"], "platform"],
    [["--enable-private-registries=maybe"], "enable-private-registries"],
    [["--no-such-flag"], "no-such-flag"],
    [["--http-port"], "http-port"],
    [["--disable-runtimes", "docker"], "disable-runtimes"],
  ];
  for (const [argv, flag] of bad) {
    test(`invalid: ${argv.join(" ")} names --${flag}`, () => {
      try {
        parseCommandLine(argv);
        throw new Error("accepted");
      } catch (e) {
        expect(e).toBeInstanceOf(FlagError);
        expect((e as FlagError).flag).toBe(flag);
        expect((e as Error).message).toContain(`--${flag}`);
      }
    });
  }
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
