import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RunnerError } from "../../src/errors.ts";
import type { FunctionEvaluator } from "../../src/evaluator/types.ts";
import { pushImage, pushIndex } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { logLines, postJson, startInProcess, type InProcess } from "./helpers.ts";

let reg: TestRegistry;
let svc: InProcess;
let small: InProcess;
let pushed: { digest: string };

/** Echoes the ResourceList back, logs the image: stands in for the exec/pod runtimes. */
const echo: FunctionEvaluator = {
  async evaluate(req) {
    if (req.image.includes("missing")) throw new RunnerError("NOT_FOUND", `no runtime for ${req.image}`);
    return { resourceList: req.resourceList, log: new TextEncoder().encode(`ran ${req.image}\n`) };
  },
};

beforeAll(async () => {
  reg = await startRegistry({ mode: "http" });
  pushed = await pushImage(reg, "fn/set-labels", "v1", { format: "oci", entrypoint: ["/usr/local/bin/set-labels"], cmd: ["--verbose"] });
  await pushIndex(
    reg,
    "fn/multi",
    "v2",
    [
      { platform: { os: "linux", architecture: "amd64" }, entrypoint: ["/amd64"] },
      { platform: { os: "linux", architecture: "arm64", variant: "v8" }, entrypoint: ["/arm64"] },
    ],
    { format: "docker" },
  );
  svc = await startInProcess([], { evaluator: echo });
  small = await startInProcess(["--max-request-body-size", "1024"]);
});

afterAll(async () => {
  await svc?.stop();
  await small?.stop();
  await reg?.stop();
});

const resolve = (body: unknown, s: InProcess = svc) => postJson(`${s.base}/v1/images/resolve`, body);
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string; retryable: boolean } }).error;

describe("health", () => {
  test("healthz and readyz answer 200 while serving", async () => {
    expect((await fetch(`${svc.base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${svc.base}/readyz`);
    expect(ready.status).toBe(200);
    // Kubernetes is reported (absent here), not required.
    expect(await ready.json()).toMatchObject({ ready: true, kubernetes: { available: false, reason: expect.any(String) } });
  });
});

describe("POST /v1/images/resolve", () => {
  test("cold then cached, with the documented shape and no second registry call", async () => {
    const image = `${reg.host}/fn/set-labels:v1`;
    const cold = await resolve({ image });
    expect(cold.status).toBe(200);
    const body = (await cold.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      image,
      resolved: image,
      registry: reg.host,
      repository: "fn/set-labels",
      digest: pushed.digest,
      platformDigest: pushed.digest,
      entrypoint: ["/usr/local/bin/set-labels"],
      cmd: ["--verbose"],
      platform: "linux/amd64",
      cached: false,
      auth: { strategy: "default" },
      transport: "plain-http",
    });
    const auth = body.auth as { source: unknown };
    expect(typeof auth.source).toBe("string");
    for (const key of ["image", "resolved", "registry", "repository", "digest", "entrypoint", "cmd", "platform", "cached", "auth", "transport"]) {
      expect(body).toHaveProperty(key);
    }
    await reg.clearLog();
    const warm = await resolve({ image });
    expect(warm.status).toBe(200);
    expect(((await warm.json()) as { cached: boolean }).cached).toBe(true);
    expect(await reg.count(() => true)).toBe(0);
  });

  test("platform selects from an index and both digests are reported", async () => {
    const res = await resolve({ image: `${reg.host}/fn/multi:v2`, platform: "linux/arm64/v8" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { platform: string; entrypoint: string[]; digest: string; platformDigest: string };
    // containerd spelling: v8 is arm64's default (docs/limits.md).
    expect(body.platform).toBe("linux/arm64");
    expect(body.entrypoint).toEqual(["/arm64"]);
    expect(body.digest).not.toBe(body.platformDigest);
  });

  test("concurrent cold requests for one image make one manifest fetch", async () => {
    await pushImage(reg, "fn/burst", "v1", { format: "docker" });
    await reg.clearLog();
    const answers = await Promise.all(Array.from({ length: 16 }, () => resolve({ image: `${reg.host}/fn/burst:v1` })));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(await reg.count((e) => e.method === "GET" && e.path === "/v2/fn/burst/manifests/v1")).toBe(1);
  });

  test("bad input is 400 with the error shape", async () => {
    const notJson = await fetch(`${svc.base}/v1/images/resolve`, { method: "POST", body: "{nope" });
    expect(notJson.status).toBe(400);
    expect(await errorOf(notJson)).toEqual({ code: "INVALID_ARGUMENT", message: "request body is not valid JSON", retryable: false });

    const wrongShape = await resolve({ image: 42 });
    expect(wrongShape.status).toBe(400);
    expect((await errorOf(wrongShape)).code).toBe("INVALID_ARGUMENT");

    const extra = await resolve({ image: "x", tag: "y" });
    expect(extra.status).toBe(400);

    const badRef = await resolve({ image: "UPPER/Case:tag" });
    expect(badRef.status).toBe(400);
    expect((await errorOf(badRef)).code).toBe("INVALID_REFERENCE");

    const badPlatform = await resolve({ image: `${reg.host}/fn/multi:v2`, platform: "linux" });
    expect(badPlatform.status).toBe(400);
  });

  test("unknown image is 404; unreachable registry is 502 and retryable", async () => {
    const unknown = await resolve({ image: `${reg.host}/fn/set-labels:nope` });
    expect(unknown.status).toBe(404);
    const e = await errorOf(unknown);
    expect(e.code).toBe("MANIFEST_UNKNOWN");
    expect(e.message).toContain("fn/set-labels");

    const unreachable = await resolve({ image: "127.0.0.1:1/fn/x:v1" });
    expect(unreachable.status).toBe(502);
    const n = await errorOf(unreachable);
    expect(n.code).toBe("NETWORK");
    expect(n.retryable).toBe(true);
  }, 30_000);

  test("bodies over --max-request-body-size are 413 with the error shape (sized and chunked)", async () => {
    const big = JSON.stringify({ image: "x".repeat(2048) });
    const sized = await fetch(`${small.base}/v1/images/resolve`, { method: "POST", body: big });
    expect(sized.status).toBe(413);
    expect((await errorOf(sized)).code).toBe("TOO_LARGE");

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 256) c.enqueue(bytes.subarray(i, i + 256));
        c.close();
      },
    });
    const chunked = await fetch(`${small.base}/v1/images/resolve`, { method: "POST", body: stream });
    expect(chunked.status).toBe(413);
    expect((await errorOf(chunked)).code).toBe("TOO_LARGE");

    const fits = await resolve({ image: "UPPER" }, small);
    expect(fits.status).toBe(400);
  });
});

