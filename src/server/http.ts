/**
 * The HTTP API (docs/http-api.md) on Hono. Handlers are thin: validate with zod,
 * call the runner, shape the answer. Errors are RunnerErrors rendered as
 * `{error: {code, message, retryable}}` with the status of status.ts.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { isRunnerError, RunnerError } from "../errors.ts";
import type { FunctionEvaluator } from "../evaluator/types.ts";
import { parsePlatform } from "../image/platform.ts";
import type { Runner } from "../runner.ts";
import { frontHandler } from "./front.ts";
import { bearerGuard, TokenFile } from "./http-auth.ts";
import { AnswerCache } from "./resolve-answer.ts";
import type { FetchHandler } from "./listen.ts";
import { HTTP_STATUS } from "./status.ts";

export interface HttpDeps {
  runner: Runner;
  evaluator: FunctionEvaluator;
  /** False while starting and once shutdown began: /readyz answers 503. */
  isReady(): boolean;
}

const ResolveBody = z.object({ image: z.string().min(1), platform: z.string().min(1).optional() }).strict();
type ResolveBodyT = z.infer<typeof ResolveBody>;

const nonEmpty = (v: unknown): v is string => typeof v === "string" && v.length > 0;

/**
 * ResolveBody's accepting case checked by hand: zod's object parse was a
 * measurable share of a cache hit (bench/http.ts). Anything this does not
 * accept goes through the schema, which gives the error.
 */
function resolveBody(raw: unknown): ResolveBodyT {
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    const o = raw as Record<string, unknown>;
    let keys = 0;
    for (const k in o) {
      if (!Object.hasOwn(o, k)) continue;
      if (k !== "image" && k !== "platform") return validate(raw, ResolveBody);
      keys++;
    }
    const { image, platform } = o;
    if (nonEmpty(image)) {
      if (platform === undefined && keys === 1) return { image };
      if (nonEmpty(platform) && keys === 2) return { image, platform };
    }
  }
  return validate(raw, ResolveBody);
}
/** Listing page size: 100 by default, at most 1000 records per answer. */
const CacheQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().regex(/^[0-9]{1,15}$/, "not a cursor from a previous page").optional(),
});
const PodSpecBody = z.object({ image: z.string().min(1) }).strict();
/** resourceList: the ResourceList text (YAML or JSON) as Porch sends it; an object is taken as JSON. */
const EvaluateBody = z
  .object({ image: z.string().min(1), resourceList: z.union([z.string(), z.record(z.string(), z.unknown())]) })
  .strict();

function errorBody(err: RunnerError): { error: ReturnType<RunnerError["toJSON"]> } {
  return { error: err.toJSON() };
}

/** The error body of docs/errors.md; the status follows the code. */
export function errorResponse(e: unknown): Response {
  const err = isRunnerError(e) ? e : new RunnerError("INTERNAL", e instanceof Error ? e.message : String(e));
  return Response.json(errorBody(err), { status: HTTP_STATUS[err.code] });
}

async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new RunnerError("INVALID_ARGUMENT", "request body is not valid JSON");
  }
}

async function jsonBody<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  return validate(await readJson(c), schema);
}

