// A world for the pod runtime's end-to-end tests: a plain-HTTP registry with
// function images whose entrypoint is a fixture script, and the test API
// server whose simulated kubelet runs, for each pod, our real wrapper server
// (`bun main.ts wrapper-server`) on the pod's loopback IP and port 9446 with
// the command the pod spec gives it (everything after `--`). gRPC evaluation
// therefore really runs the function.
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { parseCommandLine } from "../../src/config/config.ts";
import type { PodRuntimeOverrides } from "../../src/evaluator/pod.ts";
import type { PorchRuntimeOptions } from "../../src/evaluator/porch-options.ts";
import type { KubeRuntimeOptions } from "../../src/kube/runtime.ts";
import type { PodEvaluator } from "../../src/evaluator/pod-evaluator.ts";
import { memoryLogger } from "../../src/log.ts";
import { createRunner, type Runner } from "../../src/runner.ts";
import { fastKubeRetry, kubeconfigFor, NS, startKube } from "../kube/helpers.ts";
import { type KubeApiServer, type KubeApiServerOptions, type KubeletOptions, loopbackIPAllocator, type WirePod } from "../support/kube/index.ts";
import { pushImage } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { BUN, ROOT, spawnWrapper, type SpawnedWrapper } from "./helpers.ts";

export { NS };
export const MAIN = join(ROOT, "main.ts");

/** The wrapper server's argv for a pod: the function container's args, bound to the pod IP. */
export function wrapperArgsOf(pod: WirePod | V1Pod, podIP: string): string[] {
  const fn = (pod.spec?.containers ?? []).find((c) => c.name === "function");
  const args = [...(fn?.args ?? [])];
  const sep = args.indexOf("--");
  if (sep < 0) throw new Error(`pod ${pod.metadata?.name}: no -- in the function container's args`);
  return ["wrapper-server", ...args.slice(0, sep), "--listen-address", podIP, "--shutdown-timeout", "1s", ...args.slice(sep)];
}

export interface PodWorld {
  reg: TestRegistry;
  server: KubeApiServer;
  kubeconfig: string;
  /** Running wrapper processes by pod uid. */
  processes: Map<string, SpawnedWrapper>;
  /** Pushes `fns/NAME:TAG` running `entrypoint`; returns the image reference and its digest. */
  push(name: string, tag: string, entrypoint: string[]): Promise<{ image: string; digest: string }>;
  runner(args?: string[], overrides?: PodRuntimeOverrides, extra?: RunnerExtras): Promise<PodRunner>;
  /** Requests that created pods (POST pods), optionally since index `from` of the log. */
  podCreates(): number;
  stop(): Promise<void>;
}

export interface PodRunner {
  runner: Runner;
  logger: ReturnType<typeof memoryLogger>;
  pod: PodEvaluator;
  close(): Promise<void>;
}

export interface RunnerExtras {
  /** Porch v4's file-based flags. */
  porch?: PorchRuntimeOptions;
  kube?: Partial<KubeRuntimeOptions>;
  /** Run `runner.start()` (FunctionConfig watch, exec config, adoption, warm-up) as main.ts does. */
  start?: boolean;
}

export interface WorldOptions {
  kubelet?: KubeletOptions;
  /** e.g. an RBAC stand-in (`authorize`). */
  server?: Omit<KubeApiServerOptions, "kubelet">;
}

export async function startPodWorld(opts: WorldOptions = {}): Promise<PodWorld> {
  const reg = await startRegistry({ mode: "http" });
  const processes = new Map<string, SpawnedWrapper>();
  const server = await startKube({
    ...opts.server,
    kubelet: {
      podIP: loopbackIPAllocator(),
      onPodRunning: async (pod, { podIP }) => {
        const w = await spawnWrapper(BUN, [MAIN, ...wrapperArgsOf(pod, podIP)]);
        processes.set(pod.metadata?.uid ?? "", w);
        return { podIP };
      },
      onPodDeleted: async (pod) => {
        const uid = pod.metadata?.uid ?? "";
        const w = processes.get(uid);
        processes.delete(uid);
        await w?.stop();
      },
      ...opts.kubelet,
    },
  });
  const kubeconfig = await kubeconfigFor(server);
  const runners: PodRunner[] = [];
  return {
    reg,
    server,
    kubeconfig,
    processes,
    async push(name, tag, entrypoint) {
      // A label per tag: each pushed image has its own digest, so tests can tell their pods apart.
      const { digest } = await pushImage(reg, `fns/${name}`, tag, { format: "oci", entrypoint, extraConfig: { config: { Labels: { "test.tag": `${name}:${tag}` } } } });
      return { image: `${reg.host}/fns/${name}:${tag}`, digest };
    },
    async runner(args = [], overrides = {}, extra = {}) {
      // Warm-up off unless a test turns it on: Porch's FunctionConfigs name catalog images on ghcr.io.
      const { config } = parseCommandLine([
        "--kubeconfig",
        kubeconfig,
        "--pod-namespace",
        NS,
        "--pod-address-mode",
        "pod-ip",
        "--functions",
        "/nonexistent",
        "--warm-up-pod-cache=false",
        ...args,
      ]);
      const logger = memoryLogger();
      const runner = createRunner(config, logger, {
        kube: {
          env: {},
          homeDir: "",
          wrapperServerImage: "example.test/wrapper-server:v1",
          client: { retry: fastKubeRetry },
          templateTtlMs: 0,
          functionConfigWatch: { retryMs: 50 },
          ...extra.kube,
        },
        pod: { pollMs: 20, ...overrides },
        ...(extra.porch === undefined ? {} : { porch: extra.porch }),
      });
      if (extra.start === true) await runner.start?.();
      const pod = await runner.pod?.instance();
      if (pod === undefined) throw new Error("no pod runtime");
      const r: PodRunner = { runner, logger, pod, close: () => runner.close() };
      runners.push(r);
      return r;
    },
    podCreates() {
      return server.requests().filter((r) => r.verb === "create" && r.resource === "pods").length;
    },
    async stop() {
      for (const r of runners) await r.close().catch(() => undefined);
      server.kubelet.disable();
      await Promise.all([...processes.values()].map((w) => w.stop()));
      processes.clear();
      await server.stop();
      await reg.stop();
    },
  };
}

/** Pods of the pod namespace with the function label, as stored. */
export const functionPods = (server: KubeApiServer): WirePod[] =>
  server.listObjects<WirePod>("pods", NS).filter((p) => p.metadata?.labels?.["fn.kpt.dev/image"] !== undefined);

/** A fake clock tests move by hand. */
export function manualClock(start = Date.now()): { now(): number; advance(ms: number): void; set(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
    set: (ms) => {
      t = ms;
    },
  };
}
