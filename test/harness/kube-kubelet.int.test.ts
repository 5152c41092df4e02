// The simulated kubelet and endpoints controller of the test API server:
// pod lifecycle, Endpoints, and a real process per pod at podIP:9446.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type Server, createServer } from "node:http";
import { type KubeApiServer, NODE_NAME, type WireEndpoints, type WirePod, loopbackIPAllocator, startKubeApiServer } from "../support/kube/index.ts";

const NS = "porch-fn-system";
const IMAGE = `example.com/fn@sha256:${"a".repeat(64)}`;
let server: KubeApiServer;
let counter = 0;

beforeAll(async () => {
  server = await startKubeApiServer({ namespaces: [NS] });
});

afterAll(async () => {
  await server?.stop();
});

beforeEach(() => {
  server.kubelet.disable();
  server.kubelet.configure({ startDelayMs: 0, onPodRunning: undefined, onPodDeleted: undefined, podIP: "127.0.0.1", readyOnStart: true });
});

const unique = (prefix: string): string => `${prefix}-${++counter}`;
const createPod = (name: string, app: string): WirePod =>
  server.seed<WirePod>("pods", { metadata: { name, labels: { "fn.kpt.dev/image": app } }, spec: { containers: [{ name: "function", image: IMAGE, ports: [{ containerPort: 9446 }] }] } }, NS);
const createService = (name: string, selector?: Record<string, string>): void =>
  void server.seed("services", { metadata: { name }, spec: { ...(selector ? { selector } : {}), ports: [{ port: 9446 }] } }, NS);
const pod = (name: string): WirePod | undefined => server.getObject<WirePod>("pods", NS, name);
const endpoints = (name: string): WireEndpoints | undefined => server.getObject<WireEndpoints>("endpoints", NS, name);
const ready = (p: WirePod | undefined): string | undefined => p?.status?.conditions?.find((c) => c.type === "Ready")?.status;

describe("pod lifecycle", () => {
  test("a pod waits Pending and unscheduled while the kubelet is off; then it runs, Ready, with a pod IP, and its Service's Endpoints list it", async () => {
    const app = unique("late");
    createService(app, { "fn.kpt.dev/image": app });
    createPod(`${app}-pod`, app);
    await server.settle();
    expect(pod(`${app}-pod`)?.status).toEqual({ phase: "Pending" });
    expect(pod(`${app}-pod`)?.spec?.nodeName).toBeUndefined();
    expect(endpoints(app)?.subsets).toBeUndefined();
    server.kubelet.enable();
    await server.settle();
    const running = pod(`${app}-pod`);
    expect(running?.spec?.nodeName).toBe(NODE_NAME);
    expect(running?.status).toMatchObject({ phase: "Running", podIP: "127.0.0.1" });
    expect(ready(running)).toBe("True");
    expect(running?.status?.containerStatuses?.[0]).toMatchObject({ name: "function", ready: true, started: true, imageID: IMAGE, state: { running: {} } });
    expect(endpoints(app)?.subsets).toEqual([
      { addresses: [{ ip: "127.0.0.1", nodeName: NODE_NAME, targetRef: { kind: "Pod", namespace: NS, name: `${app}-pod`, uid: running?.metadata?.uid ?? "" } }], ports: [{ port: 9446, protocol: "TCP" }] },
    ]);
    server.registry.delete("pods", NS, `${app}-pod`);
    await server.settle();
    expect(endpoints(app)?.subsets).toBeUndefined();
  });

  test("during startDelayMs the pod is scheduled and ContainerCreating, not ready", async () => {
    server.kubelet.enable({ startDelayMs: 300 });
    const name = unique("slow");
    createPod(name, name);
    const creating = await server.waitForObject<WirePod>("pods", NS, name, (p) => p.status?.containerStatuses !== undefined);
    expect(creating.spec?.nodeName).toBe(NODE_NAME);
    expect(creating.status?.phase).toBe("Pending");
    expect(creating.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("ContainerCreating");
    expect(ready(creating)).toBe("False");
    const running = await server.waitForObject<WirePod>("pods", NS, name, (p) => p.status?.phase === "Running", 3000);
    expect(running.status?.startTime).toBeDefined();
  });

  test("readyOnStart false: Running but not Ready, listed under notReadyAddresses", async () => {
    server.kubelet.enable({ readyOnStart: false });
    const app = unique("unready");
    createService(app, { "fn.kpt.dev/image": app });
    createPod(`${app}-pod`, app);
    await server.settle();
    expect(pod(`${app}-pod`)?.status?.phase).toBe("Running");
    expect(ready(pod(`${app}-pod`))).toBe("False");
    expect(endpoints(app)?.subsets?.[0]?.addresses).toBeUndefined();
    expect(endpoints(app)?.subsets?.[0]?.notReadyAddresses?.[0]?.targetRef?.name).toBe(`${app}-pod`);
  });

  test("a failing onPodRunning hook fails the pod; failPod fails a running one and stops its process", async () => {
    server.kubelet.enable({
      onPodRunning: () => {
        throw new Error("exec format error");
      },
    });
    const broken = unique("broken");
    createPod(broken, broken);
    const failed = await server.waitForObject<WirePod>("pods", NS, broken, (p) => p.status?.phase === "Failed");
    expect(failed.status?.message).toBe("exec format error");
    expect(failed.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 1, reason: "Error" });

    const stopped: string[] = [];
    server.kubelet.configure({ onPodRunning: () => ({ podIP: "127.0.0.2" }), onPodDeleted: (p) => void stopped.push(p.metadata?.name ?? "") });
    const oom = unique("oom");
    createPod(oom, oom);
    expect((await server.waitForObject<WirePod>("pods", NS, oom, (p) => p.status?.phase === "Running")).status?.podIP).toBe("127.0.0.2");
    const out = server.kubelet.failPod(oom, { namespace: NS, reason: "OOMKilled", message: "out of memory" });
    expect(out.status).toMatchObject({ phase: "Failed", reason: "OOMKilled", message: "out of memory" });
    expect(pod(oom)?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ reason: "OOMKilled", message: "out of memory" });
    await server.settle();
    expect(stopped).toEqual([oom]);
  });
});

