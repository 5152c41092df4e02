// The default keychain's service-account source (docs/kubernetes.md): the
// runner, "in a cluster" through an injected environment and service
// account directory, reads its own ServiceAccount's imagePullSecrets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DefaultKeychain } from "../../src/auth/keychain.ts";
import { parseReference } from "../../src/image/reference.ts";
import { basicAuth, makeClient, rejection } from "../registry/helpers.ts";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import type { KubeApiServer } from "../support/kube/index.ts";
import { NS, makeRunner, startKube, tempDir } from "./helpers.ts";

const RUNNER_NS = "porch-system";
const SA = "porch-fn-runner";
const b64 = (s: string): string => Buffer.from(s).toString("base64");
/** A projected-token look-alike: the runner only reads its `sub` claim; the test server accepts it as a token. */
const TOKEN = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: `system:serviceaccount:${RUNNER_NS}:${SA}` })).toString("base64url")}.c2ln`;

let secure: TestRegistry;
let server: KubeApiServer;
let saDir: string;

beforeAll(async () => {
  secure = await startRegistry({ mode: "tls-htpasswd", users: { puller: "Pull-pw1" } });
  await pushImage(secure, "team/private-fn", "v1", { format: "oci", entrypoint: ["/fn"] });
  server = await startKube({ namespaces: [RUNNER_NS], extraTokens: { [TOKEN]: `system:serviceaccount:${RUNNER_NS}:${SA}` } });
  server.seed("secrets", {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "regcred", namespace: RUNNER_NS },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": b64(JSON.stringify({ auths: { [secure.host]: basicAuth("puller", "Pull-pw1") } })) },
  });
  server.seed("secrets", {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "legacy", namespace: RUNNER_NS },
    type: "kubernetes.io/dockercfg",
    data: { ".dockercfg": b64(JSON.stringify({ "legacy.example": basicAuth("old", "pw") })) },
  });
  server.seed("serviceaccounts", {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: SA, namespace: RUNNER_NS },
    imagePullSecrets: [{ name: "missing" }, { name: "legacy" }, { name: "regcred" }],
  });
  saDir = tempDir("fr-sa-");
  writeFileSync(join(saDir, "token"), TOKEN);
  writeFileSync(join(saDir, "ca.crt"), server.caPem);
  writeFileSync(join(saDir, "namespace"), RUNNER_NS);
});
afterAll(async () => {
  await server?.stop();
  await secure?.stop();
});

const inCluster = () => ({
  env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(server.port) },
  serviceAccountDir: saDir,
});

describe("service account imagePullSecrets", () => {
  test("in a cluster: the runner's own ServiceAccount's pull secrets feed the default keychain", async () => {
    const r = makeRunner(["--pod-namespace", NS], inCluster());
    try {
      expect(r.runner.kube.source.kind).toBe("in-cluster");
      const keychain = r.runner.auth.choose(parseReference(`${secure.host}/team/private-fn:v1`)).provider;
      server.clearRequests();
      const cred = await keychain.forRegistry(secure.host);
      expect(cred.source).toBe(`default:serviceaccount:${RUNNER_NS}/regcred#${secure.host}`);
      expect(cred.credential).toEqual({ kind: "basic", username: "puller", password: "Pull-pw1" });
      expect((await keychain.forRegistry("legacy.example")).source).toBe(`default:serviceaccount:${RUNNER_NS}/legacy#legacy.example`);
      // Requests went out as the service account, through the in-cluster CA and token file.
      const reqs = server.requests();
      expect(reqs.map((e) => `${e.verb} ${e.resource} ${e.name} ${e.status}`)).toEqual([
        `get serviceaccounts ${SA} 200`,
        "get secrets missing 404",
        "get secrets legacy 200",
        "get secrets regcred 200",
      ]);
      expect(new Set(reqs.map((e) => e.user))).toEqual(new Set([`system:serviceaccount:${RUNNER_NS}:${SA}`]));
      // Cached: more lookups within the TTL make no API call.
      await keychain.forRegistry("nothing.example");
      expect(server.requests()).toHaveLength(4);
      // The in-cluster context's namespace is the runner's own.
      expect((await r.runner.kube.client()).contextNamespace).toBe(RUNNER_NS);
    } finally {
      await r.runner.close();
    }
  });

  test("the credentials are used for a real pull from a registry that requires them", async () => {
    const r = makeRunner(["--pod-namespace", NS], inCluster());
    const keychain = new DefaultKeychain({ env: {}, homeDir: "", serviceAccount: r.runner.kube.serviceAccountPullSecrets });
    const withSa = makeClient({ credentials: keychain, registries: [secure] });
    const without = makeClient({ credentials: new DefaultKeychain({ env: {}, homeDir: "" }), registries: [secure] });
    try {
      const res = await withSa.resolver.resolve(`${secure.host}/team/private-fn:v1`);
      expect(res.metadata.entrypoint).toEqual(["/fn"]);
      const e = await rejection(without.resolver.resolve(`${secure.host}/team/private-fn:v1`));
      expect(e.code).toBe("UNAUTHORIZED");
    } finally {
      await Promise.all([withSa.close(), without.close(), r.runner.close()]);
    }
  });

  test("not in a cluster: empty, no API call, client-node not even configured", async () => {
    const kubeconfig = await server.writeKubeconfig(join(tempDir(), "kc"));
    const r = makeRunner(["--kubeconfig", kubeconfig]);
    try {
      server.clearRequests();
      expect(await r.runner.kube.serviceAccountPullSecrets.dockerConfigs()).toEqual([]);
      expect(server.requests()).toEqual([]);
      expect(r.runner.kube.status()).toEqual({ available: true, reason: `configured from --kubeconfig ${kubeconfig}` });
    } finally {
      await r.runner.close();
    }
  });

  test("API trouble: logged, the last known secrets kept, never thrown at a resolve", async () => {
    const r = makeRunner(["--pod-namespace", NS], { ...inCluster(), serviceAccountTtlMs: 0 });
    try {
      const first = await r.runner.kube.serviceAccountPullSecrets.dockerConfigs();
      expect(first.map((s) => s.name)).toEqual([`${RUNNER_NS}/legacy`, `${RUNNER_NS}/regcred`]);
      const fault = server.faults.add({ match: { resource: "serviceaccounts" }, action: { status: 503 } });
      const second = await r.runner.kube.serviceAccountPullSecrets.dockerConfigs();
      fault.remove();
      expect(second).toEqual(first);
      expect(r.logger.lines.some((l) => l.includes("cannot read the service account's image pull secrets"))).toBe(true);
      // Content never reaches the log.
      expect(r.logger.lines.join("\n")).not.toContain("Pull-pw1");
    } finally {
      await r.runner.close();
    }
  });

  test("no permission (Porch's Roles grant none in the runner's namespace): one warning, asked again only after minutes", async () => {
    const r = makeRunner(["--pod-namespace", NS], { ...inCluster(), serviceAccountTtlMs: 0 });
    const fault = server.faults.add({ match: { resource: "serviceaccounts" }, action: { status: 403 } });
    try {
      server.clearRequests();
      for (let i = 0; i < 3; i++) expect(await r.runner.kube.serviceAccountPullSecrets.dockerConfigs()).toEqual([]);
      expect(server.requests().filter((e) => e.resource === "serviceaccounts")).toHaveLength(1);
      expect(r.logger.lines.filter((l) => l.includes("cannot read the service account's image pull secrets"))).toHaveLength(1);
    } finally {
      fault.remove();
      await r.runner.close();
    }
  });
});
