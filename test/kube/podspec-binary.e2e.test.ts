// `function-runner podspec` in the compiled binary, against the TLS test API
// server through a kubeconfig with certificate-authority-data: this is what
// proves the client's TLS works in the Bun-compiled binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseAllDocuments } from "yaml";
import { ensureBinary, runBinary } from "../cli/binary.ts";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import type { KubeApiServer } from "../support/kube/index.ts";
import { NS, SECRET, authJson, kubeconfigFor, startKube, tempDir, writeAuthFile } from "./helpers.ts";

let reg: TestRegistry;
let server: KubeApiServer;
let kubeconfig: string;
let digest: string;
let image: string;
/** No ~/.kube/config, no $KUBECONFIG, not in a cluster: only what a test passes. */
const env = (): Record<string, string | undefined> => ({
  HOME: tempDir("fr-home-"),
  KUBECONFIG: undefined,
  KUBERNETES_SERVICE_HOST: undefined,
  WRAPPER_SERVER_IMAGE: "example.test/wrapper-server:v9",
});

beforeAll(async () => {
  ensureBinary();
  reg = await startRegistry({ mode: "http" });
  digest = (await pushImage(reg, "fn/podspec", "v1", { format: "docker", entrypoint: ["/fn", "run"] })).digest;
  image = `${reg.host}/fn/podspec:v1`;
  server = await startKube();
  kubeconfig = await kubeconfigFor(server, { embedCA: true });
});
afterAll(async () => {
  await server?.stop();
  await reg?.stop();
});

const writes = () => server.requests().filter((r) => !["get", "list", "watch"].includes(r.verb ?? ""));

function docs(stdout: string): Array<Record<string, unknown>> {
  return parseAllDocuments(stdout).map((d) => d.toJSON() as Record<string, unknown>);
}

describe("function-runner podspec (compiled binary)", () => {
  test("custom registry, TLS API server: Pod + Service YAML, the Secret action, and no writes", async () => {
    expect(kubeconfig.length).toBeGreaterThan(0);
    expect(await Bun.file(kubeconfig).text()).toContain("certificate-authority-data");
    const auth = writeAuthFile(authJson("private.example"));
    server.clearRequests();
    const r = await runBinary(
      ["podspec", image, "--kubeconfig", kubeconfig, "--enable-private-registries", "--registry-auth-secret-path", auth, "--pod-namespace", NS],
      env(),
    );
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`# pull secret: Secret ${SECRET}: would create`);
    expect(r.stdout).toContain("# template:    base-pod-template (inline, version inline-v1)");
    expect(r.stdout).toContain("would be created from the inline default");
    expect(r.stdout).toContain(`# kubernetes:  configured from --kubeconfig ${kubeconfig}`);
    const [pod, service] = docs(r.stdout);
    expect(pod?.kind).toBe("Pod");
    expect(service?.kind).toBe("Service");
    const spec = pod?.spec as { containers: Array<{ name: string; image: string; args: string[] }>; initContainers: Array<{ image: string }>; imagePullSecrets: unknown };
    expect(spec.containers[0]?.image).toBe(`${reg.host}/fn/podspec@${digest}`);
    expect(spec.containers[0]?.args.slice(-3)).toEqual(["--", "/fn", "run"]);
    expect(spec.initContainers[0]?.image).toBe("example.test/wrapper-server:v9");
    expect(spec.imagePullSecrets).toEqual([{ name: SECRET }]);
    // The binary really talked TLS to the API server (read-only).
    const seen = server.requests().map((e) => `${e.verb} ${e.resource} ${e.status}`);
    expect(seen).toEqual(["get secrets 404", "get podtemplates 404", "get servicetemplates 404"]);
    expect(server.requests()[0]?.userAgent).toBe("kpt-function-runner");
    expect(writes()).toEqual([]);
  });

  test("default registry with the template in the cluster: its version; --json", async () => {
    server.seed("podtemplates", {
      apiVersion: "v1",
      kind: "PodTemplate",
      metadata: { name: "base-pod-template", namespace: NS },
      template: { spec: { containers: [{ name: "function", image: "x" }] } },
    });
    const rv = server.getObject<{ metadata: { resourceVersion: string } }>("podtemplates", NS, "base-pod-template")?.metadata.resourceVersion;
    server.clearRequests();
    const r = await runBinary(["podspec", image, "--json", "--kubeconfig", kubeconfig, "--pod-namespace", NS], env());
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      secret: { name: string | null; action: string };
      template: { source: string; version: string };
      pod: { metadata: { annotations: Record<string, string> } };
      kubernetes: { available: boolean; server: string };
      digest: string;
    };
    expect(out.secret).toEqual({ name: null, action: "not needed: private registries disabled" });
    expect(out.template).toMatchObject({ source: "cluster", version: rv });
    expect(out.pod.metadata.annotations["fn.kpt.dev/template-version"]).toBe(rv as string);
    expect(out.kubernetes).toMatchObject({ available: true, server: server.url });
    expect(out.digest).toBe(digest);
    expect(writes()).toEqual([]);
  });

  test("without any cluster: the inline template, and the output says so", async () => {
    const r = await runBinary(["podspec", image], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("# template:    base-pod-template (inline, version inline-v1): no Kubernetes");
    expect(r.stdout).toMatch(/# kubernetes:  unavailable \(no Kubernetes configuration: no --kubeconfig/);
    expect(docs(r.stdout)[0]?.kind).toBe("Pod");
  });

  test("podspec takes exactly one IMAGE", async () => {
    const r = await runBinary(["podspec"], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("function-runner podspec: takes exactly one IMAGE (see function-runner podspec --help)\n");
  });
});
