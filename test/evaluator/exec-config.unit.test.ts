// The functional core of the exec runtime: config.yaml parsing, image matching,
// output ResourceList parsing and Porch's message formats.
import { describe, expect, test } from "../support/testing.ts";
import { Buffer } from "node:buffer";
import { imageKeys, lookupFunction, parseExecConfig } from "../../src/evaluator/exec-config.ts";
import { FunctionError, interpretOutcome, stderrExcerpt } from "../../src/evaluator/outcome.ts";
import { formatResult, formatResults, hasErrorResult, parseOutputResourceList } from "../../src/evaluator/results.ts";
import { isRunnerError } from "../../src/errors.ts";
const encode = (s: string): Uint8Array => new TextEncoder().encode(s);

const PREFIX = "ghcr.io/kptdev/krm-functions-catalog/";
const opts = { file: "/fns/config.yaml", dir: "/fns", defaultImagePrefix: PREFIX };

describe("config.yaml", () => {
  test("image+binary entries: relative binaries live in the directory, absolute ones stay", () => {
    const r = parseExecConfig(
      `functions:
  - image: set-namespace:v0.4.1
    binary: bin/set-namespace
  - image: example.com/fns/lint:v1
    binary: /usr/local/bin/lint
    args: ["--strict"]
`,
      opts,
    );
    if (!r.ok) throw new Error(r.error);
    expect(r.table.functions).toEqual([
      { image: "set-namespace:v0.4.1", key: `${PREFIX}set-namespace:v0.4.1`, binary: "/fns/bin/set-namespace", args: [] },
      { image: "example.com/fns/lint:v1", key: "example.com/fns/lint:v1", binary: "/usr/local/bin/lint", args: ["--strict"] },
    ]);
  });

  test("short and full names of one image find the same entry", () => {
    const r = parseExecConfig("functions:\n- {image: set-namespace:v0.4.1, binary: sn}\n- {image: 'docker.io/x/y', binary: xy}\n", opts);
    if (!r.ok) throw new Error(r.error);
    expect(lookupFunction(r.table, "set-namespace:v0.4.1", PREFIX)?.binary).toBe("/fns/sn");
    expect(lookupFunction(r.table, `${PREFIX}set-namespace:v0.4.1`, PREFIX)?.binary).toBe("/fns/sn");
    expect(lookupFunction(r.table, "set-namespace:v0.4.2", PREFIX)).toBeUndefined();
    expect(lookupFunction(r.table, "set-namespace", PREFIX)).toBeUndefined();
    // Docker Hub spellings and the implied :latest.
    expect(lookupFunction(r.table, "index.docker.io/x/y:latest", PREFIX)?.binary).toBe("/fns/xy");
    expect(lookupFunction(r.table, "x/y", PREFIX)?.binary).toBe("/fns/xy");
  });

  test("a digest-pinned entry matches the digest with or without a tag", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const r = parseExecConfig(`functions:\n- {image: "set-labels@${digest}", binary: sl}\n`, opts);
    if (!r.ok) throw new Error(r.error);
    expect(lookupFunction(r.table, `set-labels@${digest}`, PREFIX)?.binary).toBe("/fns/sl");
    expect(lookupFunction(r.table, `${PREFIX}set-labels:v0.1.5@${digest}`, PREFIX)?.binary).toBe("/fns/sl");
    expect(lookupFunction(r.table, `set-labels:v0.1.5`, PREFIX)).toBeUndefined();
    expect(imageKeys(`set-labels:v1@${digest}`, PREFIX)).toEqual([`${PREFIX}set-labels:v1@${digest}`, `${PREFIX}set-labels@${digest}`]);
  });

  test("Porch's function+images form is accepted", () => {
    const r = parseExecConfig(
      "functions:\n  - function: set-image\n    images:\n      - ghcr.io/kptdev/krm-functions-catalog/set-image:v0.1.0\n      - gcr.io/kpt-fn/set-image:v0.1.0\n",
      opts,
    );
    if (!r.ok) throw new Error(r.error);
    expect(r.table.functions.map((f) => [f.key, f.binary])).toEqual([
      [`${PREFIX}set-image:v0.1.0`, "/fns/set-image"],
      ["gcr.io/kpt-fn/set-image:v0.1.0", "/fns/set-image"],
    ]);
  });

  test("duplicates: the first entry wins and the repeat is a warning", () => {
    const r = parseExecConfig(`functions:\n- {image: a/b:v1, binary: one}\n- {image: docker.io/a/b:v1, binary: two}\n`, opts);
    if (!r.ok) throw new Error(r.error);
    expect(lookupFunction(r.table, "a/b:v1", PREFIX)?.binary).toBe("/fns/one");
    expect(r.table.warnings).toHaveLength(1);
    expect(r.table.warnings[0]).toContain("functions[1].image");
  });

  test("empty files and empty lists configure nothing", () => {
    for (const source of ["", "# nothing\n", "functions: []\n", "functions:\n"]) {
      const r = parseExecConfig(source, opts);
      expect(r.ok && r.table.functions.length).toBe(0);
    }
  });

  test("broken files are errors naming the file and the field", () => {
    const cases: Array<[string, string]> = [
      ["functions: [", "/fns/config.yaml: not valid YAML"],
      ["function:\n- {image: a/b, binary: c}\n", 'Unrecognized key: "function"'],
      ["functions:\n- {image: a/b}\n", "functions[0].binary: is required"],
      ["functions:\n- {binary: x}\n", "functions[0].image: is required"],
      ["functions:\n- {image: 'Bad/Name', binary: x}\n", "functions[0].image: invalid image reference"],
      ["functions:\n- {image: a/b, binary: x, imagez: y}\n", "functions[0]: Unrecognized key"],
      ["functions:\n- {image: a/b, binary: x, function: y}\n", "not both"],
      ["functions:\n- {function: y, images: []}\n", "functions[0].images: must list at least one image"],
      ["functions: 3\n", "functions:"],
    ];
    for (const [source, expected] of cases) {
      const r = parseExecConfig(source, opts);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.startsWith("/fns/config.yaml: ")).toBe(true);
        expect(r.error).toContain(expected);
      }
    }
  });

  test("an invalid image in a request is INVALID_REFERENCE", () => {
    let err: unknown;
    try {
      imageKeys("UPPER/Case", PREFIX);
    } catch (e) {
      err = e;
    }
    expect(isRunnerError(err) && err.code).toBe("INVALID_REFERENCE");
  });
});

