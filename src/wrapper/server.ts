/**
 * The wrapper server: what runs inside a function pod, in front of the
 * function's own entrypoint. It serves Porch's
 * `evaluator.FunctionEvaluator/EvaluateFunction` and `grpc.health.v1.Health`
 * exactly as Porch's `func/wrapper-server` does, so Porch's runner can use
 * our image and we can use Porch's:
 * - every call runs the fixed command (the request's image is only named in
 *   messages), the ResourceList on stdin;
 * - success answers stdout and stderr (the log); a failing function is gRPC
 *   INTERNAL with its structured results and stderr in the message, and no
 *   ResourceList (src/evaluator/outcome.ts);
 * - health answers SERVING for any service name (NOT_SERVING once stopping).
 * Beyond upstream: the caller's deadline and cancellation kill the function's
 * process group, and stdout over the message limit is refused early.
 */
import * as grpc from "@grpc/grpc-js";
import { isRunnerError, RunnerError } from "../errors.ts";
import { interpretOutcome } from "../evaluator/outcome.ts";
import { FunctionProcesses } from "../evaluator/process.ts";
import { hasErrorResult } from "../evaluator/results.ts";
import type { Logger } from "../log.ts";
import { toGrpcError } from "../server/grpc.ts";
import { evaluatorService, healthService } from "../protocol/services.ts";
import {
  ServingStatus,
  type EvaluateFunctionRequest,
  type EvaluateFunctionResponse,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "../protocol/proto.ts";

export interface WrapperServerOptions {
  /** The function's entrypoint and arguments (everything after `--`). */
  command: readonly string[];
  port: number;
  hostname: string;
  /** `--max-request-body-size`: largest message received or sent. */
  maxMessageSize: number;
  /** stderr kept per call. */
  maxStderrBytes?: number;
  logger: Logger;
}

export interface WrapperServer {
  port: number;
  /** Health turns NOT_SERVING, calls get `graceMs`, then they and their functions are killed. */
  stop(graceMs: number): Promise<void>;
}

const DEFAULT_MAX_STDERR = 1024 * 1024;

const deadlineMs = (d: grpc.Deadline): number | undefined => {
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : undefined;
};
const hostPort = (hostname: string, port: number): string => (hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`);

export async function startWrapperServer(opts: WrapperServerOptions): Promise<WrapperServer> {
  const { logger, command } = opts;
  if (command.length === 0 || command[0] === "") throw new RunnerError("INVALID_ARGUMENT", "the wrapper server needs the function's command after --");
  const processes = new FunctionProcesses();
  const server = new grpc.Server({
    "grpc.max_receive_message_length": opts.maxMessageSize,
    "grpc.max_send_message_length": opts.maxMessageSize,
  });

  const evaluate = (
    call: grpc.ServerUnaryCall<EvaluateFunctionRequest, EvaluateFunctionResponse>,
    callback: grpc.sendUnaryData<EvaluateFunctionResponse>,
  ): void => {
    const { image, resourceList } = call.request;
    const cancel = new AbortController();
    call.on("cancelled", () => cancel.abort());
    processes
      .run({
        argv: command,
        stdin: resourceList,
        deadline: deadlineMs(call.getDeadline()),
        signal: cancel.signal,
        maxStdoutBytes: opts.maxMessageSize,
        maxStderrBytes: opts.maxStderrBytes ?? DEFAULT_MAX_STDERR,
      })
      .then((outcome) => {
        const fields = { image, outcome: outcome.kind, ms: outcome.ms, exitCode: outcome.kind === "exited" ? outcome.code : null };
        try {
          const res = interpretOutcome(image, outcome);
          // Porch logs error results of a successful run as a warning and still answers.
          if (hasErrorResult(res.results)) logger.warn("function succeeded with error results", { ...fields, results: res.results.length });
          else logger.info("evaluated", { ...fields, stdoutBytes: res.resourceList.byteLength });
          callback(null, { resourceList: res.resourceList, log: res.log });
        } catch (e) {
          logger.warn("function failed", { ...fields, code: isRunnerError(e) ? e.code : "INTERNAL", error: e instanceof Error ? e.message : String(e) });
          callback(toGrpcError(e));
        }
      }, (e: unknown) => callback(toGrpcError(e)));
  };

  let serving = true;
  const watchers = new Set<grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>();
  const status = (): ServingStatus => (serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  server.addService(evaluatorService, { EvaluateFunction: evaluate });
  server.addService(healthService, {
    Check: (_call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>) =>
      callback(null, { status: status() }),
    Watch: (call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
      watchers.add(call);
      call.write({ status: status() });
      const drop = (): void => {
        watchers.delete(call);
      };
      call.on("cancelled", drop);
      call.on("close", drop);
    },
  });

  const address = hostPort(opts.hostname, opts.port);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(new RunnerError("INTERNAL", `cannot listen for gRPC on ${address}: ${err.message}`, { cause: err }));
      else resolve(bound);
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (graceMs: number): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      serving = false;
      for (const w of watchers) {
        w.write({ status: ServingStatus.NOT_SERVING });
        w.end();
      }
      watchers.clear();
      const timer = setTimeout(() => {
        logger.warn("calls still running at the shutdown deadline; killing their functions", { graceMs, running: processes.size });
        processes.killAll();
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return stopping;
  };
  return { port, stop };
}
