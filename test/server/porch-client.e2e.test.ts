// The compiled binary called exactly as Porch's engine calls it
// (pkg/engine/grpcruntime.go): one long-lived insecure connection, message
// limits of 6 MiB both ways, no deadline. The answers Porch's users see:
// NOT_FOUND for images no runtime takes, INTERNAL in Porch's exec wording
// for a failing function, and messages of exactly the limit delivered.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixture, RESOURCE_LIST, tempDir, writeFunctionsConfig } from "../evaluator/helpers.ts";
import { EvaluatorClient, HealthClient, SERVING, type Msg } from "../support/porch-grpc.ts";
import { ensureBinary, spawnServing, type Spawned } from "./helpers.ts";

/** Porch's --max-request-body-size in its Deployment, and its client's MaxCallRecvMsgSize/MaxCallSendMsgSize. */
const LIMIT = 6 * 1024 * 1024;
/** Bytes of an EvaluateFunctionResponse carrying only resource_list of n bytes (tag + varint length + n). */
const responseSize = (n: number): number => 1 + varintLength(n) + n;
const varintLength = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4);

const work = tempDir("fr-porch-client-");
let runner: Spawned;
let evaluator: grpc.Client;
let health: grpc.Client;

/** A ResourceList of exactly `size` bytes (padded with a YAML comment). */
function resourceListOfSize(size: number): string {
  const head = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n# ";
  return `${head}${"x".repeat(size - head.length - 1)}\n`;
}

function evaluate(image: string, resourceList: Uint8Array | string): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const fn = (evaluator as unknown as Record<string, (r: Msg, cb: (e: grpc.ServiceError | null, v?: Msg) => void) => void>).EvaluateFunction;
    if (!fn) throw new Error("no EvaluateFunction");
    // No call options: Porch sets no deadline.
    fn.call(evaluator, { image, resource_list: Buffer.from(resourceList) }, (err, value) => (err ? reject(err) : resolve(value ?? {})));
  });
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

/** The output's size is exactly such that the response message is `LIMIT + extra` bytes. */
let exactPayload = 0;

beforeAll(async () => {
  exactPayload = LIMIT - 1 - varintLength(LIMIT);
  expect(responseSize(exactPayload)).toBe(LIMIT);
  writeFileSync(join(work, "exact.yaml"), resourceListOfSize(exactPayload));
  writeFileSync(join(work, "over.yaml"), resourceListOfSize(exactPayload + 1));
  const emit = (file: string): string => `#!/bin/sh\ncat >/dev/null\ncat ${join(work, file)}\n`;
  writeFileSync(join(work, "exact.sh"), emit("exact.yaml"), { mode: 0o755 });
  writeFileSync(join(work, "over.sh"), emit("over.yaml"), { mode: 0o755 });
  writeFileSync(join(work, "count.sh"), `#!/bin/sh\nn=$(wc -c)\nprintf 'kind: ResourceList\\nitems: []\\n'\necho "read $n bytes" >&2\n`, { mode: 0o755 });
  writeFunctionsConfig(work, [
    { image: "example.com/exact:v1", binary: join(work, "exact.sh") },
    { image: "example.com/over:v1", binary: join(work, "over.sh") },
    { image: "example.com/count:v1", binary: join(work, "count.sh") },
    { image: "example.com/validate:v1", binary: fixture("fail-results.sh") },
  ]);
  const env = { KUBERNETES_SERVICE_HOST: "", KUBECONFIG: join(work, "no-kubeconfig"), HOME: work };
  runner = await spawnServing(
    ensureBinary(),
    ["--port", "0", "--http-port", "0", "--listen-address", "127.0.0.1", "--functions", work, `--max-request-body-size=${LIMIT}`],
    { env },
  );
  const address = `127.0.0.1:${runner.grpcPort}`;
  const options = { "grpc.max_receive_message_length": LIMIT, "grpc.max_send_message_length": LIMIT };
  evaluator = new EvaluatorClient(address, grpc.credentials.createInsecure(), options);
  health = new HealthClient(address, grpc.credentials.createInsecure());
});

afterAll(async () => {
  evaluator?.close();
  health?.close();
  runner?.proc.kill("SIGTERM");
  await runner?.exited;
  rmSync(work, { recursive: true, force: true });
});

describe("Porch's client against the compiled binary", () => {
  test("an unknown, an empty and an unparsable image each end in NOT_FOUND", async () => {
    for (const image of ["example.com/unknown:v1", "", "UPPER/Case::bad@@ref"]) {
      const err = await failure(evaluate(image, RESOURCE_LIST));
      expect({ image, code: err.code }).toEqual({ image, code: grpc.status.NOT_FOUND });
    }
  });

  test("a failing exec function: INTERNAL, `Failed to execute function \"IMAGE\": exit status N (STDERR)`", async () => {
    const err = await failure(evaluate("example.com/validate:v1", RESOURCE_LIST));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe('Failed to execute function "example.com/validate:v1": exit status 1 (validate: 1 error, 1 warning\n)');
  });

  test("a response of exactly the limit is delivered; one byte more is RESOURCE_EXHAUSTED", async () => {
    const res = await evaluate("example.com/exact:v1", RESOURCE_LIST);
    expect((res.resource_list as Uint8Array).length).toBe(exactPayload);
    expect((res.log as Uint8Array).length).toBe(0);
    const err = await failure(evaluate("example.com/over:v1", RESOURCE_LIST));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  test("a request of exactly the limit is accepted", async () => {
    const image = "example.com/count:v1";
    // tag + varint length + image, tag + varint length + payload.
    const payload = LIMIT - (1 + 1 + image.length) - (1 + varintLength(LIMIT));
    const res = await evaluate(image, new Uint8Array(payload).fill(0x20));
    expect(Buffer.from(res.log as Uint8Array).toString()).toBe(`read ${payload} bytes\n`);
  });

  test("all of it over the one connection, which still answers health", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const fn = (health as unknown as Record<string, (r: Msg, cb: (e: grpc.ServiceError | null, v?: Msg) => void) => void>).Check;
      fn?.call(health, { service: "" }, (err, v) => (err ? reject(err) : resolve(Number(v?.status))));
    });
    expect(status).toBe(SERVING);
    expect(grpc.connectivityState[evaluator.getChannel().getConnectivityState(false)]).toBe("READY");
  });
});