describe("output ResourceList and results", () => {
  test("results are read from YAML and JSON output", () => {
    const yaml = parseOutputResourceList(
      encode(`kind: ResourceList\nitems: []\nresults:\n- message: bad\n  severity: error\n  resourceRef: {apiVersion: v1, kind: ConfigMap, name: c, namespace: n}\n  field: {path: data.x}\n`),
    );
    expect(yaml).toEqual({
      ok: true,
      results: [{ message: "bad", severity: "error", resourceRef: { apiVersion: "v1", kind: "ConfigMap", name: "c", namespace: "n" }, field: { path: "data.x" } }],
    });
    const json = parseOutputResourceList(encode(JSON.stringify({ kind: "ResourceList", items: [], results: [{ message: "hi" }] })));
    expect(json).toEqual({ ok: true, results: [{ message: "hi" }] });
    expect(parseOutputResourceList(encode("kind: ResourceList\nitems: []\n"))).toEqual({ ok: true, results: [] });
  });

  test("anything but a ResourceList is a parse error", () => {
    for (const [text, why] of [
      ["", "empty"],
      ["kind: Deployment\n", 'unexpected kind "Deployment"'],
      ["- a\n- b\n", "not a YAML object"],
      ["kind: ResourceList\nresults: 3\n", "failed to decode results"],
      ["kind: [", "YAML"],
    ] as const) {
      const r = parseOutputResourceList(encode(text));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toContain(why);
    }
  });

  test("messages are formatted as kpt's Result.String() and Results.Error()", () => {
    expect(formatResult({ message: "m" })).toBe("[info]: m");
    expect(formatResult({ message: "m", severity: "warning", field: { path: "spec.x" } })).toBe("[warning] spec.x: m");
    expect(formatResult({ message: "m", severity: "error", resourceRef: { apiVersion: "apps/v1", kind: "Deployment", name: "app" } })).toBe(
      "[error] apps/v1/Deployment/app: m",
    );
    expect(formatResults([{ message: "a", severity: "error" }, { message: "b" }])).toBe("[error]: a\n\n[info]: b");
    expect(hasErrorResult([{ message: "a", severity: "warning" }])).toBe(false);
    expect(hasErrorResult([{ message: "a", severity: "error" }])).toBe(true);
  });
});

