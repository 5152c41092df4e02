// The compiled binary keeps FunctionConfigs current: list, then a streamed
// watch over TLS with the kubeconfig's CA (client-node's own Watch would use
// Bun's stub fetch and fail on the private CA), status written for objects
// present at start and for one added later.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ensureBinary } from "../cli/binary.ts";
import type { KubeApiServer } from "../support/kube/index.ts";
import { kubeconfigFor, NS, startKube, tempDir } from "./helpers.ts";

let server: KubeApiServer;
let kubeconfig: string;

beforeAll(async () => {
  server = await startKube();
  kubeconfig = await kubeconfigFor(server);
});
afterAll(async () => {
  await server?.stop();
});

const functionConfig = (name: string) => ({
  apiVersion: "config.porch.kpt.dev/v1alpha1",
  kind: "FunctionConfig",
  metadata: { name },
  // No podExecutor: warm-up (on by default, as Porch) would then try to pull the catalog image.
  spec: { image: name, binaryExecutor: { tags: ["v1"], path: name } },
});

const applied = (name: string, generation: number) =>
  server.waitForObject<{ status?: { functionRunnerObservedGeneration?: number } }>(
    "functionconfigs",
    NS,
    name,
    (o) => o.status?.functionRunnerObservedGeneration === generation,
    15_000,
  );

describe("function-runner serve (compiled binary)", () => {
  test("lists and watches FunctionConfigs through its own TLS transport; status written for old and new ones", async () => {
    server.seed("functionconfigs", functionConfig("at-start"), NS);
    const home = tempDir("fr-home-");
    const proc = Bun.spawn(
      [ensureBinary(), "serve", "--kubeconfig", kubeconfig, "--pod-namespace", NS, "--port", "0", "--http-port", "0", "--listen-address", "127.0.0.1", "--functions", home],
      { env: { PATH: process.env.PATH ?? "", HOME: home, WRAPPER_SERVER_IMAGE: "example.test/wrapper:v1" }, stdout: "pipe", stderr: "pipe" },
    );
    try {
      await applied("at-start", 1);
      await server.waitForRequest((e) => e.verb === "watch" && e.resource === "functionconfigs", 10_000);
      server.seed("functionconfigs", functionConfig("added-later"), NS);
      await applied("added-later", 1);
      expect(server.requests().filter((e) => e.resource === "functionconfigs" && e.verb === "list")).toHaveLength(1);
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
    const stderr = await new Response(proc.stderr).text();
    expect(stderr).toContain('"msg":"FunctionConfig added"');
  });
});
