// Pure parts of the Kubernetes client: where the configuration comes from,
// error mapping, retry decisions, the pull-secret plan, pull-secret decoding.
import { describe, expect, test } from "../support/testing.ts";
import { Buffer } from "node:buffer";
import type { V1Secret } from "@kubernetes/client-node";
import { serviceAccountOfToken } from "../../src/kube/client.ts";
import { kubeErrorFromStatus, kubeErrorFromTransport } from "../../src/kube/errors.ts";
import { isUnsafeToResend, retryDelay } from "../../src/kube/http.ts";
import { DOCKER_CONFIG_JSON_TYPE, MANAGED_BY_LABEL, MANAGED_BY_VALUE, desiredSecret, planPullSecret } from "../../src/kube/pull-secret-plan.ts";
import { dockerConfigFromSecret } from "../../src/kube/service-account.ts";
import { describeSource, locateKubeconfig } from "../../src/kube/source.ts";
import { TransportError } from "../../src/http/request.ts";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

describe("locateKubeconfig", () => {
  const files = (...paths: string[]) => (p: string) => paths.includes(p);
  const inCluster = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };

  test("--kubeconfig wins over everything", () => {
    const s = locateKubeconfig({ flag: "/k", env: { ...inCluster, KUBECONFIG: "/e" }, homeDir: "/h", exists: () => true });
    expect(s).toEqual({ kind: "flag", path: "/k" });
  });

  test("in-cluster: service host and port set and the token mounted", () => {
    const s = locateKubeconfig({ env: { ...inCluster, KUBECONFIG: "/e" }, serviceAccountDir: "/sa", homeDir: "/h", exists: files("/sa/token", "/e") });
    expect(s).toEqual({ kind: "in-cluster", server: "https://10.0.0.1:443", tokenPath: "/sa/token", caPath: "/sa/ca.crt", namespacePath: "/sa/namespace" });
    const v6 = locateKubeconfig({ env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, serviceAccountDir: "/sa", exists: files("/sa/token") });
    expect(v6.kind === "in-cluster" && v6.server).toBe("https://[fd00::1]:443");
  });

  test("the service host without a token is not in-cluster", () => {
    const s = locateKubeconfig({ env: inCluster, serviceAccountDir: "/sa", homeDir: "/h", exists: files("/h/.kube/config") });
    expect(s).toEqual({ kind: "home", path: "/h/.kube/config" });
  });

  test("$KUBECONFIG: existing files only, in order; none existing falls through to ~/.kube/config", () => {
    expect(locateKubeconfig({ env: { KUBECONFIG: "/a:/b:/c" }, homeDir: "/h", exists: files("/c", "/a") })).toEqual({ kind: "env", paths: ["/a", "/c"] });
    expect(locateKubeconfig({ env: { KUBECONFIG: "/a" }, homeDir: "/h", exists: files("/h/.kube/config") })).toEqual({ kind: "home", path: "/h/.kube/config" });
  });

  test("none: the reason names every place looked at", () => {
    const s = locateKubeconfig({ env: {}, homeDir: "/h", exists: () => false });
    expect(s.kind).toBe("none");
    const reason = s.kind === "none" ? s.reason : "";
    for (const part of ["--kubeconfig", "KUBERNETES_SERVICE_HOST", "$KUBECONFIG", "/h/.kube/config"]) expect(reason).toContain(part);
    expect(describeSource({ kind: "flag", path: "/k" })).toBe("--kubeconfig /k");
  });
});