describe("process outcome → answer or Porch's error", () => {
  const exited = (code: number, stdout: string, stderr = "") => ({ kind: "exited" as const, code, signal: null, stdout: encode(stdout), stderr, ms: 5 });

  test("exit 0 with a ResourceList is the answer, error results included", () => {
    const out = "kind: ResourceList\nitems: []\nresults:\n- {message: x, severity: error}\n";
    const res = interpretOutcome("fn:v1", exited(0, out, "log\n"));
    expect(new TextDecoder().decode(res.resourceList)).toBe(out);
    expect(new TextDecoder().decode(res.log)).toBe("log\n");
    expect(res.results).toEqual([{ message: "x", severity: "error" }]);
  });

  test("non-zero exit: INTERNAL with the structured results and stderr", () => {
    let err: unknown;
    try {
      interpretOutcome("fn:v1", exited(1, "kind: ResourceList\nresults:\n- {message: nope, severity: error}\n", "stderr text"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FunctionError);
    const fe = err as FunctionError;
    expect(fe.code).toBe("INTERNAL");
    expect(fe.message).toBe('failed to evaluate function "fn:v1" with structured results: [error]: nope and stderr: stderr text');
    expect(fe.results).toEqual([{ message: "nope", severity: "error" }]);
    expect(fe.toJSON()).toMatchObject({ code: "INTERNAL", results: [{ message: "nope" }], log: "stderr text", exitCode: 1 });
  });

  test("unparseable output: Porch's parse-failure message, with and without a failing exit", () => {
    for (const code of [0, 2]) {
      let err: unknown;
      try {
        interpretOutcome("fn:v1", exited(code, "hello", "oops"));
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).toStartWith(`failed to parse the output of function "fn:v1" with stderr 'oops': `);
      if (code !== 0) expect((err as Error).message).toContain("exit status 2");
    }
  });

  test("deadline, spawn failure and oversized stdout have their own codes", () => {
    const codeOf = (o: Parameters<typeof interpretOutcome>[1]): string => {
      try {
        interpretOutcome("fn", o);
      } catch (e) {
        return isRunnerError(e) ? e.code : "?";
      }
      return "none";
    };
    expect(codeOf({ kind: "deadline", stderr: "", ms: 10 })).toBe("TIMEOUT");
    expect(codeOf({ kind: "spawn-failed", error: "ENOENT", stderr: "", ms: 1 })).toBe("INTERNAL");
    expect(codeOf({ kind: "stdout-too-large", limit: 10, stderr: "", ms: 1 })).toBe("TOO_LARGE");
  });

  test("long stderr is cut to its tail in messages, with a marker", () => {
    const long = `${"a".repeat(20_000)}THE END`;
    const cut = stderrExcerpt(long, 100);
    expect(cut).toEndWith("THE END");
    expect(cut).toContain("[… 19907 earlier bytes of stderr omitted]");
  });

  test("the stderr cut counts bytes and never splits a character", () => {
    const wide = "é日".repeat(10_000);
    const cut = stderrExcerpt(wide, 1000);
    const kept = cut.slice(cut.indexOf("]") + 1);
    expect(Buffer.byteLength(kept, "utf8")).toBeLessThanOrEqual(1000);
    expect(Buffer.byteLength(kept, "utf8")).toBeGreaterThan(995);
    expect(kept.includes("\uFFFD")).toBe(false);
    expect(wide.endsWith(kept)).toBe(true);
    expect(cut).toStartWith(`[… ${Buffer.byteLength(wide) - Buffer.byteLength(kept)} earlier bytes of stderr omitted]`);
  });

  test("the exec runtime words a non-zero exit as Porch's executable evaluator, keeping the results on the error", () => {
    const fail = (o: Parameters<typeof interpretOutcome>[1]): FunctionError => {
      try {
        interpretOutcome("fn:v1", o, "exec");
      } catch (e) {
        return e as FunctionError;
      }
      throw new Error("expected a failure");
    };
    const withResults = fail(exited(3, "kind: ResourceList\nresults:\n- {message: nope, severity: error}\n", "stderr text"));
    expect(withResults.message).toBe('Failed to execute function "fn:v1": exit status 3 (stderr text)');
    expect(withResults.code).toBe("INTERNAL");
    expect(withResults.results).toEqual([{ message: "nope", severity: "error" }]);
    expect(fail(exited(1, "not yaml: [", "")).message).toBe('Failed to execute function "fn:v1": exit status 1 ()');
    const killed = fail({ kind: "exited", code: null, signal: "SIGKILL", stdout: encode(""), stderr: "x", ms: 1 });
    expect(killed.message).toBe('Failed to execute function "fn:v1": signal: killed (x)');
  });
});
