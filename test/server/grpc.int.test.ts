// Calls the gRPC surface as Porch does: an insecure channel, a unary
// EvaluateFunction with a deadline, and grpc.health.v1 Check/Watch. The client
// encodes with its own copy of the protos (the contract), not the server's codecs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { RunnerError } from "../../src/errors.ts";
import type { EvaluationRequest, FunctionEvaluator } from "../../src/evaluator/types.ts";
import { EvaluatorClient, HealthClient, NOT_SERVING, SERVICE_UNKNOWN, SERVING, type Msg } from "../support/porch-grpc.ts";
import { startInProcess, type InProcess } from "./helpers.ts";

let seen: EvaluationRequest[] = [];
const fake: FunctionEvaluator = {
  async evaluate(req) {
    seen.push(req);
    const image = req.image;
    if (image.startsWith("bad-ref")) throw new RunnerError("INVALID_REFERENCE", `invalid image reference ${image}`);
    if (image.startsWith("unavailable")) throw new RunnerError("KUBE_UNAVAILABLE", "no cluster");
    if (image.startsWith("crash")) throw new Error("boom");
    if (image.startsWith("big")) return { resourceList: new Uint8Array(4096), log: new Uint8Array() };
    if (image.startsWith("unknown")) throw new RunnerError("NOT_FOUND", `no runtime for ${image}`);
    return { resourceList: new TextEncoder().encode(`out:${new TextDecoder().decode(req.resourceList)}`), log: new TextEncoder().encode("log line\n") };
  },
};

let withFake: InProcess;
let bare: InProcess;
let evalClient: grpc.Client;
let bareClient: grpc.Client;
let health: grpc.Client;

function call(client: grpc.Client, method: string, req: Msg, deadlineMs = 5_000): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: Msg, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: Msg) => void) => void>)[method];
    if (!fn) throw new Error(`no method ${method}`);
    fn.call(client, req, { deadline: Date.now() + deadlineMs }, (err, value) => (err ? reject(err) : resolve(value ?? {})));
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

beforeAll(async () => {
  withFake = await startInProcess(["--max-request-body-size", "2048"], { evaluator: fake });
  bare = await startInProcess();
  const insecure = grpc.credentials.createInsecure();
  evalClient = new EvaluatorClient(withFake.grpcAddress, insecure);
  bareClient = new EvaluatorClient(bare.grpcAddress, insecure);
  health = new HealthClient(bare.grpcAddress, insecure);
});

afterAll(async () => {
  for (const c of [evalClient, bareClient, health]) c?.close();
  await withFake?.stop();
  await bare?.stop();
});

