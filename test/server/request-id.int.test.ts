// Request ids: x-request-id taken (or made), echoed to the caller, on every
// log line of that request whichever module writes it (here the exec runtime
// and the front end), and passed as gRPC metadata to function pods.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { rmSync } from "node:fs";
import { WrapperClients } from "../../src/evaluator/pod-grpc.ts";
import { withRequestId } from "../../src/log.ts";
import { evaluatorService } from "../../src/protocol/services.ts";
import { fixture, RESOURCE_LIST, tempDir, writeFunctionsConfig } from "../evaluator/helpers.ts";
import { EvaluatorClient, type Msg } from "../support/porch-grpc.ts";
import { logLines, postJson, startInProcess, type InProcess } from "./helpers.ts";

const dir = tempDir("fr-request-id-");
let svc: InProcess;
const MADE = /^[0-9a-f]{8}-[0-9a-z]+$/;

beforeAll(async () => {
  writeFunctionsConfig(dir, [{ image: "example.com/set-namespace:v1", binary: fixture("set-namespace.sh") }]);
  svc = await startInProcess(["--functions", dir, "--log-level", "debug"]);
});
afterAll(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Log lines written since `before`, with the given message. */
const linesSince = (before: number, msg: string): Array<Record<string, unknown>> => logLines(svc.logger.lines.slice(before)).filter((l) => l.msg === msg);

const evaluate = (headers: Record<string, string> = {}): Promise<Response> =>
  postJson(`${svc.base}/v1/functions/evaluate`, { image: "example.com/set-namespace:v1", resourceList: RESOURCE_LIST }, {
    headers: { "content-type": "application/json", ...headers },
  });

describe("HTTP", () => {
  test("a caller's x-request-id is echoed and is on the front end's and the exec runtime's log lines", async () => {
    const before = svc.logger.lines.length;
    const res = await evaluate({ "x-request-id": "porch-render.42" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("porch-render.42");
    const exec = linesSince(before, "exec function evaluated");
    const front = linesSince(before, "request");
    expect(exec).toHaveLength(1);
    expect(front).toHaveLength(1);
    expect(exec[0]?.requestId).toBe("porch-render.42");
    expect(front[0]?.requestId).toBe("porch-render.42");
  });

  test("without one (or with one that is not an id), each request gets a new id, echoed and logged", async () => {
    const before = svc.logger.lines.length;
    const a = await evaluate();
    const b = await evaluate({ "x-request-id": `has spaces and "quotes"` });
    const c = await fetch(`${svc.base}/healthz`, { headers: { "x-request-id": "x".repeat(200) } });
    const ids = [a, b, c].map((r) => r.headers.get("x-request-id") ?? "");
    for (const id of ids) expect(id).toMatch(MADE);
    expect(new Set(ids).size).toBe(3);
    const exec = linesSince(before, "exec function evaluated").map((l) => l.requestId);
    expect(exec).toEqual([ids[0], ids[1]]);
  });

  test("an error answer carries the id too", async () => {
    const res = await postJson(`${svc.base}/v1/functions/evaluate`, { image: "example.com/unknown:v1", resourceList: "" }, {
      headers: { "content-type": "application/json", "x-request-id": "err-1" },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe("err-1");
  });
});

describe("gRPC", () => {
  test("EvaluateFunction takes x-request-id from metadata, echoes it in the response headers, logs it", async () => {
    const client = new EvaluatorClient(svc.grpcAddress, grpc.credentials.createInsecure());
    try {
      const before = svc.logger.lines.length;
      const md = new grpc.Metadata();
      md.set("x-request-id", "porch-grpc-7");
      const echoed = await new Promise<string>((resolve, reject) => {
        const fn = (client as unknown as Record<string, (r: Msg, m: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall>).EvaluateFunction;
        if (!fn) throw new Error("no EvaluateFunction");
        let header = "";
        const call = fn.call(client, { image: "example.com/set-namespace:v1", resource_list: Buffer.from(RESOURCE_LIST) }, md, (e) => (e ? reject(e) : resolve(header)));
        call.on("metadata", (m: grpc.Metadata) => (header = String(m.get("x-request-id")[0] ?? "")));
      });
      expect(echoed).toBe("porch-grpc-7");
      expect(linesSince(before, "exec function evaluated")[0]?.requestId).toBe("porch-grpc-7");
      expect(linesSince(before, "grpc")[0]?.requestId).toBe("porch-grpc-7");
    } finally {
      client.close();
    }
  });

  test("calls to function pods carry the request's id as x-request-id metadata", async () => {
    // A gRPC peer standing where a function pod's wrapper server would be: it records what arrives.
    const seen: string[] = [];
    const pod = new grpc.Server();
    pod.addService(evaluatorService, {
      EvaluateFunction: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<{ resourceList: Uint8Array; log: Uint8Array }>) => {
        seen.push(String(call.metadata.get("x-request-id")[0] ?? "(none)"));
        cb(null, { resourceList: new Uint8Array(), log: new Uint8Array() });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      pod.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const clients = new WrapperClients(1 << 20);
    try {
      const address = `127.0.0.1:${port}`;
      await withRequestId("render-99", () => clients.evaluate(address, "fn:v1", new Uint8Array(), { where: "ns/pod" }));
      await clients.evaluate(address, "fn:v1", new Uint8Array(), { where: "ns/pod" });
      expect(seen).toEqual(["render-99", "(none)"]);
    } finally {
      clients.close();
      pod.forceShutdown();
    }
  });
});