describe("kubeErrorFromStatus", () => {
  const op = { verb: "create", resource: "secrets", namespace: "porch-fn-system", name: "auth-secret" } as const;
  const server = "https://127.0.0.1:6443";

  test("forbidden names the verb and the resource and is final", () => {
    const e = kubeErrorFromStatus(op, 403, { reason: "Forbidden", message: 'secrets "auth-secret" is forbidden: User "x" cannot create resource "secrets"' }, server);
    expect(e.code).toBe("KUBE_UNAVAILABLE");
    expect(e.reason).toBe("Forbidden");
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('verb "create" on resource "secrets"');
    expect(e.message).toContain("namespace porch-fn-system");
  });

  test("reasons: NotFound, AlreadyExists vs Conflict (both 409), Invalid, 5xx", () => {
    expect(kubeErrorFromStatus(op, 404, { reason: "NotFound" }, server).code).toBe("NOT_FOUND");
    expect(kubeErrorFromStatus(op, 409, { reason: "AlreadyExists" }, server).reason).toBe("AlreadyExists");
    expect(kubeErrorFromStatus(op, 409, JSON.stringify({ reason: "Conflict" }), server).reason).toBe("Conflict");
    expect(kubeErrorFromStatus(op, 409, undefined, server).reason).toBe("Conflict");
    expect(kubeErrorFromStatus(op, 422, { reason: "Invalid" }, server).code).toBe("INVALID_ARGUMENT");
    const e = kubeErrorFromStatus(op, 500, { message: "etcd down" }, server);
    expect([e.code, e.reason, e.retryable]).toEqual(["KUBE_UNAVAILABLE", "ServerError", true]);
    expect(kubeErrorFromStatus(op, 429, "Too many requests, please try again later.", server).reason).toBe("TooManyRequests");
  });

  test("a secret's validation message is never copied (it may quote the data)", () => {
    const e = kubeErrorFromStatus(op, 422, { reason: "Invalid", message: 'data[.dockerconfigjson]: Invalid value: "s3cr3t"' }, server);
    expect(e.message).not.toContain("s3cr3t");
    const pods = kubeErrorFromStatus({ ...op, resource: "pods" }, 422, { reason: "Invalid", message: "spec.containers: Required value" }, server);
    expect(pods.message).toContain("spec.containers: Required value");
  });

  test("transport failures are KUBE_UNAVAILABLE; TLS is final", () => {
    const down = kubeErrorFromTransport(op, server, "NETWORK", "connection failed (ECONNREFUSED)", undefined);
    expect([down.code, down.retryable]).toEqual(["KUBE_UNAVAILABLE", true]);
    expect(down.message).toContain(server);
    expect(kubeErrorFromTransport(op, server, "TLS", "self-signed", undefined).retryable).toBe(false);
  });
});

describe("retryDelay", () => {
  const policy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1_000, deadlineMs: 10_000 };
  const half = () => 0.5;

  test("429 honours Retry-After; 5xx back off; 4xx are final", () => {
    expect(retryDelay(policy, { status: 429, retryAfter: "2" }, 0, 0, false, half)).toBe(2_000);
    expect(retryDelay(policy, { status: 500 }, 0, 0, false, half)).toBe(75);
    expect(retryDelay(policy, { status: 503, retryAfter: "1" }, 1, 0, false, half)).toBe(1_000);
    for (const status of [400, 401, 403, 404, 409, 422]) expect(retryDelay(policy, { status }, 0, 0, false, half)).toBeUndefined();
  });

  test("bounded by attempts and by the deadline", () => {
    expect(retryDelay(policy, { status: 500 }, 3, 0, false, half)).toBeUndefined();
    expect(retryDelay(policy, { status: 429, retryAfter: "30" }, 0, 0, false, half)).toBeUndefined();
  });

  test("connection errors retried unless TLS; a generateName create only after 429 or a refused connection", () => {
    const reset = new TransportError("NETWORK", "connection failed (ECONNRESET)", true);
    const refused = new TransportError("NETWORK", "connection failed (ECONNREFUSED)", true);
    const tls = new TransportError("TLS", "TLS handshake failed", false);
    expect(retryDelay(policy, { error: reset }, 0, 0, false, half)).toBe(75);
    expect(retryDelay(policy, { error: tls }, 0, 0, false, half)).toBeUndefined();
    expect(retryDelay(policy, { error: reset }, 0, 0, true, half)).toBeUndefined();
    expect(retryDelay(policy, { error: refused }, 0, 0, true, half)).toBe(75);
    expect(retryDelay(policy, { status: 500 }, 0, 0, true, half)).toBeUndefined();
    expect(retryDelay(policy, { status: 429 }, 0, 0, true, half)).toBe(75);
    expect(isUnsafeToResend("POST", '{"metadata":{"generateName":"fn-"}}')).toBe(true);
    expect(isUnsafeToResend("POST", '{"metadata":{"name":"fn"}}')).toBe(false);
    expect(isUnsafeToResend("PUT", '{"metadata":{"generateName":"fn-"}}')).toBe(false);
  });
});