function validate<T>(raw: unknown, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "body"}: ${i.message}`);
    throw new RunnerError("INVALID_ARGUMENT", `invalid request: ${issues.join("; ")}`);
  }
  return parsed.data;
}

const JSON_INIT: ResponseInit = { headers: { "content-type": "application/json" } };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * POST /v1/images/resolve on the raw request, errors answered in the error
 * shape. The front handler calls it directly (no Hono routing or context on
 * the hottest route, bench/http.ts); Hono's route calls the same function.
 */
export function resolveHandler(runner: Runner): (req: Request) => Promise<Response> {
  const answers = new AnswerCache();
  return async (req) => {
    try {
      let raw: unknown;
      try {
        raw = await req.json();
      } catch {
        throw new RunnerError("INVALID_ARGUMENT", "request body is not valid JSON");
      }
      const body = resolveBody(raw);
      const platform = body.platform === undefined ? undefined : parsePlatform(body.platform);
      // A client that disconnects stops waiting; the shared fetch goes on for the cache and other callers.
      const r = await runner.resolver.resolve(body.image, platform, { signal: req.signal });
      return new Response(answers.json(body.image, r), JSON_INIT);
    } catch (e) {
      return errorResponse(e);
    }
  };
}

export function httpApp(deps: HttpDeps, resolveRoute?: (req: Request) => Promise<Response>): Hono {
  const { runner, evaluator } = deps;
  const { metrics } = runner;
  const app = new Hono();

  app.onError((e) => errorResponse(e));
  app.notFound((c) => errorResponse(new RunnerError("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`)));

  app.get("/healthz", (c) => c.text("ok"));
  // Ready = serving and not shutting down. Kubernetes is reported, not required: the exec runtime
  // and the image API work without it, and a pod-less runner is still worth routing to.
  app.get("/readyz", (c) => {
    const ready = deps.isReady();
    return c.json({ ready, kubernetes: runner.kube.status() }, ready ? 200 : 503);
  });
  app.get("/metrics", async (c) => c.body(await metrics.text(), 200, { "content-type": metrics.contentType }));

  const resolve = resolveRoute ?? resolveHandler(runner);
  app.post("/v1/images/resolve", (c) => resolve(c.req.raw));

  // Paged: the listing never walks or serialises the whole cache in one event-loop turn.
  app.get("/v1/images/cache", (c) => {
    const q = CacheQuery.safeParse({ limit: c.req.query("limit"), cursor: c.req.query("cursor") });
    if (!q.success) throw new RunnerError("INVALID_ARGUMENT", `invalid query: ${q.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    const page = runner.cache.page(q.data.limit, q.data.cursor);
    const images = page.records.map(({ key, value, expiresAt }) => ({
      key,
      image: value.reference,
      platform: value.platform,
      digest: value.digest,
      platformDigest: value.platformDigest,
      entrypoint: value.entrypoint,
      expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
    }));
    return c.json({ images, next: page.next ?? null, stats: runner.cache.stats() });
  });

  app.delete("/v1/images/cache", (c) => {
    const image = c.req.query("image");
    if (image === undefined || image.trim() === "") throw new RunnerError("INVALID_ARGUMENT", "query parameter image is required");
    return c.json({ image, removed: runner.resolver.forget(image) });
  });

  app.post("/v1/pods/spec", async (c) => {
    const body = await jsonBody(c, PodSpecBody);
    // The CLI's `podspec --json` answer: without a cluster, the inline template (template.source
    // says so) and `kubernetes` says why no cluster was used. Read-only either way.
    const answer = await runner.planner.podSpec(body.image, { allowInline: true });
    return c.json({ ...answer, kubernetes: runner.kube.status() });
  });

  app.post("/v1/functions/evaluate", async (c) => {
    const body = await jsonBody(c, EvaluateBody);
    const text = typeof body.resourceList === "string" ? body.resourceList : JSON.stringify(body.resourceList);
    const started = performance.now();
    try {
      const res = await evaluator.evaluate({ image: body.image, resourceList: encoder.encode(text), signal: c.req.raw.signal });
      metrics.evaluationDuration.labels("http", "ok").observe((performance.now() - started) / 1000);
      return c.json({ resourceList: decoder.decode(res.resourceList), log: decoder.decode(res.log) });
    } catch (e) {
      metrics.evaluationDuration.labels("http", isRunnerError(e) ? e.code : "INTERNAL").observe((performance.now() - started) / 1000);
      throw e;
    }
  });

  return app;
}

/** The app behind the body cap, request log and latency histogram: what the server serves. */
export function httpHandler(deps: HttpDeps): FetchHandler {
  const resolve = resolveHandler(deps.runner);
  const app = httpApp(deps, resolve);
  const { server } = deps.runner.options;
  const front = frontHandler(app.fetch, {
    direct: { method: "POST", path: "/v1/images/resolve", handler: resolve },
    maxBodyBytes: server.maxRequestBodySize,
    routes: new Set(app.routes.map((r) => r.path)),
    logger: deps.runner.logger,
    metrics: deps.runner.metrics,
    accessLog: server.accessLog,
  });
  // --http-auth-token-file: checked before the front reads any body (docs/security.md).
  const tokenFile = server.httpAuthTokenFile;
  if (tokenFile === undefined) return front;
  const { logger, metrics } = deps.runner;
  return bearerGuard(front, { token: new TokenFile(tokenFile, logger), logger, metrics, accessLog: server.accessLog });
}
