/**
 * Porch's gRPC surface on --port: evaluator.FunctionEvaluator/EvaluateFunction
 * and grpc.health.v1.Health, served by @grpc/grpc-js with the embedded protos.
 */
import * as grpc from "@grpc/grpc-js";
import { isRunnerError, RunnerError } from "../errors.ts";
import type { FunctionEvaluator } from "../evaluator/types.ts";
import { type Logger, withRequestId } from "../log.ts";
import type { ServiceMetrics } from "../metrics/metrics.ts";
import {
  ServingStatus,
  type EvaluateFunctionRequest,
  type EvaluateFunctionResponse,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "../protocol/proto.ts";
import { evaluatorService, healthService } from "../protocol/services.ts";
import { GRPC_STATUS } from "./status.ts";
import { listenError } from "./listen.ts";
import { acceptRequestId, newRequestId, REQUEST_ID_HEADER } from "./request-id.ts";
import { capStatusMessage } from "../protocol/status-message.ts";

export interface GrpcDeps {
  evaluator: FunctionEvaluator;
  logger: Logger;
  metrics: ServiceMetrics;
  /** --max-request-body-size: the largest message received or sent. */
  maxMessageSize: number;
}

export interface GrpcService {
  port: number;
  /** Health answers NOT_SERVING once false (set first on shutdown). */
  setServing(serving: boolean): void;
  /** Stops accepting; in-flight calls get `graceMs`, then are cancelled. */
  stop(graceMs: number): Promise<void>;
}

/**
 * Service names health answers for: "" is the whole server (what grpc-health-probe and the kubelet's
 * gRPC probe ask by default), and the services this server registers. Porch's healthchecker answers
 * SERVING to any name; an unknown one here is NOT_FOUND, as the health protocol says (docs/grpc.md).
 */
const HEALTH_SERVICES: ReadonlySet<string> = new Set(["", "evaluator.FunctionEvaluator", "grpc.health.v1.Health"]);

/** Header carrying the stable RunnerError code in trailers, for clients that want more than the gRPC status. */
export const ERROR_CODE_METADATA = "x-function-runner-error-code";

/**
 * Aborts when the client cancels the call, so the function (process or pod call) stops too.
 * grpc-js also reports "cancelled" when the stream closes after the answer: `answered` stops
 * listening first, so a finished call builds no error and aborts nothing.
 */
function cancellation(call: grpc.ServerUnaryCall<EvaluateFunctionRequest, EvaluateFunctionResponse>): { signal: AbortSignal; answered(): void } {
  const controller = new AbortController();
  const onCancel = (): void => controller.abort(new RunnerError("TIMEOUT", "the caller cancelled the call"));
  call.once("cancelled", onCancel);
  return { signal: controller.signal, answered: () => call.removeListener("cancelled", onCancel) };
}

/**
 * A RunnerError as a gRPC status; anything else is INTERNAL. The message is
 * capped in bytes: an oversized trailer is never delivered and wedges the
 * caller's connection (src/protocol/status-message.ts).
 */
export function toGrpcError(e: unknown): grpc.ServerErrorResponse {
  const err = isRunnerError(e) ? e : new RunnerError("INTERNAL", e instanceof Error ? e.message : String(e));
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_METADATA, err.code);
  const details = capStatusMessage(err.message);
  return Object.assign(new Error(details), { code: GRPC_STATUS[err.code], details, metadata });
}

/** An image name as a log field: caller-controlled, so bounded like any status message. */
const IMAGE_IN_LOG_BYTES = 512;
export const imageForLog = (image: string): string => capStatusMessage(image, IMAGE_IN_LOG_BYTES);

/** grpc-js deadlines are a Date, epoch ms, or Infinity for none. */
function deadlineMs(d: grpc.Deadline): number | undefined {
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : undefined;
}

