// Pull-secret sync against the TLS test API server, with the real client,
// through runners built as main.ts builds them (docs/kubernetes.md, "The pull Secret").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { isKubeApiError } from "../../src/kube/errors.ts";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import type { KubeApiServer } from "../support/kube/index.ts";
import {
  NS,
  SECRET,
  authJson,
  customArgs,
  kubeconfigFor,
  makeRunner,
  rejection,
  secretBytes,
  startKube,
  tempDir,
  writeAuthFile,
  type TestRunner,
} from "./helpers.ts";

let reg: TestRegistry;
const images: string[] = [];

beforeAll(async () => {
  reg = await startRegistry({ mode: "http" });
  for (let i = 0; i < 6; i++) {
    await pushImage(reg, `private/fn${i}`, "v1", { format: "oci", entrypoint: ["/fn"] });
    images.push(`${reg.host}/private/fn${i}:v1`);
  }
});
afterAll(async () => {
  await reg?.stop();
});

const secretRequests = (server: KubeApiServer) => server.requests().filter((r) => r.resource === "secrets");
const summary = (server: KubeApiServer) => secretRequests(server).map((r) => `${r.verb} ${r.status}${r.reason ? ` ${r.reason}` : ""}`);

async function withKube<T>(fn: (server: KubeApiServer, kubeconfig: string) => Promise<T>, opts: Parameters<typeof startKube>[0] = {}): Promise<T> {
  const server = await startKube(opts);
  try {
    return await fn(server, await kubeconfigFor(server));
  } finally {
    await server.stop();
  }
}

async function closeAll(...rs: TestRunner[]): Promise<void> {
  await Promise.all(rs.map((r) => r.runner.close()));
}

