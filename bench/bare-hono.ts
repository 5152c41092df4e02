// The yardstick of bench/http.ts, compiled with the same `bun build` flags as
// dist/function-runner (bench/binaries.ts): Hono and Bun.serve, nothing else.
//   GET  /readyz  → 200 {"ready":true}
//   POST /echo    → parses the JSON body, answers the JSON object read from
//                   --answer FILE (the service's cache-hit answer: same size).
import { readFileSync } from "node:fs";
import { Hono } from "hono";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const answerFile = arg("--answer");
const answer: unknown = answerFile === undefined ? { ok: true } : JSON.parse(readFileSync(answerFile, "utf8"));
const app = new Hono();
app.get("/readyz", (c) => c.json({ ready: true }));
app.post("/echo", async (c) => {
  const body = (await c.req.json()) as { image?: unknown };
  if (typeof body.image !== "string") return c.json({ error: "image" }, 400);
  return c.json(answer);
});
Bun.serve({ port: Number(arg("--http-port") ?? 8080), hostname: arg("--listen-address") ?? "127.0.0.1", fetch: app.fetch });
