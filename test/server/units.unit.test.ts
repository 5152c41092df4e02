// The service's pure parts: request framing, the body cap, the answer memo,
// error-code mappings, and the batched log sink.
import { describe, expect, test } from "../support/testing.ts";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { ErrorCode } from "../../src/errors.ts";
import type { Resolution } from "../../src/resolve/resolver.ts";
import { FastHistogram } from "../../src/metrics/fast-histogram.ts";
import { capBody, pathOf } from "../../src/server/front.ts";
import { batchedSink } from "../../src/server/log-sink.ts";
import { evaluateRequestCodec, evaluateResponseCodec, healthResponseCodec, ServingStatus } from "../../src/protocol/proto.ts";
import { AnswerCache, resolveAnswer } from "../../src/server/resolve-answer.ts";
import { GRPC_STATUS, HTTP_STATUS } from "../../src/server/status.ts";

describe("pathOf", () => {
  test("path without query, without parsing a URL", () => {
    expect(pathOf("http://127.0.0.1:9080/v1/images/cache?image=a/b:c")).toBe("/v1/images/cache");
    expect(pathOf("http://[::1]:9080/healthz")).toBe("/healthz");
    expect(pathOf("http://h")).toBe("/");
    expect(pathOf("http://h/?x")).toBe("/");
  });
});

describe("capBody", () => {
  const chunked = (bytes: number, chunk = 100): Request => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= bytes) return c.close();
        const n = Math.min(chunk, bytes - sent);
        sent += n;
        c.enqueue(new Uint8Array(n).fill(97));
      },
    });
    return new Request("http://h/v1/x", { method: "POST", body });
  };

  test("a declared length over the cap is refused without reading", async () => {
    const req = new Request("http://h/v1/x", { method: "POST", body: "x".repeat(11), headers: { "content-length": "11" } });
    expect(await capBody(req, 10)).toBeUndefined();
    expect(req.bodyUsed).toBe(false);
  });

  test("a chunked body is read up to the cap; at the cap it passes intact", async () => {
    expect(await capBody(chunked(1001), 1000)).toBeUndefined();
    const ok = await capBody(chunked(1000), 1000);
    expect(ok).toBeDefined();
    expect((await ok?.text())?.length).toBe(1000);
    expect(ok?.method).toBe("POST");
  });
});

describe("status mappings", () => {
  test("every error code has an HTTP status and a gRPC code; classes as docs/errors.md says", () => {
    for (const code of ErrorCode.options) {
      expect(HTTP_STATUS[code]).toBeGreaterThanOrEqual(400);
      expect(GRPC_STATUS[code]).toBeGreaterThan(0);
    }
    expect(HTTP_STATUS.INVALID_REFERENCE).toBe(400);
    expect(HTTP_STATUS.MANIFEST_UNKNOWN).toBe(404);
    expect(HTTP_STATUS.NETWORK).toBe(502);
    expect(HTTP_STATUS.TIMEOUT).toBe(504);
    expect(HTTP_STATUS.KUBE_UNAVAILABLE).toBe(503);
    expect(GRPC_STATUS.NOT_FOUND).toBe(GrpcStatus.NOT_FOUND);
    expect(GRPC_STATUS.TIMEOUT).toBe(GrpcStatus.DEADLINE_EXCEEDED);
  });
});

describe("embedded protos", () => {
  test("field numbers are Porch's: resource_list = 1, image = 2, log = 2", () => {
    const req = evaluateRequestCodec.encode({ resourceList: new Uint8Array([1, 2]), image: "a" });
    // tag (1 << 3 | 2) = 0x0a for resource_list, (2 << 3 | 2) = 0x12 for image.
    expect([...req]).toEqual([0x0a, 2, 1, 2, 0x12, 1, 0x61]);
    const res = evaluateResponseCodec.encode({ resourceList: new Uint8Array([7]), log: new Uint8Array([8]) });
    expect([...res]).toEqual([0x0a, 1, 7, 0x12, 1, 8]);
    expect(evaluateRequestCodec.decode(Buffer.alloc(0))).toEqual({ resourceList: new Uint8Array(0), image: "" });
    expect(healthResponseCodec.decode(healthResponseCodec.encode({ status: ServingStatus.NOT_SERVING })).status).toBe(ServingStatus.NOT_SERVING);
  });
});

