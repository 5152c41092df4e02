import { Hono } from "hono";
import { z } from "zod";
import { isRunnerError, RunnerError, type ErrorCode } from "../errors.ts";
import { parsePlatform } from "../image/manifest.ts";
import type { Runner } from "../runner.ts";

const ResolveBody = z.object({ image: z.string().min(1), platform: z.string().optional() });

const STATUS: Partial<Record<ErrorCode, 400 | 404 | 502 | 503 | 504>> = {
  INVALID_REFERENCE: 400,
  INVALID_ARGUMENT: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_UNKNOWN: 404,
  NOT_FOUND: 404,
  TIMEOUT: 504,
  KUBE_UNAVAILABLE: 503,
};

/** Error body of design.md §2; the status follows the code. */
export function errorResponse(e: unknown): Response {
  const err = isRunnerError(e) ? e : new RunnerError("INTERNAL", e instanceof Error ? e.message : String(e));
  const status = STATUS[err.code] ?? (err.code === "INTERNAL" ? 500 : 502);
  return Response.json({ error: err.toJSON() }, { status });
}

export function httpApp(runner: Runner): Hono {
  const app = new Hono();
  app.onError((e) => errorResponse(e));
  app.get("/healthz", (c) => c.text("ok"));
  app.get("/readyz", (c) => c.text("ok"));
  app.post("/v1/images/resolve", async (c) => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new RunnerError("INVALID_ARGUMENT", "request body is not JSON");
    }
    const body = ResolveBody.safeParse(raw);
    if (!body.success) throw new RunnerError("INVALID_ARGUMENT", `invalid request: ${body.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    const platform = body.data.platform ? parsePlatform(body.data.platform) : undefined;
    const r = await runner.resolver.resolve(body.data.image, platform);
    return c.json({ image: body.data.image, resolved: r.metadata.reference, cached: r.cached, ...r.metadata });
  });
  return app;
}
