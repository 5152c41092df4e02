// The composition root's flag mapping (src/runner.ts runnerOptionsFrom, src/runner-core.ts
// imageOptionsFrom): the one place flags become each part's options.
import { describe, expect, test } from "bun:test";
import { parseCommandLine } from "../../src/config/config.ts";
import { runnerOptionsFrom } from "../../src/runner.ts";

const options = (argv: string[]) => runnerOptionsFrom(parseCommandLine(argv, { exists: () => false }).config);

describe("runnerOptionsFrom", () => {
  test("the TLS chain's options only with both private-registry flags", () => {
    const tls = ["--tls-secret-path=/tls"];
    expect(options(tls).registry.access.privateTls).toBeUndefined();
    expect(options([...tls, "--enable-private-registries"]).registry.access.privateTls).toBeUndefined();
    expect(options([...tls, "--enable-private-registries-tls"]).registry.access.privateTls).toBeUndefined();
    expect(options([...tls, "--enable-private-registries", "--enable-private-registries-tls"]).registry.access.privateTls).toEqual({ tlsSecretPath: "/tls" });
  });

  test("--disable-runtimes is read once: a disabled runtime has no options", () => {
    const all = options([]);
    expect(all.pod).toBeDefined();
    expect(all.evaluation.exec).toBeDefined();
    expect(all.evaluation.pod).toBe(true);
    const noPod = options(["--disable-runtimes=pod"]);
    expect(noPod.pod).toBeUndefined();
    expect(noPod.evaluation.pod).toBe(false);
    expect(noPod.evaluation.exec).toBeDefined();
    const noExec = options(["--disable-runtimes=exec"]);
    expect(noExec.evaluation.exec).toBeUndefined();
    expect(noExec.evaluation.pod).toBe(true);
    expect(options(["--disable-runtimes=exec,pod"]).evaluation.disabled).toEqual(["exec", "pod"]);
  });

  test("each part gets its flags, typed", () => {
    const o = options([
      "--pod-namespace=fns",
      "--pod-ttl=5m",
      "--max-request-body-size=1000",
      "--registry-auth-secret-name=pull",
      "--registry-auth-secret-path=/auth/config.json",
      "--http-port=8081",
      "--shutdown-timeout=3s",
      "--function-pod-template=tpl",
      "--config=/exec.yaml",
      "--warm-up-pod-cache=false",
    ]);
    expect(o.kube).toMatchObject({ namespace: "fns", pullSecret: { name: "pull", path: "/auth/config.json" } });
    expect(o.planner).toEqual({ namespace: "fns", pullSecretName: "pull", maxRequestBodySize: 1000, podTtlMs: 300_000, functionPodTemplate: "tpl" });
    expect(o.pod).toMatchObject({ namespace: "fns", ttlMs: 300_000, maxMessageSize: 1000, warmUp: false });
    expect(o.evaluation.exec).toMatchObject({ maxOutputBytes: 1000, configFile: "/exec.yaml" });
    expect(o.server).toMatchObject({ httpPort: 8081, maxRequestBodySize: 1000, shutdownTimeoutMs: 3000 });
  });

  test("Porch's file flags given as options replace the four flags as a whole", () => {
    const { config } = parseCommandLine(["--function-pod-template=tpl", "--config=/exec.yaml"], { exists: () => false });
    const o = runnerOptionsFrom(config, { warmUp: true, podCacheConfig: "/cache.yaml" });
    expect(o.planner.functionPodTemplate).toBeUndefined();
    expect(o.evaluation.exec?.configFile).toBeUndefined();
    expect(o.pod).toMatchObject({ warmUp: true, podCacheConfig: "/cache.yaml" });
  });
});
