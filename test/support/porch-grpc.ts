// Porch's client side of the gRPC contract: its own copy of the protos, not
// the server's codecs, so tests prove wire compatibility rather than symmetry.
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import protobuf from "protobufjs";

const PROTO = `
syntax = "proto3";
package evaluator;
service FunctionEvaluator { rpc EvaluateFunction(EvaluateFunctionRequest) returns (EvaluateFunctionResponse) {} }
message EvaluateFunctionRequest  { bytes resource_list = 1; string image = 2; }
message EvaluateFunctionResponse { bytes resource_list = 1; bytes log = 2; }
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse { int32 status = 1; }
`;
const root = protobuf.parse(PROTO, { keepCase: true }).root;

export type Msg = Record<string, unknown>;

const codecFor = (name: string) => {
  const t = root.lookupType(name);
  return {
    serialize: (v: Msg) => Buffer.from(t.encode(t.fromObject(v)).finish()),
    deserialize: (b: Buffer) => t.toObject(t.decode(b), { defaults: true }) as Msg,
  };
};

const method = (path: string, req: string, res: string, responseStream = false) => {
  const a = codecFor(req);
  const b = codecFor(res);
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: a.serialize,
    requestDeserialize: a.deserialize,
    responseSerialize: b.serialize,
    responseDeserialize: b.deserialize,
  };
};

export const EvaluatorClient = grpc.makeGenericClientConstructor(
  { EvaluateFunction: method("/evaluator.FunctionEvaluator/EvaluateFunction", "evaluator.EvaluateFunctionRequest", "evaluator.EvaluateFunctionResponse") },
  "FunctionEvaluator",
);

export const HealthClient = grpc.makeGenericClientConstructor(
  {
    Check: method("/grpc.health.v1.Health/Check", "evaluator.HealthCheckRequest", "evaluator.HealthCheckResponse"),
    Watch: method("/grpc.health.v1.Health/Watch", "evaluator.HealthCheckRequest", "evaluator.HealthCheckResponse", true),
  },
  "Health",
);

/** grpc.health.v1 ServingStatus values. */
export const SERVING = 1;
export const NOT_SERVING = 2;
export const SERVICE_UNKNOWN = 3;