describe("evaluator.FunctionEvaluator/EvaluateFunction", () => {
  test("an image no runtime can run (no functions config, no Kubernetes) is NOT_FOUND, naming the image", async () => {
    const err = await failure(call(bareClient, "EvaluateFunction", { image: "ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2", resource_list: Buffer.from("{}") }));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toContain("ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2");
    expect(err.metadata.get("x-function-runner-error-code")).toEqual(["NOT_FOUND"]);
  });

  test("passes image, bytes and the caller's deadline to the evaluator and returns its output", async () => {
    seen = [];
    const before = Date.now();
    const res = await call(evalClient, "EvaluateFunction", { image: "fn:v1", resource_list: Buffer.from("kind: ResourceList") }, 7_000);
    expect(Buffer.from(res.resource_list as Uint8Array).toString()).toBe("out:kind: ResourceList");
    expect(Buffer.from(res.log as Uint8Array).toString()).toBe("log line\n");
    expect(seen).toHaveLength(1);
    const req = seen[0];
    expect(req?.image).toBe("fn:v1");
    expect(Buffer.from(req?.resourceList ?? []).toString()).toBe("kind: ResourceList");
    // grpc-timeout travels with ms precision; allow for the time on the wire.
    expect(req?.deadline).toBeGreaterThan(before + 6_000);
    expect(req?.deadline).toBeLessThanOrEqual(Date.now() + 7_000);
  });

  test("an empty resource list and an empty log survive the round trip", async () => {
    const res = await call(evalClient, "EvaluateFunction", { image: "fn:v1" });
    expect(Buffer.from(res.resource_list as Uint8Array).toString()).toBe("out:");
  });

  test("RunnerError codes map to gRPC status codes; other errors are INTERNAL", async () => {
    const cases: Array<[string, grpc.status, string]> = [
      // As Porch: an image no runtime can parse ends in NOT_FOUND; the trailer keeps our precise code.
      ["bad-ref", grpc.status.NOT_FOUND, "INVALID_REFERENCE"],
      ["unavailable", grpc.status.UNAVAILABLE, "KUBE_UNAVAILABLE"],
      ["unknown:v1", grpc.status.NOT_FOUND, "NOT_FOUND"],
      ["crash", grpc.status.INTERNAL, "INTERNAL"],
      ["", grpc.status.NOT_FOUND, "NOT_FOUND"],
    ];
    for (const [image, code, runnerCode] of cases) {
      const err = await failure(call(evalClient, "EvaluateFunction", { image }));
      expect({ image, code: err.code }).toEqual({ image, code });
      expect(err.metadata.get("x-function-runner-error-code")).toEqual([runnerCode]);
    }
  });

  test("messages over --max-request-body-size are refused both ways (RESOURCE_EXHAUSTED)", async () => {
    const tooBig = await failure(call(evalClient, "EvaluateFunction", { image: "fn:v1", resource_list: Buffer.alloc(4096) }));
    expect(tooBig.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const bigAnswer = await failure(call(evalClient, "EvaluateFunction", { image: "big" }));
    expect(bigAnswer.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  test("calls are measured and logged without the payload", async () => {
    await call(evalClient, "EvaluateFunction", { image: "fn:v2", resource_list: Buffer.from("payload-marker") });
    const text = await withFake.runner.metrics.text();
    expect(text).toContain('function_runner_evaluation_duration_seconds_count{transport="grpc",outcome="ok"}');
    expect(text).toContain('function_runner_grpc_request_duration_seconds_count{method="EvaluateFunction",code="OK"}');
    expect(text).toContain('function_runner_evaluation_duration_seconds_count{transport="grpc",outcome="NOT_FOUND"}');
    const logs = withFake.logger.lines.join("\n");
    expect(logs).toContain('"method":"EvaluateFunction","image":"fn:v2","code":"OK"');
    expect(logs).not.toContain("payload-marker");
  });
});

describe("grpc.health.v1.Health", () => {
  test("Check: SERVING for the server and the evaluator service, NOT_FOUND for others", async () => {
    expect((await call(health, "Check", { service: "" })).status).toBe(SERVING);
    expect((await call(health, "Check", { service: "evaluator.FunctionEvaluator" })).status).toBe(SERVING);
    const err = await failure(call(health, "Check", { service: "nope.Service" }));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
  });

  test("Watch streams SERVING, then NOT_SERVING when shutdown starts, then ends", async () => {
    const s = await startInProcess();
    const client = new HealthClient(`127.0.0.1:${s.service.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const statuses: number[] = [];
      const watch = (client as unknown as { Watch(r: Msg): grpc.ClientReadableStream<Msg> }).Watch({ service: "" });
      const ended = new Promise<void>((resolve) => {
        watch.on("end", () => resolve());
        watch.on("error", () => resolve());
      });
      watch.on("data", (m: Msg) => statuses.push(Number(m.status)));
      const unknown = (client as unknown as { Watch(r: Msg): grpc.ClientReadableStream<Msg> }).Watch({ service: "other" });
      const firstUnknown = new Promise<number>((resolve) => unknown.once("data", (m: Msg) => resolve(Number(m.status))));
      unknown.on("error", () => {});
      expect(await firstUnknown).toBe(SERVICE_UNKNOWN);
      while (statuses.length === 0) await Bun.sleep(5);
      expect(statuses).toEqual([SERVING]);
      await s.stop();
      await ended;
      expect(statuses).toEqual([SERVING, NOT_SERVING]);
    } finally {
      client.close();
    }
  });
});