const hostPort = (hostname: string, port: number): string => (hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`);

export async function startGrpc(deps: GrpcDeps, opts: { port: number; hostname: string }): Promise<GrpcService> {
  const { evaluator, logger, metrics } = deps;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": deps.maxMessageSize,
    "grpc.max_send_message_length": deps.maxMessageSize,
  });

  /** The caller's x-request-id or a new one, echoed in the response headers; the call runs as it. */
  const asRequest = (call: grpc.ServerUnaryCall<unknown, unknown>, fn: () => void): void => {
    const id = acceptRequestId(call.metadata.get(REQUEST_ID_HEADER)[0]) ?? newRequestId();
    const echo = new grpc.Metadata();
    echo.set(REQUEST_ID_HEADER, id);
    call.sendMetadata(echo);
    withRequestId(id, fn);
  };

  const evaluate = (
    call: grpc.ServerUnaryCall<EvaluateFunctionRequest, EvaluateFunctionResponse>,
    callback: grpc.sendUnaryData<EvaluateFunctionResponse>,
  ): void => asRequest(call, () => {
    const started = performance.now();
    const { image, resourceList } = call.request;
    const finish = (outcome: string, codeName: string): void => {
      const seconds = (performance.now() - started) / 1000;
      metrics.evaluationDuration.labels("grpc", outcome).observe(seconds);
      metrics.grpcDuration.labels("EvaluateFunction", codeName).observe(seconds);
      logger.info("grpc", { method: "EvaluateFunction", image: imageForLog(image), code: codeName, ms: Math.round(seconds * 1e4) / 10 });
    };
    const cancel = cancellation(call);
    // Porch's runtimes all pass on an empty image, so its answer is NOT_FOUND.
    const run = image.trim() === ""
      ? Promise.reject(new RunnerError("NOT_FOUND", "no function runtime can evaluate an empty image name (EvaluateFunctionRequest.image)"))
      : evaluator.evaluate({ image, resourceList, deadline: deadlineMs(call.getDeadline()), signal: cancel.signal });
    run.then(
      (res) => {
        cancel.answered();
        finish("ok", "OK");
        callback(null, { resourceList: res.resourceList, log: res.log });
      },
      (e: unknown) => {
        cancel.answered();
        const err = toGrpcError(e);
        finish(isRunnerError(e) ? e.code : "INTERNAL", grpc.status[err.code ?? grpc.status.INTERNAL] ?? "UNKNOWN");
        callback(err);
      },
    );
  });

  let serving = true;
  const watchers = new Set<{ call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>; last: ServingStatus }>();
  const statusOf = (service: string): ServingStatus | undefined =>
    HEALTH_SERVICES.has(service) ? (serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING) : undefined;

  const check = (call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>): void => {
    const status = statusOf(call.request.service);
    // Probes call every few seconds: their lines are debug, like Porch's (klog V(3)).
    logger.debug("grpc", { method: "Check", service: capStatusMessage(call.request.service, 256), status: status === undefined ? "NOT_FOUND" : ServingStatus[status] });
    if (status === undefined) {
      callback({ code: grpc.status.NOT_FOUND, details: capStatusMessage(`unknown service ${JSON.stringify(call.request.service)}`, 1024) });
      return;
    }
    callback(null, { status });
  };

  const watch = (call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void => {
    // Per the health protocol, an unknown service is not an error on Watch: it streams SERVICE_UNKNOWN.
    const status = statusOf(call.request.service) ?? ServingStatus.SERVICE_UNKNOWN;
    const entry = { call, last: status };
    watchers.add(entry);
    call.write({ status });
    const drop = (): void => {
      watchers.delete(entry);
    };
    call.on("cancelled", drop);
    call.on("close", drop);
  };

  server.addService(evaluatorService, { EvaluateFunction: evaluate });
  server.addService(healthService, { Check: check, Watch: watch });

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostPort(opts.hostname, opts.port), grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(listenError(err, opts.hostname, opts.port, "gRPC, --port"));
      else resolve(bound);
    });
  });

  const setServing = (value: boolean): void => {
    serving = value;
    for (const w of watchers) {
      const next = statusOf(w.call.request.service) ?? ServingStatus.SERVICE_UNKNOWN;
      if (next !== w.last) {
        w.last = next;
        w.call.write({ status: next });
      }
    }
  };

  const stop = async (graceMs: number): Promise<void> => {
    setServing(false);
    // Watch streams never end on their own; close them so the drain below can finish.
    for (const w of watchers) w.call.end();
    watchers.clear();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        logger.warn("grpc calls still running at the shutdown deadline; cancelling them", { graceMs });
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  };

  return { port, setServing, stop };
}
