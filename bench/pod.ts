// `bun bench/pod.ts` (part of `npm run bench`): what the pod evaluator adds
// when its function pod already runs. The world is the one the pod tests use
// (test/evaluator/pod-helpers.ts): a plain-HTTP test registry, the test
// Kubernetes API server whose simulated kubelet runs our real wrapper server
// (`bun main.ts wrapper-server`) on the pod's loopback IP for each pod. The
// function is /bin/cat. Ours is the pod evaluator's evaluate() on a cache hit
// (image metadata cached, pod ready and recently checked); the peer is a
// direct gRPC EvaluateFunction to that same wrapper from this process.
//
//  2. p50 of the pod evaluator's cache-hit path ≤ 1.2× p50 of a direct gRPC
//     call to the wrapper.
//
// Knob: BENCH_POD_CALLS (300 sequential per side).
import { encode, PorchClient, RESOURCE_LIST } from "../test/evaluator/helpers.ts";
import { functionPods, startPodWorld } from "../test/evaluator/pod-helpers.ts";
import { mark, summarize } from "./util.ts";

const intEnv = (name: string, def: number, min: number, max: number): number => {
  const v = Number(process.env[name] ?? def);
  return Number.isInteger(v) ? Math.min(max, Math.max(min, v)) : def;
};
const CALLS = intEnv("BENCH_POD_CALLS", 300, 20, 10_000);
const WARM = 30;
const TARGET = 1.2;

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

async function main(): Promise<void> {
  const world = await startPodWorld();
  let client: PorchClient | undefined;
  try {
    const { image } = await world.push("cat", "v1", ["/bin/cat"]);
    const { pod } = await world.runner();
    const input = encode(RESOURCE_LIST);
    const viaPod = async (): Promise<number> => {
      const t0 = performance.now();
      const r = await pod.evaluate({ image, resourceList: input, deadline: Date.now() + 30_000 });
      const elapsed = performance.now() - t0;
      if (r.resourceList.length !== input.length) throw new Error("the function did not echo its input");
      return elapsed;
    };
    // The first call creates the pod and starts its wrapper; it is not measured.
    await viaPod();
    const pods = functionPods(world.server);
    const podIP = pods[0]?.status?.podIP;
    const wrapper = [...world.processes.values()][0];
    if (pods.length !== 1 || podIP === undefined || wrapper === undefined) throw new Error(`expected one running function pod, found ${pods.length}`);
    client = new PorchClient(`${podIP}:${wrapper.port}`);
    const c = client;
    const direct = async (): Promise<number> => {
      const t0 = performance.now();
      const r = await c.evaluate(image, RESOURCE_LIST, 30_000);
      const elapsed = performance.now() - t0;
      if (r.resourceList !== RESOURCE_LIST) throw new Error("the wrapper did not echo its input");
      return elapsed;
    };
    for (let i = 0; i < WARM; i++) {
      await viaPod();
      await direct();
    }
    const creates = world.podCreates();
    world.server.clearRequests();
    const ours: number[] = [];
    const peer: number[] = [];
    // Interleaved, so both see the same machine.
    for (let i = 0; i < CALLS; i++) {
      ours.push(await viaPod());
      peer.push(await direct());
    }
    const kinds = new Map<string, number>();
    for (const r of world.server.requests()) kinds.set(`${r.verb} ${r.resource}`, (kinds.get(`${r.verb} ${r.resource}`) ?? 0) + 1);
    const kubeRequests = [...kinds].map(([k, n]) => `${n} ${k}`).join(", ") || "none";
    const o = summarize(ours);
    const p = summarize(peer);
    const ratio = o.p50 / p.p50;
    out(`[2] pod evaluator, cache hit (pod running, wrapper server on ${podIP}) vs a direct gRPC call to that wrapper; /bin/cat, ${input.length}-byte ResourceList, ${CALLS} calls each, interleaved`);
    out(`  direct gRPC to the wrapper:   p50 ${fmt(p.p50)} ms  p90 ${fmt(p.p90)} ms  min ${fmt(p.min)} ms`);
    out(`  pod evaluator (cache hit):    p50 ${fmt(o.p50)} ms  p90 ${fmt(o.p90)} ms  min ${fmt(o.min)} ms`);
    out(`  Kubernetes API requests during the measured calls: ${kubeRequests} (pods created before them: ${creates})`);
    out(`  TARGET pod cache-hit p50 ≤ ${TARGET}× direct wrapper call: ${fmt(ratio)}× ${mark(ratio <= TARGET)}`);
  } finally {
    client?.close();
    await world.stop();
  }
}

try {
  await main();
} catch (e) {
  out(`bench/pod failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
