import { describe, expect, test } from "../support/testing.ts";
import { jsonLogger } from "../../src/log.ts";
import { frontHandler } from "../../src/server/front.ts";
import { MetadataCache } from "../../src/resolve/metadata-cache.ts";
import { createMetrics } from "../../src/metrics/metrics.ts";

const metrics = createMetrics({ cache: new MetadataCache(), registryRequests: { snapshot: () => ({}) } });

function front(level: "debug" | "info", accessLog: boolean | undefined, status: number) {
  const lines: string[] = [];
  // A 204 has no body (Deno enforces the fetch spec here; Bun does not).
  const handler = frontHandler(() => new Response(status === 204 ? null : "x", { status }), {
    maxBodyBytes: 1024,
    routes: new Set(["/v1/images/resolve"]),
    logger: jsonLogger(level, (l) => lines.push(l)),
    metrics,
    ...(accessLog === undefined ? {} : { accessLog }),
  });
  return { lines, call: () => handler(new Request("http://127.0.0.1/v1/images/resolve?secret=1", { method: "POST", body: "{}" })) };
}

describe("request log", () => {
  test("at info without --access-log: no line for a 200", async () => {
    const f = front("info", false, 200);
    await f.call();
    expect(f.lines).toEqual([]);
  });

  test("--access-log: one line per request at info, path without the query", async () => {
    const f = front("info", true, 200);
    await f.call();
    expect(f.lines).toHaveLength(1);
    expect(JSON.parse(f.lines[0] ?? "{}")).toMatchObject({ level: "info", msg: "request", method: "POST", path: "/v1/images/resolve", status: 200 });
    expect(f.lines[0]).not.toContain("secret");
  });

  test("at debug: every request at debug", async () => {
    const f = front("debug", undefined, 204);
    await f.call();
    expect(JSON.parse(f.lines[0] ?? "{}")).toMatchObject({ level: "debug", status: 204 });
  });

  test("a 5xx answer is logged at warn without --access-log", async () => {
    const f = front("info", false, 503);
    await f.call();
    expect(JSON.parse(f.lines[0] ?? "{}")).toMatchObject({ level: "warn", msg: "request", status: 503 });
  });
});
