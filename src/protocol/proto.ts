/**
 * The wire contracts, embedded as text so the compiled binary reads no .proto
 * file at run time. Porch's evaluator proto is copied unchanged (docs/grpc.md);
 * grpc.health.v1 is the standard health service that grpc-health-probe and
 * Kubernetes gRPC probes call.
 */
import { Buffer } from "node:buffer";
import protobuf from "protobufjs";

export const EVALUATOR_PROTO = `
syntax = "proto3";
package evaluator;
service FunctionEvaluator { rpc EvaluateFunction(EvaluateFunctionRequest) returns (EvaluateFunctionResponse) {} }
message EvaluateFunctionRequest  { bytes resource_list = 1; string image = 2; }
message EvaluateFunctionResponse { bytes resource_list = 1; bytes log = 2; }
`;

export const HEALTH_PROTO = `
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
`;

export const EVALUATE_PATH = "/evaluator.FunctionEvaluator/EvaluateFunction";
export const HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check";
export const HEALTH_WATCH_PATH = "/grpc.health.v1.Health/Watch";

export enum ServingStatus {
  UNKNOWN = 0,
  SERVING = 1,
  NOT_SERVING = 2,
  SERVICE_UNKNOWN = 3,
}

export interface EvaluateFunctionRequest {
  resourceList: Uint8Array;
  image: string;
}
export interface EvaluateFunctionResponse {
  resourceList: Uint8Array;
  log: Uint8Array;
}
export interface HealthCheckRequest {
  service: string;
}
export interface HealthCheckResponse {
  status: ServingStatus;
}

/** Encode/decode for one message type, in the shape grpc-js service definitions want. */
export interface Codec<T> {
  encode(value: T): Buffer;
  decode(bytes: Buffer): T;
}

const evaluatorRoot = protobuf.parse(EVALUATOR_PROTO, { keepCase: true }).root;
const healthRoot = protobuf.parse(HEALTH_PROTO, { keepCase: true }).root;

const bytesOf = (v: unknown): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(0));
const stringOf = (v: unknown): string => (typeof v === "string" ? v : "");

function codec<T>(type: protobuf.Type, toWire: (v: T) => Record<string, unknown>, fromWire: (m: Record<string, unknown>) => T): Codec<T> {
  return {
    encode: (value) => Buffer.from(type.encode(type.fromObject(toWire(value))).finish()),
    // `defaults` so proto3 fields left at their zero value still appear.
    decode: (bytes) => fromWire(type.toObject(type.decode(bytes), { defaults: true, enums: Number })),
  };
}

/** proto3 leaves a field at its default off the wire (as Go does): an empty `log` costs no bytes. */
const present = (b: Uint8Array): Uint8Array | undefined => (b.length === 0 ? undefined : b);

export const evaluateRequestCodec: Codec<EvaluateFunctionRequest> = codec(
  evaluatorRoot.lookupType("evaluator.EvaluateFunctionRequest"),
  (v) => ({ resource_list: present(v.resourceList), image: v.image === "" ? undefined : v.image }),
  (m) => ({ resourceList: bytesOf(m.resource_list), image: stringOf(m.image) }),
);

export const evaluateResponseCodec: Codec<EvaluateFunctionResponse> = codec(
  evaluatorRoot.lookupType("evaluator.EvaluateFunctionResponse"),
  (v) => ({ resource_list: present(v.resourceList), log: present(v.log) }),
  (m) => ({ resourceList: bytesOf(m.resource_list), log: bytesOf(m.log) }),
);

export const healthRequestCodec: Codec<HealthCheckRequest> = codec(
  healthRoot.lookupType("grpc.health.v1.HealthCheckRequest"),
  (v) => ({ service: v.service }),
  (m) => ({ service: stringOf(m.service) }),
);

export const healthResponseCodec: Codec<HealthCheckResponse> = codec(
  healthRoot.lookupType("grpc.health.v1.HealthCheckResponse"),
  (v) => ({ status: v.status }),
  (m) => ({ status: typeof m.status === "number" ? m.status : ServingStatus.UNKNOWN }),
);