describe("AnswerCache", () => {
  const metadata = () => ({
    reference: "r.example/fn:v1",
    registry: "r.example",
    repository: "fn",
    digest: "sha256:a",
    platformDigest: "sha256:a",
    platform: "linux/amd64",
    entrypoint: ["/fn"],
    configEntrypoint: ["/fn"],
    configCmd: null,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
  });
  const auth = { strategy: "default" as const, reason: "r", source: "anonymous" };
  const resolution = (m: ReturnType<typeof metadata>, cached: boolean): Resolution => ({
    metadata: m,
    cached,
    ref: { registry: m.registry, repository: m.repository, tag: "v1" },
    auth,
    transport: "system-ca",
  });

  test("hits reuse the same JSON; a new record, another image string or a miss re-serialize", () => {
    const cache = new AnswerCache();
    const m = metadata();
    const first = cache.json("r.example/fn:v1", resolution(m, true));
    expect(JSON.parse(first)).toEqual(resolveAnswer("r.example/fn:v1", resolution(m, true)));
    expect(cache.json("r.example/fn:v1", resolution(m, true))).toBe(first);
    expect(JSON.parse(cache.json("fn:v1", resolution(m, true))).image).toBe("fn:v1");
    expect(JSON.parse(cache.json("r.example/fn:v1", resolution(m, false))).cached).toBe(false);
    const moved = { ...metadata(), digest: "sha256:b" };
    expect(JSON.parse(cache.json("r.example/fn:v1", resolution(moved, true))).digest).toBe("sha256:b");
  });
});

describe("batchedSink", () => {
  test("one write per turn, in order, flushed before exit paths by flush()", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fr-sink-"));
    try {
      const file = join(dir, "log");
      const sink = batchedSink(openSync(file, "w"));
      sink.write('{"n":1}');
      sink.write('{"n":2}');
      expect(readFileSync(file, "utf8")).toBe("");
      await new Promise((r) => setImmediate(r));
      expect(readFileSync(file, "utf8")).toBe('{"n":1}\n{"n":2}\n');
      sink.write('{"n":3}');
      sink.flush();
      expect(readFileSync(file, "utf8")).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("FastHistogram", () => {
  test("renders cumulative buckets, +Inf, sum and count per label set, with escaped values", () => {
    const h = new FastHistogram("x_seconds", "Help text.", ["method", "route"], [0.1, 0.01, 1]);
    const get = h.labels("GET", "/a");
    get.observe(0.005);
    get.observe(0.05);
    get.observe(5);
    h.labels("GET", 'we"ird').observe(0.5);
    expect(h.render().split("\n")).toEqual([
      "# HELP x_seconds Help text.",
      "# TYPE x_seconds histogram",
      'x_seconds_bucket{method="GET",route="/a",le="0.01"} 1',
      'x_seconds_bucket{method="GET",route="/a",le="0.1"} 2',
      'x_seconds_bucket{method="GET",route="/a",le="1"} 2',
      'x_seconds_bucket{method="GET",route="/a",le="+Inf"} 3',
      'x_seconds_sum{method="GET",route="/a"} 5.055',
      'x_seconds_count{method="GET",route="/a"} 3',
      'x_seconds_bucket{method="GET",route="we\\"ird",le="0.01"} 0',
      'x_seconds_bucket{method="GET",route="we\\"ird",le="0.1"} 0',
      'x_seconds_bucket{method="GET",route="we\\"ird",le="1"} 1',
      'x_seconds_bucket{method="GET",route="we\\"ird",le="+Inf"} 1',
      'x_seconds_sum{method="GET",route="we\\"ird"} 0.5',
      'x_seconds_count{method="GET",route="we\\"ird"} 1',
    ]);
  });
});