describe("planPullSecret", () => {
  const bytes = new TextEncoder().encode('{"auths":{"r.example":{"auth":"dTpw"}}}');
  const target = { namespace: "ns", name: "auth-secret", bytes };
  const existing = (over: Partial<V1Secret> = {}): V1Secret => ({
    ...desiredSecret(target),
    metadata: { name: "auth-secret", namespace: "ns", resourceVersion: "7", labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
    ...over,
  });

  test("absent → create our type, key and label", () => {
    const p = planPullSecret(undefined, target);
    expect(p.action).toBe("create");
    if (p.action !== "create") return;
    expect(p.body.type).toBe(DOCKER_CONFIG_JSON_TYPE);
    expect(p.body.metadata?.labels).toEqual({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE });
    expect(Buffer.from(p.body.data?.[".dockerconfigjson"] ?? "", "base64").equals(Buffer.from(bytes))).toBe(true);
  });

  test("same bytes and label → unchanged (no write)", () => {
    expect(planPullSecret(existing(), target)).toEqual({ action: "unchanged" });
  });

  test("other bytes → update carrying the read resourceVersion, other keys and labels kept", () => {
    const p = planPullSecret(
      existing({
        data: { ".dockerconfigjson": b64("{}"), extra: b64("x") },
        metadata: { name: "auth-secret", namespace: "ns", resourceVersion: "7", labels: { team: "a" }, managedFields: [{ manager: "kubectl" }] },
      }),
      target,
    );
    expect(p.action).toBe("update");
    if (p.action !== "update") return;
    expect(p.reason).toBe("content");
    expect(p.body.metadata?.resourceVersion).toBe("7");
    expect(p.body.metadata?.managedFields).toBeUndefined();
    expect(p.body.metadata?.labels).toEqual({ team: "a", [MANAGED_BY_LABEL]: MANAGED_BY_VALUE });
    expect(p.body.data?.extra).toBe(b64("x"));
  });

  test("same bytes without our label → a label-only update", () => {
    const p = planPullSecret(existing({ metadata: { name: "auth-secret", namespace: "ns", resourceVersion: "7" } }), target);
    expect(p.action === "update" && p.reason).toBe("label");
  });

  test("wrong type or immutable with other bytes → incompatible, naming the Secret", () => {
    const wrong = planPullSecret(existing({ type: "Opaque" }), target);
    expect(wrong.action).toBe("incompatible");
    expect(wrong.action === "incompatible" && wrong.why).toContain("ns/auth-secret");
    expect(planPullSecret(existing({ immutable: true, data: { ".dockerconfigjson": b64("{}") } }), target).action).toBe("incompatible");
    expect(planPullSecret(existing({ immutable: true }), target).action).toBe("unchanged");
  });
});

describe("dockerConfigFromSecret and serviceAccountOfToken", () => {
  test(".dockerconfigjson as is; .dockercfg wrapped as {auths}; other types ignored", () => {
    const json = { apiVersion: "v1", kind: "Secret", type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": b64('{"auths":{"a.io":{"auth":"eDp5"}}}') } };
    expect(dockerConfigFromSecret(json)).toEqual({ auths: { "a.io": { auth: "eDp5" } } });
    const cfg = { type: "kubernetes.io/dockercfg", data: { ".dockercfg": b64('{"b.io":{"auth":"eDp5"}}') } };
    expect(dockerConfigFromSecret(cfg)).toEqual({ auths: { "b.io": { auth: "eDp5" } } });
    expect(dockerConfigFromSecret({ type: "Opaque", data: { ".dockerconfigjson": b64("{}") } })).toBeUndefined();
    expect(() => dockerConfigFromSecret({ type: "kubernetes.io/dockerconfigjson", metadata: { name: "bad" }, data: { ".dockerconfigjson": b64("nope s3cr3t") } })).toThrow(/bad/);
  });

  test("the service account of a projected token, from its sub claim", () => {
    const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;
    expect(serviceAccountOfToken(jwt({ sub: "system:serviceaccount:porch-system:porch-fn-runner" }))).toEqual({ namespace: "porch-system", name: "porch-fn-runner" });
    expect(serviceAccountOfToken(jwt({ sub: "alice" }))).toBeUndefined();
    expect(serviceAccountOfToken("opaque-static-token")).toBeUndefined();
  });
});
