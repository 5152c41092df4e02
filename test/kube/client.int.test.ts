// The Kubernetes client over real undici against the TLS test API server:
// kubeconfig TLS variants, typed errors, retries, the client-side rate limit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createKubeClient, type KubeClient } from "../../src/kube/client.ts";
import { isKubeApiError } from "../../src/kube/errors.ts";
import type { KubeApiServer } from "../support/kube/index.ts";
import { NS, fastKubeRetry, rejection, startKube, tempDir } from "./helpers.ts";

let server: KubeApiServer;
let otherCa: KubeApiServer;

beforeAll(async () => {
  server = await startKube();
  otherCa = await startKube();
});
afterAll(async () => {
  await server?.stop();
  await otherCa?.stop();
});

async function client(opts: Parameters<KubeApiServer["writeKubeconfig"]>[1] = {}, extra: Parameters<typeof createKubeClient>[1] = {}): Promise<KubeClient> {
  const path = await server.writeKubeconfig(join(tempDir(), "kubeconfig"), opts);
  return createKubeClient({ kind: "flag", path }, { retry: fastKubeRetry, ...extra });
}

const listSecrets = (c: KubeClient) => c.call({ verb: "list", resource: "secrets", namespace: NS }, (core) => core.listNamespacedSecret({ namespace: NS }));

describe("TLS and credentials from the kubeconfig", () => {
  test("certificate-authority-data + bearer token", async () => {
    const c = await client({ embedCA: true });
    try {
      expect((await listSecrets(c)).items).toEqual([]);
      expect(server.requests().at(-1)?.user).toBe("test-user");
    } finally {
      await c.close();
    }
  });

  test("certificate-authority file + client certificate", async () => {
    const c = await client({ embedCA: false, auth: "clientCert" });
    try {
      await listSecrets(c);
      expect(server.requests().at(-1)?.user).toBe(server.pki.clientUser);
    } finally {
      await c.close();
    }
  });

  test("a CA that did not sign the server: TLS failure, not retried, KUBE_UNAVAILABLE naming the CA setting", async () => {
    const path = await server.writeKubeconfig(join(tempDir(), "kubeconfig"));
    // Same server URL, another test CA.
    const wrong = (await Bun.file(path).text()).replace(
      Buffer.from(server.caPem).toString("base64"),
      Buffer.from(otherCa.caPem).toString("base64"),
    );
    await Bun.write(path, wrong);
    const c = await createKubeClient({ kind: "flag", path }, { retry: fastKubeRetry });
    try {
      server.clearRequests();
      const e = await rejection(listSecrets(c));
      expect(e.code).toBe("KUBE_UNAVAILABLE");
      expect(isKubeApiError(e) && e.reason).toBe("TLS");
      expect(e.message).toContain("certificate-authority");
      expect(e.retryable).toBe(false);
      expect(server.requests()).toEqual([]);
    } finally {
      await c.close();
    }
  });

  test("a token the server does not know: Unauthorized, not retried", async () => {
    const c = await client({ token: "not-the-token" });
    try {
      const e = await rejection(listSecrets(c));
      expect(isKubeApiError(e) && e.reason).toBe("Unauthorized");
      expect(e.message).toContain("rejected the runner's credentials");
    } finally {
      await c.close();
    }
  });
});

describe("typed errors and retries", () => {
  test("find() answers undefined for NotFound; call() throws NOT_FOUND naming the object", async () => {
    const c = await client();
    try {
      const op = { verb: "get", resource: "secrets", namespace: NS, name: "nope" } as const;
      expect(await c.find(op, (core) => core.readNamespacedSecret({ name: "nope", namespace: NS }))).toBeUndefined();
      const e = await rejection(c.call(op, (core) => core.readNamespacedSecret({ name: "nope", namespace: NS })));
      expect(e.code).toBe("NOT_FOUND");
      expect(e.message).toBe(`cannot get secrets "nope" in namespace ${NS}: not found`);
    } finally {
      await c.close();
    }
  });

  test("5xx and dropped connections are retried, bounded; exhausted → KUBE_UNAVAILABLE", async () => {
    const c = await client();
    try {
      server.clearRequests();
      server.faults.add({ match: { verb: "list", resource: "secrets" }, times: 1, action: { dropConnection: true } });
      server.faults.add({ match: { verb: "list", resource: "secrets" }, times: 1, action: { status: 503 } });
      await listSecrets(c);
      expect(server.requests().map((e) => e.status)).toEqual([0, 503, 200]);

      server.clearRequests();
      const fault = server.faults.add({ match: { verb: "list", resource: "secrets" }, action: { status: 500 } });
      const e = await rejection(listSecrets(c));
      fault.remove();
      expect(e.code).toBe("KUBE_UNAVAILABLE");
      expect(e.message).toContain("answered 500");
      expect(server.requests()).toHaveLength(fastKubeRetry.attempts);
    } finally {
      await c.close();
    }
  });

  test("a plain-text 429 (flow control) is retried too", async () => {
    const c = await client();
    try {
      server.clearRequests();
      server.faults.add({ match: { verb: "list", resource: "secrets" }, times: 1, action: { status: 429, plainText: true, retryAfterSeconds: 0 } });
      await listSecrets(c);
      expect(server.requests().map((e) => e.status)).toEqual([429, 200]);
    } finally {
      await c.close();
    }
  });

  test("a create with generateName is not resent after a 500 (it could make a second pod)", async () => {
    const c = await client();
    try {
      server.clearRequests();
      server.faults.add({ match: { verb: "create", resource: "secrets" }, times: 1, action: { status: 500 } });
      const e = await rejection(
        c.call({ verb: "create", resource: "secrets", namespace: NS }, (core) =>
          core.createNamespacedSecret({ namespace: NS, body: { metadata: { generateName: "gen-" }, data: {} } }),
        ),
      );
      expect(e.code).toBe("KUBE_UNAVAILABLE");
      expect(server.requests().map((r) => r.status)).toEqual([500]);
    } finally {
      await c.close();
    }
  });
});

describe("client-side rate limit", () => {
  test("burst, then qps", async () => {
    const c = await client({}, { rateLimit: { qps: 10, burst: 3 } });
    try {
      const started = performance.now();
      await Promise.all(Array.from({ length: 8 }, () => listSecrets(c)));
      // 3 at once, then 5 more at 10/s: at least ~500 ms.
      expect(performance.now() - started).toBeGreaterThanOrEqual(480);
    } finally {
      await c.close();
    }
  });
});