describe("cache API", () => {
  test("GET lists records; DELETE ?image= drops every platform of an image so it is fetched again", async () => {
    const image = `${reg.host}/fn/multi:v2`;
    await resolve({ image });
    await resolve({ image, platform: "linux/arm64/v8" });
    const list = (await (await fetch(`${svc.base}/v1/images/cache`)).json()) as {
      images: Array<{ image: string; platform: string; digest: string }>;
      stats: { size: number; hits: number; misses: number };
    };
    const mine = list.images.filter((i) => i.image === image);
    expect(mine.map((i) => i.platform).sort()).toEqual(["linux/amd64", "linux/arm64"]);
    expect(list.stats.size).toBe(list.images.length);

    const del = await fetch(`${svc.base}/v1/images/cache?image=${encodeURIComponent(image)}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ image, removed: 2 });
    const again = (await (await resolve({ image })).json()) as { cached: boolean };
    expect(again.cached).toBe(false);

    const missing = await fetch(`${svc.base}/v1/images/cache`, { method: "DELETE" });
    expect(missing.status).toBe(400);
  });
});

describe("pods and evaluation", () => {
  test("pod spec without Kubernetes: what CLI `podspec --json` answers, the inline template marked as such", async () => {
    const image = `${reg.host}/fn/set-labels:v1`;
    const res = await postJson(`${svc.base}/v1/pods/spec`, { image });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { template: { source: string }; kubernetes: { available: boolean }; pod: { spec: { containers: Array<{ name: string; image: string }> } } };
    expect(body.template.source).toBe("inline");
    expect(body.kubernetes.available).toBe(false);
    expect(body.pod.spec.containers.find((c) => c.name === "function")?.image).toStartWith(`${reg.host}/fn/set-labels@sha256:`);
    // The same answer as the CLI's podspec --json.
    const { podspecCommand } = await import("../../src/cli/podspec.ts");
    const cli = JSON.parse(await podspecCommand(svc.runner, image, "json")) as Record<string, unknown>;
    expect(body).toEqual(JSON.parse(JSON.stringify(cli)));
  });

  test("evaluate calls the evaluator; NOT_FOUND is 404 naming the image", async () => {
    const ok = await postJson(`${svc.base}/v1/functions/evaluate`, { image: "fn:v1", resourceList: "kind: ResourceList\nitems: []\n" });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ resourceList: "kind: ResourceList\nitems: []\n", log: "ran fn:v1\n" });

    const asObject = await postJson(`${svc.base}/v1/functions/evaluate`, { image: "fn:v1", resourceList: { kind: "ResourceList", items: [] } });
    expect(((await asObject.json()) as { resourceList: string }).resourceList).toBe('{"kind":"ResourceList","items":[]}');

    const missing = await postJson(`${svc.base}/v1/functions/evaluate`, { image: "missing:v1", resourceList: "" });
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).message).toContain("missing:v1");

    // The runner's own runtimes (no functions config, no Kubernetes here) cannot run it either.
    const none = await postJson(`${small.base}/v1/functions/evaluate`, { image: "x/y:z", resourceList: "" });
    expect(none.status).toBe(404);
    expect(await errorOf(none)).toMatchObject({ code: "NOT_FOUND", message: expect.stringContaining("x/y:z") });
  });

  test("unknown routes are 404 with the error shape", async () => {
    const res = await fetch(`${svc.base}/v1/nothing`);
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("NOT_FOUND");
  });
});

describe("observability", () => {
  test("/metrics exposes cache, registry, request and evaluation metrics from this runner's registry", async () => {
    const res = await fetch(`${svc.base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    const value = (line: string): number => {
      const m = new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text);
      return m ? Number(m[1]) : Number.NaN;
    };
    expect(value("function_runner_image_cache_hits_total")).toBeGreaterThanOrEqual(1);
    expect(value("function_runner_image_cache_misses_total")).toBeGreaterThanOrEqual(3);
    expect(value("function_runner_image_cache_joined_total")).toBeGreaterThanOrEqual(1);
    expect(value("function_runner_image_cache_entries")).toBe(svc.runner.cache.stats().size);
    expect(value('function_runner_registry_requests_total{kind="manifest",outcome="200"}')).toBeGreaterThanOrEqual(3);
    expect(text).toContain('function_runner_http_request_duration_seconds_count{method="POST",route="/v1/images/resolve",status="200"}');
    expect(text).toContain('function_runner_evaluation_duration_seconds_count{transport="http",outcome="ok"}');
    expect(text).toContain('function_runner_evaluation_duration_seconds_count{transport="http",outcome="NOT_FOUND"}');
    expect(text).toContain("# TYPE function_runner_registry_transport_fallbacks_total counter");
    expect(text).toContain("# TYPE function_runner_pull_secret_syncs_total counter");
    // A route nobody registered, or a method a client made up, does not become a label value.
    expect(text).not.toContain('route="/v1/nothing"');
    expect(text).toContain('function_runner_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}');
    const odd = await fetch(`${svc.base}/healthz`, { method: "BREW" }).catch(() => undefined);
    if (odd) expect((await svc.runner.metrics.text())).not.toContain('method="BREW"');
    // Every sample line is "name{labels} value" or "name value".
    for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$/);
  });

  test("one JSON log line per request: method, path, status, ms; never headers or bodies", async () => {
    const before = svc.logger.lines.length;
    await postJson(`${svc.base}/v1/images/resolve?x=1`, { image: `${reg.host}/fn/set-labels:v1` }, {
      headers: { "content-type": "application/json", authorization: "Bearer sekrit-token" },
    });
    const lines = svc.logger.lines.slice(before);
    const requests = logLines(lines).filter((l) => l.msg === "request");
    expect(requests).toHaveLength(1);
    const line = requests[0] ?? {};
    expect(Object.keys(line).sort()).toEqual(["level", "method", "ms", "msg", "path", "requestId", "status", "time"]);
    expect(line).toMatchObject({ method: "POST", path: "/v1/images/resolve", status: 200 });
    expect(typeof line.ms).toBe("number");
    expect(lines.join("\n")).not.toContain("sekrit");
    expect(lines.join("\n")).not.toContain("set-labels");
  });
});
