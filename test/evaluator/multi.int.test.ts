// Multi-evaluator fall-through (exec, then pod) and --disable-runtimes.
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { parseCommandLine } from "../../src/config/config.ts";
import { isRunnerError, RunnerError } from "../../src/errors.ts";
import { buildEvaluation } from "../../src/evaluator/build.ts";
import { runnerOptionsFrom } from "../../src/runner.ts";
import { multiEvaluator } from "../../src/evaluator/multi.ts";
import type { EvaluationRequest, FunctionEvaluator } from "../../src/evaluator/types.ts";
import { memoryLogger } from "../../src/log.ts";
import { decode, encode, fixture, RESOURCE_LIST, tempDir, writeFunctionsConfig } from "./helpers.ts";

/** A stand-in for the pod runtime: answers for images it knows, records every call. */
function fakePod(known: Record<string, string | Error>): FunctionEvaluator & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    evaluate(req: EvaluationRequest) {
      calls.push(req.image);
      const answer = known[req.image];
      if (answer === undefined) return Promise.reject(new RunnerError("NOT_FOUND", `pod runtime: image ${req.image} not found in the registry`));
      if (answer instanceof Error) return Promise.reject(answer);
      return Promise.resolve({ resourceList: encode(answer), log: encode("from pod\n") });
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

const dir = writeFunctionsConfig(tempDir(), [{ image: "set-namespace:v0.4.1", binary: fixture("set-namespace.sh") }]);
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers) await c();
  rmSync(dir, { recursive: true, force: true });
});

function evaluation(args: string[], pod?: FunctionEvaluator) {
  const { config } = parseCommandLine(["--functions", dir, ...args]);
  const logger = memoryLogger();
  const ev = buildEvaluation(runnerOptionsFrom(config).evaluation, logger, pod === undefined ? {} : { pod });
  closers.push(ev.close);
  return { ...ev, logger };
}

describe("multiEvaluator", () => {
  test("the first runtime that knows the image answers; later ones are not asked", async () => {
    const pod = fakePod({ "set-namespace:v0.4.1": "from-pod" });
    const { evaluator } = evaluation([], pod);
    const res = await evaluator.evaluate({ image: "set-namespace:v0.4.1", resourceList: encode(RESOURCE_LIST) });
    expect(decode(res.log)).toContain("namespace prod");
    expect(pod.calls).toEqual([]);
  });

  test("NOT_FOUND in exec falls through to pod", async () => {
    const pod = fakePod({ "example.com/other:v1": "kind: ResourceList\n" });
    const { evaluator } = evaluation([], pod);
    const res = await evaluator.evaluate({ image: "example.com/other:v1", resourceList: encode(RESOURCE_LIST) });
    expect(decode(res.resourceList)).toBe("kind: ResourceList\n");
    expect(pod.calls).toEqual(["example.com/other:v1"]);
  });

  test("other errors do not fall through: a failing exec function is the answer", async () => {
    const failing = writeFunctionsConfig(tempDir(), [{ image: "example.com/validate:v1", binary: fixture("fail-results.sh") }]);
    const pod = fakePod({ "example.com/validate:v1": "kind: ResourceList\n" });
    const { config } = parseCommandLine(["--functions", failing]);
    const ev = buildEvaluation(runnerOptionsFrom(config).evaluation, memoryLogger(), { pod });
    const err = await rejection(ev.evaluator.evaluate({ image: "example.com/validate:v1", resourceList: encode(RESOURCE_LIST) }));
    expect(isRunnerError(err) && err.code).toBe("INTERNAL");
    expect(err.message).toBe('Failed to execute function "example.com/validate:v1": exit status 1 (validate: 1 error, 1 warning\n)');
    expect(pod.calls).toEqual([]);
    rmSync(failing, { recursive: true, force: true });
  });

  test("a pod runtime error is returned as is", async () => {
    const pod = fakePod({ "example.com/other:v1": new RunnerError("KUBE_UNAVAILABLE", "API server down") });
    const { evaluator } = evaluation([], pod);
    const err = await rejection(evaluator.evaluate({ image: "example.com/other:v1", resourceList: encode(RESOURCE_LIST) }));
    expect(isRunnerError(err) && err.code).toBe("KUBE_UNAVAILABLE");
  });

  test("unknown everywhere: NOT_FOUND naming the image and each runtime's reason", async () => {
    const pod = fakePod({});
    const { evaluator } = evaluation([], pod);
    const err = await rejection(evaluator.evaluate({ image: "example.com/nowhere:v1", resourceList: encode("") }));
    expect(isRunnerError(err) && err.code).toBe("NOT_FOUND");
    expect(err.message).toContain('"example.com/nowhere:v1"');
    expect(err.message).toContain("exec runtime: no executable configured");
    expect(err.message).toContain("pod runtime: image example.com/nowhere:v1 not found");
  });

  test("without a pod runtime (not built yet / no Kubernetes) the NOT_FOUND says so", async () => {
    const { evaluator } = evaluation([]);
    const err = await rejection(evaluator.evaluate({ image: "example.com/nowhere:v1", resourceList: encode("") }));
    expect(isRunnerError(err) && err.code).toBe("NOT_FOUND");
    expect(err.message).toContain("pod runtime: not available");
  });

  test("an empty list is NOT_FOUND", async () => {
    const err = await rejection(multiEvaluator([]).evaluate({ image: "x/y:z", resourceList: encode("") }));
    expect(isRunnerError(err) && err.code).toBe("NOT_FOUND");
    expect(err.message).toContain("every function runtime is disabled");
  });
});

describe("--disable-runtimes", () => {
  test("exec disabled: configured functions go to the pod runtime", async () => {
    const pod = fakePod({ "set-namespace:v0.4.1": "kind: ResourceList\n" });
    const ev = evaluation(["--disable-runtimes", "exec"], pod);
    expect(ev.exec).toBeUndefined();
    const res = await ev.evaluator.evaluate({ image: "set-namespace:v0.4.1", resourceList: encode(RESOURCE_LIST) });
    expect(decode(res.log)).toBe("from pod\n");
    expect(pod.calls).toEqual(["set-namespace:v0.4.1"]);
  });

  test("pod disabled: the pod runtime is never asked", async () => {
    const pod = fakePod({ "example.com/other:v1": "kind: ResourceList\n" });
    const { evaluator } = evaluation(["--disable-runtimes", "pod"], pod);
    const err = await rejection(evaluator.evaluate({ image: "example.com/other:v1", resourceList: encode("") }));
    expect(isRunnerError(err) && err.code).toBe("NOT_FOUND");
    expect(pod.calls).toEqual([]);
    expect(err.message).not.toContain("pod runtime");
  });

  test("both disabled: NOT_FOUND for everything, and a warning at start", async () => {
    const ev = evaluation(["--disable-runtimes", "exec,pod"], fakePod({}));
    await ev.start();
    expect(ev.logger.lines.some((l) => l.includes("no function runtime is enabled"))).toBe(true);
    const err = await rejection(ev.evaluator.evaluate({ image: "set-namespace:v0.4.1", resourceList: encode("") }));
    expect(isRunnerError(err) && err.code).toBe("NOT_FOUND");
  });
});
