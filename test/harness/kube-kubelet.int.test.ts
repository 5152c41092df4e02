// The simulated kubelet and endpoints controller of the test API server,
// including a real process per pod reachable at podIP:9446.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type Server, createServer } from "node:http";
import type { CoreV1Api, V1Endpoints, V1Pod } from "@kubernetes/client-node";
import { type TestApiClient, coreV1ForTests } from "../support/kube/client-for-tests.ts";
import { type KubeApiServer, loopbackIPAllocator, startKubeApiServer } from "../support/kube/index.ts";
import type { WireEndpoints, WirePod } from "../support/kube/types.ts";

const NS = "porch-fn-system";
let server: KubeApiServer;
let client: TestApiClient<CoreV1Api>;
let api: CoreV1Api;
let counter = 0;

beforeAll(async () => {
  server = await startKubeApiServer({ namespaces: [NS] });
  client = await coreV1ForTests(server.kubeconfigYaml());
  api = client.api;
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

beforeEach(() => {
  server.kubelet.disable();
  server.kubelet.configure({ startDelayMs: 0, onPodRunning: undefined, onPodDeleted: undefined, podIP: "127.0.0.1", readyOnStart: true });
});

function fnPod(name: string, app: string, ports: { name?: string; containerPort: number }[] = [{ containerPort: 9446 }]): V1Pod {
  return {
    metadata: { name, labels: { "fn.kpt.dev/image": app } },
    spec: { containers: [{ name: "function", image: "example.com/fn@sha256:" + "a".repeat(64), ports }] },
  };
}

async function service(name: string, app: string, targetPort: number | string = 9446): Promise<void> {
  await api.createNamespacedService({
    namespace: NS,
    body: { metadata: { name }, spec: { selector: { "fn.kpt.dev/image": app }, ports: [{ port: 9446, targetPort }] } },
  });
}

function unique(prefix: string): string {
  counter++;
  return `${prefix}-${counter}`;
}

describe("pod lifecycle", () => {
  test("pods created while the kubelet is off stay Pending and unscheduled, then start when it is enabled", async () => {
    const name = unique("late");
    await api.createNamespacedPod({ namespace: NS, body: fnPod(name, name) });
    await server.settle();
    const pending = server.getObject<WirePod>("pods", NS, name);
    expect(pending?.status?.phase).toBe("Pending");
    expect(pending?.spec?.nodeName).toBeUndefined();
    server.kubelet.enable();
    await server.settle();
    expect(server.getObject<WirePod>("pods", NS, name)?.status?.phase).toBe("Running");
  });

  test("during startDelayMs the pod is scheduled and ContainerCreating, not ready", async () => {
    server.kubelet.enable({ startDelayMs: 300 });
    const name = unique("slow");
    await api.createNamespacedPod({ namespace: NS, body: fnPod(name, name) });
    const creating = await server.waitForObject<WirePod>("pods", NS, name, (p) => p.status?.containerStatuses !== undefined);
    expect(creating.spec?.nodeName).toBe("kube-test-node");
    expect(creating.status?.phase).toBe("Pending");
    expect(creating.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("ContainerCreating");
    expect(creating.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("False");
    const running = await server.waitForObject<WirePod>("pods", NS, name, (p) => p.status?.phase === "Running", 3000);
    expect(running.status?.startTime).toBeDefined();
    expect(running.status?.containerStatuses?.[0]?.imageID).toBe("example.com/fn@sha256:" + "a".repeat(64));
  });

  test("a failing onPodRunning hook fails the pod", async () => {
    server.kubelet.enable({
      onPodRunning: () => {
        throw new Error("exec format error");
      },
    });
    const name = unique("broken");
    await api.createNamespacedPod({ namespace: NS, body: fnPod(name, name) });
    const failed = await server.waitForObject<WirePod>("pods", NS, name, (p) => p.status?.phase === "Failed");
    expect(failed.status?.message).toBe("exec format error");
    expect(failed.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 1, reason: "Error" });
  });

  test("setContainerWaiting reports e.g. ImagePullBackOff", async () => {
    server.kubelet.enable({ readyOnStart: false });
    const name = unique("pull");
    await api.createNamespacedPod({ namespace: NS, body: fnPod(name, name) });
    await server.settle();
    const pod = server.kubelet.setContainerWaiting(name, "ImagePullBackOff", "Back-off pulling image", { namespace: NS });
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting).toEqual({ reason: "ImagePullBackOff", message: "Back-off pulling image" });
    const read = await api.readNamespacedPod({ namespace: NS, name });
    expect(read.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("ImagePullBackOff");
  });
});

describe("endpoints", () => {
  test("readiness moves an address between addresses and notReadyAddresses", async () => {
    server.kubelet.enable();
    const app = unique("ready");
    await service(app, app);
    await api.createNamespacedPod({ namespace: NS, body: fnPod(`${app}-pod`, app) });
    await server.settle();
    const ready = server.getObject<WireEndpoints>("endpoints", NS, app);
    expect(ready?.subsets?.[0]?.addresses?.map((a) => a.ip)).toEqual(["127.0.0.1"]);
    expect(ready?.subsets?.[0]?.notReadyAddresses).toBeUndefined();
    server.kubelet.setPodReady(`${app}-pod`, false, { namespace: NS });
    await server.settle();
    const notReady = await api.readNamespacedEndpoints({ namespace: NS, name: app });
    expect(notReady.subsets?.[0]?.addresses).toBeUndefined();
    expect(notReady.subsets?.[0]?.notReadyAddresses?.[0]?.targetRef?.name).toBe(`${app}-pod`);
  });

  test("a named targetPort resolves to the container port; the Endpoints go with the Service", async () => {
    server.kubelet.enable();
    const app = unique("named");
    await service(app, app, "grpc");
    await api.createNamespacedPod({ namespace: NS, body: fnPod(`${app}-pod`, app, [{ name: "grpc", containerPort: 9999 }]) });
    await server.settle();
    const ep = server.getObject<WireEndpoints>("endpoints", NS, app);
    expect(ep?.subsets?.[0]?.ports).toEqual([{ port: 9999, protocol: "TCP" }]);
    await api.deleteNamespacedService({ namespace: NS, name: app });
    await server.settle();
    expect(server.getObject("endpoints", NS, app)).toBeUndefined();
  });

  test("Endpoints of a Service without selector are left to the user", async () => {
    await api.createNamespacedService({ namespace: NS, body: { metadata: { name: "manual" }, spec: { ports: [{ port: 80 }] } } });
    await api.createNamespacedEndpoints({
      namespace: NS,
      body: { metadata: { name: "manual" }, subsets: [{ addresses: [{ ip: "192.0.2.1" }], ports: [{ port: 80 }] }] },
    });
    await server.settle();
    const ep: V1Endpoints = await api.readNamespacedEndpoints({ namespace: NS, name: "manual" });
    expect(ep.subsets?.[0]?.addresses?.[0]?.ip).toBe("192.0.2.1");
  });
});

describe("a real process per pod", () => {
  test("onPodRunning starts an HTTP server at podIP:9446, onPodDeleted stops it", async () => {
    const processes = new Map<string, Server>();
    server.kubelet.enable({
      podIP: loopbackIPAllocator(),
      onPodRunning: async (pod, { podIP: ip }) => {
        const srv = createServer((_req, res) => res.end(`hello from ${pod.metadata?.name}`));
        await new Promise<void>((resolve, reject) => {
          srv.once("error", reject);
          srv.listen(9446, ip, () => resolve());
        });
        processes.set(pod.metadata?.uid ?? "", srv);
      },
      onPodDeleted: async (pod) => {
        const srv = processes.get(pod.metadata?.uid ?? "");
        processes.delete(pod.metadata?.uid ?? "");
        await new Promise<void>((resolve) => (srv ? srv.close(() => resolve()) : resolve()));
      },
    });
    const app = unique("real");
    await service(app, app);
    await api.createNamespacedPod({ namespace: NS, body: fnPod(`${app}-a`, app) });
    await api.createNamespacedPod({ namespace: NS, body: fnPod(`${app}-b`, app) });
    await server.settle();
    const ep = await api.readNamespacedEndpoints({ namespace: NS, name: app });
    const addresses = ep.subsets?.[0]?.addresses ?? [];
    expect(addresses).toHaveLength(2);
    const port = ep.subsets?.[0]?.ports?.[0]?.port;
    const answers = await Promise.all(
      addresses.map(async (a) => (await fetch(`http://${a.ip}:${port}/`)).text()),
    );
    expect(answers.sort()).toEqual([`hello from ${app}-a`, `hello from ${app}-b`]);
    await api.deleteNamespacedPod({ namespace: NS, name: `${app}-a` });
    await api.deleteNamespacedPod({ namespace: NS, name: `${app}-b` });
    await server.settle();
    expect(processes.size).toBe(0);
    expect((await api.readNamespacedEndpoints({ namespace: NS, name: app })).subsets).toBeUndefined();
  });
});
