import type * as grpc from "@grpc/grpc-js";
import {
  EVALUATE_PATH,
  evaluateRequestCodec,
  evaluateResponseCodec,
  HEALTH_CHECK_PATH,
  HEALTH_WATCH_PATH,
  healthRequestCodec,
  healthResponseCodec,
} from "./proto.ts";

/**
 * grpc-js service definitions built from the embedded proto codecs; shared by
 * the runner's server, the wrapper server and the client that calls pods.
 */
export const evaluatorService = {
  EvaluateFunction: {
    path: EVALUATE_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: evaluateRequestCodec.encode,
    requestDeserialize: evaluateRequestCodec.decode,
    responseSerialize: evaluateResponseCodec.encode,
    responseDeserialize: evaluateResponseCodec.decode,
  },
} satisfies grpc.ServiceDefinition;

export const healthService = {
  Check: {
    path: HEALTH_CHECK_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: healthRequestCodec.encode,
    requestDeserialize: healthRequestCodec.decode,
    responseSerialize: healthResponseCodec.encode,
    responseDeserialize: healthResponseCodec.decode,
  },
  Watch: {
    path: HEALTH_WATCH_PATH,
    requestStream: false,
    responseStream: true,
    requestSerialize: healthRequestCodec.encode,
    requestDeserialize: healthRequestCodec.decode,
    responseSerialize: healthResponseCodec.encode,
    responseDeserialize: healthResponseCodec.decode,
  },
} satisfies grpc.ServiceDefinition;