describe("pull secret", () => {
  test("created before the metadata fetch of a custom-registry image, holding the file's exact bytes", () =>
    withKube(async (server, kubeconfig) => {
      const content = authJson("other.example"); // pretty-printed + trailing newline: bytes must match exactly
      const auth = writeAuthFile(content);
      const r = makeRunner(customArgs(kubeconfig, auth));
      try {
        await reg.clearLog();
        const res = await r.runner.resolver.resolve(images[0] as string);
        expect(res.auth.strategy).toBe("custom");
        expect(secretBytes(server)?.toString("utf8")).toBe(content);
        const secret = server.getObject<{ type: string; metadata: { labels: Record<string, string> } }>("secrets", NS, SECRET);
        expect(secret?.type).toBe("kubernetes.io/dockerconfigjson");
        expect(secret?.metadata.labels["app.kubernetes.io/managed-by"]).toBe("kpt-function-runner");
        expect(summary(server)).toEqual(["get 404 NotFound", "create 201"]);
        // Default-registry images never touch the Secret.
        server.clearRequests();
        await rejection(r.runner.resolver.resolve("gcr.io/kpt-fn/set-labels:v0.0.0-test"));
        expect(secretRequests(server)).toEqual([]);
        // Nor the content in any log line.
        expect(r.logger.lines.join("\n")).not.toContain(Buffer.from("fn-user:fn-pass").toString("base64"));
      } finally {
        await closeAll(r);
      }
    }));

  test("two runner replicas racing: both succeed, the Secret ends with the file's bytes, no error surfaced", () =>
    withKube(async (server, kubeconfig) => {
      const content = authJson("race.example");
      const auth = writeAuthFile(content);
      // Both replicas read "absent" (deterministically), so both create: a real race on create.
      server.faults.add({ match: { verb: "get", resource: "secrets" }, times: 2, action: { status: 404 } });
      const a = makeRunner(customArgs(kubeconfig, auth));
      const b = makeRunner(customArgs(kubeconfig, auth));
      try {
        const results = await Promise.allSettled([a.runner.resolver.resolve(images[1] as string), b.runner.resolver.resolve(images[1] as string)]);
        expect(results.map((x) => x.status)).toEqual(["fulfilled", "fulfilled"]);
        expect(secretBytes(server)?.toString("utf8")).toBe(content);
        const s = summary(server);
        expect(s.filter((x) => x === "create 201")).toHaveLength(1);
        expect(s.filter((x) => x === "create 409 AlreadyExists")).toHaveLength(1);
        // The loser re-read and found it up to date: no update was needed.
        expect(s.filter((x) => x.startsWith("update"))).toEqual([]);
        for (const r of [a, b]) expect(r.logger.lines.filter((l) => l.includes('"level":"error"'))).toEqual([]);
      } finally {
        await closeAll(a, b);
      }
    }));

  test("replicas racing on an update: the 409 Conflict loser re-reads and converges", () =>
    withKube(async (server, kubeconfig) => {
      const dir = tempDir();
      const auth = writeAuthFile(authJson("old.example"), dir);
      const seed = makeRunner(customArgs(kubeconfig, auth));
      await seed.runner.kube.pullSecret.ensure();
      await seed.runner.close();
      const content = authJson("new.example");
      writeFileSync(auth, content);
      server.clearRequests();
      // Both read the old Secret at once; their updates (same resourceVersion) land later: one must get 409.
      server.faults.add({ match: { verb: "update", resource: "secrets" }, times: 2, action: { latencyMs: 150 } });
      const a = makeRunner(customArgs(kubeconfig, auth));
      const b = makeRunner(customArgs(kubeconfig, auth));
      try {
        const out = await Promise.all([a.runner.kube.pullSecret.ensure(), b.runner.kube.pullSecret.ensure()]);
        expect(out.sort()).toEqual(["unchanged", "updated"]);
        expect(secretBytes(server)?.toString("utf8")).toBe(content);
        const s = summary(server);
        expect(s.filter((x) => x === "update 200")).toHaveLength(1);
        expect(s.filter((x) => x === "update 409 Conflict")).toHaveLength(1);
      } finally {
        await closeAll(a, b);
      }
    }));

  test("file changed → exactly one update; unchanged file → no API call at all", () =>
    withKube(async (server, kubeconfig) => {
      const auth = writeAuthFile(authJson("one.example"));
      const r = makeRunner(customArgs(kubeconfig, auth));
      try {
        await r.runner.resolver.resolve(images[2] as string);
        server.clearRequests();
        // Unchanged file: further misses of custom images cost no Kubernetes request.
        await r.runner.resolver.resolve(images[3] as string);
        expect(await r.runner.kube.pullSecret.ensure()).toBe("skipped");
        expect(secretRequests(server)).toEqual([]);

        const content = authJson("two.example", "rotated", "creds");
        writeFileSync(auth, content);
        // Concurrent callers share one sync.
        const outcomes = await Promise.all([r.runner.resolver.resolve(images[4] as string), r.runner.kube.pullSecret.ensure(), r.runner.kube.pullSecret.ensure()]);
        expect(outcomes.slice(1)).toEqual(["updated", "updated"]);
        expect(summary(server)).toEqual(["get 200", "update 200"]);
        expect(secretBytes(server)?.toString("utf8")).toBe(content);
        expect(await r.runner.metrics.text()).toMatch(/function_runner_pull_secret_syncs_total\{outcome="updated"\} 1/);
      } finally {
        await closeAll(r);
      }
    }));

  test("a writer that always wins: bounded rounds, then SECRET_SYNC_FAILED", () =>
    withKube(async (server, kubeconfig) => {
      server.seed("secrets", {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: SECRET, namespace: NS },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": Buffer.from("{}").toString("base64") },
      });
      server.faults.add({ match: { verb: "update", resource: "secrets" }, action: { status: 409 } });
      const r = makeRunner(customArgs(kubeconfig, writeAuthFile(authJson("busy.example"))));
      try {
        const e = await rejection(r.runner.kube.pullSecret.ensure());
        expect(e.code).toBe("SECRET_SYNC_FAILED");
        expect(e.message).toContain("other writers kept changing it (5 attempts)");
        expect(summary(server).filter((x) => x.startsWith("update"))).toHaveLength(5);
        expect(await r.runner.metrics.text()).toMatch(/function_runner_pull_secret_syncs_total\{outcome="conflict"\} 5/);
      } finally {
        await closeAll(r);
      }
    }));

  test("a 500 then OK is retried transparently", () =>
    withKube(async (server, kubeconfig) => {
      const auth = writeAuthFile(authJson("retry.example"));
      server.faults.add({ match: { verb: "create", resource: "secrets" }, times: 1, action: { status: 500 } });
      const r = makeRunner(customArgs(kubeconfig, auth));
      try {
        expect(await r.runner.kube.pullSecret.ensure()).toBe("created");
        expect(summary(server)).toEqual(["get 404 NotFound", "create 500 InternalError", "create 201"]);
      } finally {
        await closeAll(r);
      }
    }));

  test("429 with Retry-After: the retry waits as told", () =>
    withKube(async (server, kubeconfig) => {
      const auth = writeAuthFile(authJson("slow.example"));
      server.faults.add({ match: { verb: "get", resource: "secrets" }, times: 1, action: { status: 429, retryAfterSeconds: 1 } });
      const r = makeRunner(customArgs(kubeconfig, auth));
      try {
        expect(await r.runner.kube.pullSecret.ensure()).toBe("created");
        const gets = secretRequests(server).filter((e) => e.verb === "get");
        expect(gets.map((e) => e.status)).toEqual([429, 404]);
        const waited = (gets[1]?.time.getTime() ?? 0) - (gets[0]?.time.getTime() ?? 0);
        expect(waited).toBeGreaterThanOrEqual(950);
        expect(waited).toBeLessThan(3_000);
      } finally {
        await closeAll(r);
      }
    }));

  test("API server down: SECRET_SYNC_FAILED naming the cause, no metadata fetch, no pod", async () => {
    const server = await startKube();
    const kubeconfig = await kubeconfigFor(server);
    await server.stop();
    const auth = writeAuthFile(authJson("down.example"));
    const r = makeRunner(customArgs(kubeconfig, auth));
    try {
      await reg.clearLog();
      const e = await rejection(r.runner.resolver.resolve(images[5] as string));
      expect(e.code).toBe("SECRET_SYNC_FAILED");
      expect(e.message).toContain(`pull Secret ${NS}/${SECRET}`);
      expect(e.message).toContain("cannot connect to the API server at https://127.0.0.1:");
      expect(isKubeApiError(e.cause) && e.cause.code).toBe("KUBE_UNAVAILABLE");
      // The registry was never asked: the Secret comes first.
      expect(await reg.count((x) => x.path.includes("/private/fn5/"))).toBe(0);
      // The pod path fails the same way, before building anything.
      const p = await rejection(r.runner.planner.prepare(images[5] as string));
      expect(p.code).toBe("SECRET_SYNC_FAILED");
      // Errors are not cached: nothing was stored for the image.
      expect(r.runner.cache.list()).toEqual([]);
    } finally {
      await closeAll(r);
    }
  });

  test("forbidden: the error names the verb and the resource; not retried", () =>
    withKube(
      async (server, kubeconfig) => {
        const auth = writeAuthFile(authJson("rbac.example"));
        const r = makeRunner(customArgs(kubeconfig, auth));
        try {
          const e = await rejection(r.runner.kube.pullSecret.ensure());
          expect(e.code).toBe("SECRET_SYNC_FAILED");
          expect(e.retryable).toBe(false);
          expect(e.message).toContain('verb "create" on resource "secrets"');
          expect(isKubeApiError(e.cause) && e.cause.reason).toBe("Forbidden");
          expect(summary(server)).toEqual(["get 404 NotFound", "create 403 Forbidden"]);
        } finally {
          await closeAll(r);
        }
      },
      { authorize: (a) => !(a.verb === "create" && a.resource === "secrets") },
    ));

  test("an Opaque Secret of that name is reported, not overwritten", () =>
    withKube(async (server, kubeconfig) => {
      server.seed("secrets", { apiVersion: "v1", kind: "Secret", metadata: { name: SECRET, namespace: NS }, type: "Opaque", data: { a: "YQ==" } });
      const auth = writeAuthFile(authJson("opaque.example"));
      const r = makeRunner(customArgs(kubeconfig, auth));
      try {
        const e = await rejection(r.runner.kube.pullSecret.ensure());
        expect(e.code).toBe("SECRET_SYNC_FAILED");
        expect(e.message).toContain("type Opaque");
        expect(summary(server)).toEqual(["get 200"]);
      } finally {
        await closeAll(r);
      }
    }));

  test("a missing auth file fails clearly without calling the API", () =>
    withKube(async (server, kubeconfig) => {
      const r = makeRunner(customArgs(kubeconfig, "/nonexistent/.dockerconfigjson"));
      try {
        const e = await rejection(r.runner.kube.pullSecret.ensure());
        expect(e.code).toBe("SECRET_SYNC_FAILED");
        expect(e.message).toContain("does not exist");
        expect(secretRequests(server)).toEqual([]);
      } finally {
        await closeAll(r);
      }
    }));
});