describe("endpoints", () => {
  test("the Endpoints go with their Service; a Service without selector is left to the user", async () => {
    server.kubelet.enable();
    const app = unique("gone");
    createService(app, { "fn.kpt.dev/image": app });
    createPod(`${app}-pod`, app);
    await server.settle();
    expect(endpoints(app)?.subsets).toHaveLength(1);
    server.registry.delete("services", NS, app);
    await server.settle();
    expect(endpoints(app)).toBeUndefined();
    createService("manual");
    server.seed("endpoints", { metadata: { name: "manual" }, subsets: [{ addresses: [{ ip: "192.0.2.1" }], ports: [{ port: 80 }] }] }, NS);
    await server.settle();
    expect(endpoints("manual")?.subsets?.[0]?.addresses?.[0]?.ip).toBe("192.0.2.1");
  });
});

describe("a real process per pod", () => {
  test("onPodRunning starts an HTTP server at podIP:9446, onPodDeleted stops it", async () => {
    const processes = new Map<string, Server>();
    server.kubelet.enable({
      podIP: loopbackIPAllocator(),
      onPodRunning: async (p, { podIP: ip }) => {
        const srv = createServer((_req, res) => res.end(`hello from ${p.metadata?.name}`));
        await new Promise<void>((resolve, reject) => {
          srv.once("error", reject);
          srv.listen(9446, ip, () => resolve());
        });
        processes.set(p.metadata?.uid ?? "", srv);
      },
      onPodDeleted: async (p) => {
        const srv = processes.get(p.metadata?.uid ?? "");
        processes.delete(p.metadata?.uid ?? "");
        await new Promise<void>((resolve) => (srv ? srv.close(() => resolve()) : resolve()));
      },
    });
    const app = unique("real");
    createService(app, { "fn.kpt.dev/image": app });
    createPod(`${app}-a`, app);
    createPod(`${app}-b`, app);
    await server.settle();
    const addresses = endpoints(app)?.subsets?.[0]?.addresses ?? [];
    expect(addresses).toHaveLength(2);
    const answers = await Promise.all(addresses.map(async (a) => (await fetch(`http://${a.ip}:9446/`)).text()));
    expect(answers.sort()).toEqual([`hello from ${app}-a`, `hello from ${app}-b`]);
    server.registry.delete("pods", NS, `${app}-a`);
    server.registry.delete("pods", NS, `${app}-b`);
    await server.settle();
    expect(processes.size).toBe(0);
    expect(endpoints(app)?.subsets).toBeUndefined();
  });
});
