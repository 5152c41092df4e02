// The exec runtime with real (tiny, POSIX sh) functions from test/fixtures/functions.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRunnerError } from "../../src/errors.ts";
import { ExecEvaluator } from "../../src/evaluator/exec.ts";
import { FunctionError } from "../../src/evaluator/outcome.ts";
import { memoryLogger } from "../../src/log.ts";
import { alive, decode, encode, fixture, RESOURCE_LIST, tempDir, waitFor, writeFunctionsConfig } from "./helpers.ts";

const PREFIX = "ghcr.io/kptdev/krm-functions-catalog/";
const dirs: string[] = [];
const evaluators: ExecEvaluator[] = [];

function setup(functions: Parameters<typeof writeFunctionsConfig>[1], opts: { maxOutputBytes?: number } = {}) {
  const dir = tempDir();
  dirs.push(dir);
  writeFunctionsConfig(dir, functions);
  const logger = memoryLogger();
  const exec = new ExecEvaluator({ dir, defaultImagePrefix: PREFIX, maxOutputBytes: opts.maxOutputBytes ?? 6 * 1024 * 1024, logger });
  evaluators.push(exec);
  return { dir, exec, logger };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

afterAll(async () => {
  for (const e of evaluators) await e.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("exec evaluator", () => {
  test("runs the binary: ResourceList on stdin, stdout is the answer, stderr the log", async () => {
    const { exec } = setup([{ image: "set-namespace:v0.4.1", binary: fixture("set-namespace.sh") }]);
    const res = await exec.evaluate({ image: "set-namespace:v0.4.1", resourceList: encode(RESOURCE_LIST) });
    const out = decode(res.resourceList);
    expect(out).toContain("kind: ResourceList");
    const items = out.slice(0, out.indexOf("functionConfig:"));
    expect(items.match(/^    namespace: prod$/gm)).toHaveLength(2);
    expect(out).not.toContain("namespace: old");
    // A ConfigMap data key called namespace is not metadata.
    expect(out).toContain("    namespace: not-metadata");
    expect(out).toContain("- message: namespace set on 2 resources");
    expect(decode(res.log)).toBe("set-namespace: 2 resources now in namespace prod\n");
  });

  test("short and full image names reach the same entry", async () => {
    const { exec } = setup([{ image: `${PREFIX}set-namespace:v0.4.1`, binary: fixture("set-namespace.sh") }]);
    for (const image of ["set-namespace:v0.4.1", `${PREFIX}set-namespace:v0.4.1`]) {
      const res = await exec.evaluate({ image, resourceList: encode(RESOURCE_LIST) });
      expect(decode(res.log)).toContain("namespace prod");
    }
  });

  test("binaries relative to the functions directory, with configured args", async () => {
    const { dir, exec } = setup([]);
    writeFileSync(join(dir, "echo-args.sh"), `#!/bin/sh\ncat >/dev/null\necho "kind: ResourceList"\necho "items: []"\necho "args: $*" >&2\n`, { mode: 0o755 });
    writeFunctionsConfig(dir, [{ image: "example.com/echo:v1", binary: "echo-args.sh", args: ["--one", "two"] }]);
    const res = await exec.evaluate({ image: "example.com/echo:v1", resourceList: encode(RESOURCE_LIST) });
    expect(decode(res.log)).toBe("args: --one two\n");
  });

  test("an unknown image is NOT_FOUND naming the image and the config file", async () => {
    const { exec } = setup([{ image: "set-namespace:v0.4.1", binary: fixture("set-namespace.sh") }]);
    const err = await rejection(exec.evaluate({ image: "set-namespace:v9", resourceList: encode(RESOURCE_LIST) }));
    expect(isRunnerError(err) && err.code).toBe("NOT_FOUND");
    expect(err.message).toContain('"set-namespace:v9"');
    expect(err.message).toContain(exec.configFile);
  });

  test("a failing function: INTERNAL in Porch's exec wording, carrying its structured results and stderr", async () => {
    const { exec, logger } = setup([{ image: "example.com/validate:v1", binary: fixture("fail-results.sh") }]);
    const err = await rejection(exec.evaluate({ image: "example.com/validate:v1", resourceList: encode(RESOURCE_LIST) }));
    expect(err).toBeInstanceOf(FunctionError);
    const fe = err as FunctionError;
    expect(fe.code).toBe("INTERNAL");
    expect(fe.exitCode).toBe(1);
    expect(fe.stderr).toBe("validate: 1 error, 1 warning\n");
    expect(fe.results).toEqual([
      {
        message: "replicas must be at most 3",
        severity: "error",
        resourceRef: { apiVersion: "apps/v1", kind: "Deployment", name: "app", namespace: "old" },
        field: { path: "spec.replicas" },
      },
      { message: "image tag is not pinned", severity: "warning" },
    ]);
    expect(fe.message).toBe('Failed to execute function "example.com/validate:v1": exit status 1 (validate: 1 error, 1 warning\n)');
    expect(logger.lines.some((l) => l.includes('"exec function failed"'))).toBe(true);
  });

  test("the set-namespace function fails with a structured result when its config lacks the namespace", async () => {
    const { exec } = setup([{ image: "set-namespace:v0.4.1", binary: fixture("set-namespace.sh") }]);
    const input = RESOURCE_LIST.replace("    namespace: prod\n", "");
    const err = (await rejection(exec.evaluate({ image: "set-namespace:v0.4.1", resourceList: encode(input) }))) as FunctionError;
    expect(err.results).toEqual([{ message: "functionConfig.data.namespace is required", severity: "error" }]);
    expect(err.message).toStartWith('Failed to execute function "set-namespace:v0.4.1": exit status 1 (');
  });

  test("exit 0 with output that is not a ResourceList is an error (stdout must be the answer)", async () => {
    const { exec } = setup([{ image: "example.com/garbage:v1", binary: fixture("garbage.sh") }]);
    const err = await rejection(exec.evaluate({ image: "example.com/garbage:v1", resourceList: encode(RESOURCE_LIST) }));
    expect(err.message).toBe(
      `failed to parse the output of function "example.com/garbage:v1" with stderr 'garbage: reached stdout\n': input was of unexpected kind "Deployment"; expected ResourceList`,
    );
  });

  test("past the deadline the whole process group is killed: TIMEOUT", async () => {
    const { dir, exec } = setup([]);
    const pidFile = join(dir, "pids");
    writeFunctionsConfig(dir, [{ image: "example.com/hang:v1", binary: fixture("hang.sh"), args: [pidFile] }]);
    const started = Date.now();
    const err = await rejection(exec.evaluate({ image: "example.com/hang:v1", resourceList: encode(RESOURCE_LIST), deadline: Date.now() + 700 }));
    const took = Date.now() - started;
    expect(isRunnerError(err) && err.code).toBe("TIMEOUT");
    expect(err.message).toContain("process group was killed");
    expect(err.message).toContain("hang: waiting forever");
    expect(took).toBeGreaterThanOrEqual(650);
    expect(took).toBeLessThan(3_000);
    const [shell, child] = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    // The shell and the sleep it started: a plain kill of the shell would leave the sleep running.
    expect(await waitFor(() => !alive(shell ?? 0) && !alive(child ?? 0), 3_000)).toBe(true);
  });

  test("a deadline already passed does not start the function", async () => {
    const { dir, exec } = setup([]);
    const pidFile = join(dir, "pids");
    writeFunctionsConfig(dir, [{ image: "example.com/hang:v1", binary: fixture("hang.sh"), args: [pidFile] }]);
    const err = await rejection(exec.evaluate({ image: "example.com/hang:v1", resourceList: encode(""), deadline: Date.now() - 1 }));
    expect(isRunnerError(err) && err.code).toBe("TIMEOUT");
    await Bun.sleep(100);
    expect(() => readFileSync(pidFile)).toThrow();
  });

  test("cancellation (the caller went away) kills the process group", async () => {
    const { dir, exec } = setup([]);
    const pidFile = join(dir, "pids");
    writeFunctionsConfig(dir, [{ image: "example.com/hang:v1", binary: fixture("hang.sh"), args: [pidFile] }]);
    const ac = new AbortController();
    const p = rejection(exec.evaluate({ image: "example.com/hang:v1", resourceList: encode(""), signal: ac.signal }));
    expect(await waitFor(() => readFileSync(pidFile, { flag: "a+" }).length > 0)).toBe(true);
    ac.abort();
    const err = await p;
    expect(err.message).toContain("cancelled");
    const [shell, child] = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    expect(await waitFor(() => !alive(shell ?? 0) && !alive(child ?? 0), 3_000)).toBe(true);
  });

  test("close() kills functions still running", async () => {
    const { dir, exec } = setup([]);
    const pidFile = join(dir, "pids");
    writeFunctionsConfig(dir, [{ image: "example.com/hang:v1", binary: fixture("hang.sh"), args: [pidFile] }]);
    const p = rejection(exec.evaluate({ image: "example.com/hang:v1", resourceList: encode("") }));
    expect(await waitFor(() => readFileSync(pidFile, { flag: "a+" }).length > 0)).toBe(true);
    await exec.close();
    await p;
    const [shell, child] = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    expect(await waitFor(() => !alive(shell ?? 0) && !alive(child ?? 0), 3_000)).toBe(true);
  });

  test("stdout beyond --max-request-body-size is TOO_LARGE and the function is killed", async () => {
    const { exec } = setup([{ image: "example.com/flood:v1", binary: fixture("flood.sh"), args: ["256"] }], { maxOutputBytes: 64 * 1024 });
    const err = await rejection(exec.evaluate({ image: "example.com/flood:v1", resourceList: encode(RESOURCE_LIST) }));
    expect(isRunnerError(err) && err.code).toBe("TOO_LARGE");
  });

  test("a missing binary is INTERNAL naming the image (not NOT_FOUND: the image is configured)", async () => {
    const { exec } = setup([{ image: "example.com/missing:v1", binary: "no-such-binary" }]);
    const err = await rejection(exec.evaluate({ image: "example.com/missing:v1", resourceList: encode(RESOURCE_LIST) }));
    expect(isRunnerError(err) && err.code).toBe("INTERNAL");
    expect(err.message).toStartWith('Failed to execute function "example.com/missing:v1": ');
    expect(err.message).toContain("no-such-binary");
  });

  test("concurrent calls run independently", async () => {
    const { exec } = setup([{ image: "set-namespace:v0.4.1", binary: fixture("set-namespace.sh") }]);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        exec.evaluate({ image: "set-namespace:v0.4.1", resourceList: encode(RESOURCE_LIST.replace("namespace: prod", `namespace: ns-${i}`)) }),
      ),
    );
    results.forEach((r, i) => expect(decode(r.log)).toBe(`set-namespace: 2 resources now in namespace ns-${i}\n`));
  });
});

describe("config.yaml life cycle", () => {
  test("re-read when it changes: new entries appear, removed ones are NOT_FOUND", async () => {
    const { dir, exec } = setup([{ image: "example.com/fn-a:v1", binary: fixture("set-namespace.sh") }]);
    await exec.evaluate({ image: "example.com/fn-a:v1", resourceList: encode(RESOURCE_LIST) });
    writeFunctionsConfig(dir, [{ image: "example.com/fn-b:v1", binary: fixture("set-namespace.sh") }]);
    await exec.evaluate({ image: "example.com/fn-b:v1", resourceList: encode(RESOURCE_LIST) });
    const err = await rejection(exec.evaluate({ image: "example.com/fn-a:v1", resourceList: encode(RESOURCE_LIST) }));
    expect(isRunnerError(err) && err.code).toBe("NOT_FOUND");
  });

  test("broken later: logged as an error and the previous functions stay in use", async () => {
    const { dir, exec, logger } = setup([{ image: "example.com/fn-a:v1", binary: fixture("set-namespace.sh") }]);
    await exec.evaluate({ image: "example.com/fn-a:v1", resourceList: encode(RESOURCE_LIST) });
    writeFileSync(join(dir, "config.yaml"), "functions:\n- {image: example.com/fn-b:v1}\n");
    const res = await exec.evaluate({ image: "example.com/fn-a:v1", resourceList: encode(RESOURCE_LIST) });
    expect(decode(res.log)).toContain("namespace prod");
    const errors = logger.lines.filter((l) => l.includes('"level":"error"'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("keeping the previous functions");
    expect(errors[0]).toContain("functions[0].binary: is required");
    // Logged once per version of the file, not per call.
    await exec.evaluate({ image: "example.com/fn-a:v1", resourceList: encode(RESOURCE_LIST) });
    expect(logger.lines.filter((l) => l.includes('"level":"error"'))).toHaveLength(1);
    // Fixed: the new content is used.
    writeFunctionsConfig(dir, [{ image: "example.com/fn-b:v1", binary: fixture("set-namespace.sh") }]);
    await exec.evaluate({ image: "example.com/fn-b:v1", resourceList: encode(RESOURCE_LIST) });
  });

  test("broken from the start: load() throws naming the file; calls fail loudly instead of falling through", async () => {
    const { dir, exec } = setup([]);
    writeFileSync(join(dir, "config.yaml"), "functions:\n- {image: 'Not A Ref', binary: x}\n");
    const loadErr = await rejection(exec.load());
    expect(isRunnerError(loadErr) && loadErr.code).toBe("INVALID_ARGUMENT");
    expect(loadErr.message).toContain(`${join(dir, "config.yaml")}: functions[0].image: invalid image reference`);
    const callErr = await rejection(exec.evaluate({ image: "example.com/fn-a:v1", resourceList: encode(RESOURCE_LIST) }));
    expect(isRunnerError(callErr) && callErr.code).toBe("INTERNAL");
    expect(callErr.message).toContain("exec runtime unavailable");
    expect(callErr.message).toContain(join(dir, "config.yaml"));
  });

  test("no config file: no functions (every image NOT_FOUND); one created later is picked up", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const logger = memoryLogger();
    const exec = new ExecEvaluator({ dir, defaultImagePrefix: PREFIX, maxOutputBytes: 1 << 20, logger });
    expect(await exec.load()).toMatchObject({ functions: [] });
    expect(logger.lines.some((l) => l.includes("no config file"))).toBe(true);
    const err = await rejection(exec.evaluate({ image: "example.com/fn-a:v1", resourceList: encode("") }));
    expect(isRunnerError(err) && err.code).toBe("NOT_FOUND");
    writeFunctionsConfig(dir, [{ image: "example.com/fn-a:v1", binary: fixture("set-namespace.sh") }]);
    const res = await exec.evaluate({ image: "example.com/fn-a:v1", resourceList: encode(RESOURCE_LIST) });
    expect(decode(res.log)).toContain("namespace prod");
  });

  test("a request with an invalid image reference is INVALID_REFERENCE", async () => {
    const { exec } = setup([]);
    const err = await rejection(exec.evaluate({ image: "Not A Ref", resourceList: encode("") }));
    expect(isRunnerError(err) && err.code).toBe("INVALID_REFERENCE");
  });
});
