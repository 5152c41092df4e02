/**
 * Calling a function pod: the wrapper server's
 * `evaluator.FunctionEvaluator/EvaluateFunction` over an insecure channel
 * (one per address, reused), with the embedded proto codecs of the service.
 *
 * Errors, as Porch passes them through: the wrapper's INTERNAL (a failing
 * function, its structured results and stderr in the message) stays
 * INTERNAL with the message unchanged; DEADLINE_EXCEEDED is TIMEOUT;
 * RESOURCE_EXHAUSTED (a message over the size limit) is TOO_LARGE;
 * UNAVAILABLE means the pod could not be reached (PodUnreachableError: the
 * pod evaluator checks the pod and tries again). Our own wrapper also sends
 * the stable error code in `x-function-runner-error-code`, used when
 * present. A NOT_FOUND never comes out of here: the pod runtime is the last
 * one, so NOT_FOUND would read as "no runtime knows this image".
 */
import * as grpc from "@grpc/grpc-js";
import { currentRequestId } from "../log.ts";
import { evaluatorService } from "../protocol/services.ts";
import { ErrorCode, RunnerError } from "../errors.ts";
import { WRAPPER_SERVER_PORT } from "../kube/pod-template.ts";
import type { EvaluateFunctionRequest, EvaluateFunctionResponse } from "../protocol/proto.ts";
import type { EvaluationResult } from "./types.ts";

/** Header in which our wrapper (src/server/grpc.ts) sends the stable error code. */
const ERROR_CODE_METADATA = "x-function-runner-error-code";

export type AddressMode = "service" | "pod-ip";

/**
 * Where to dial a pod: `<service>.<namespace>.<suffix>:9446` (Porch's
 * choice, so meshes see a Service call), or `<pod IP>:9446` for a runner
 * outside the cluster network's DNS (e.g. on a kind node's network).
 */
export function podAddress(mode: AddressMode, target: { serviceName: string; namespace: string; podIP: string }, dnsSuffix: string): string {
  if (mode === "pod-ip") return target.podIP.includes(":") ? `[${target.podIP}]:${WRAPPER_SERVER_PORT}` : `${target.podIP}:${WRAPPER_SERVER_PORT}`;
  const suffix = dnsSuffix.replace(/^\.+|\.+$/g, "");
  return `${target.serviceName}.${target.namespace}${suffix === "" ? "" : `.${suffix}`}:${WRAPPER_SERVER_PORT}`;
}

/** The pod did not answer at all (gRPC UNAVAILABLE): worth checking the pod and trying again. */
export class PodUnreachableError extends RunnerError {
  constructor(message: string, cause?: unknown) {
    super("NETWORK", message, { cause, retryable: true });
    this.name = "PodUnreachableError";
  }
}

const EvaluatorClient = grpc.makeGenericClientConstructor(evaluatorService, "FunctionEvaluator");

const isServiceError = (e: unknown): e is grpc.ServiceError => e instanceof Error && typeof (e as { code?: unknown }).code === "number";

/** A failed call to a pod → the runner's error (see the module comment). Pure. */
export function errorFromGrpc(e: unknown, image: string, where: string): RunnerError {
  if (!isServiceError(e)) return new RunnerError("INTERNAL", `calling function pod ${where} for ${JSON.stringify(image)}: ${e instanceof Error ? e.message : String(e)}`);
  const details = e.details || e.message;
  if (e.code === grpc.status.UNAVAILABLE) {
    return new PodUnreachableError(`function pod ${where} for ${JSON.stringify(image)} is unreachable: ${details}`, e);
  }
  const sent = e.metadata?.get(ERROR_CODE_METADATA)[0];
  const parsed = typeof sent === "string" ? ErrorCode.safeParse(sent) : undefined;
  if (parsed?.success === true && parsed.data !== "NOT_FOUND") return new RunnerError(parsed.data, details, { cause: e });
  switch (e.code) {
    case grpc.status.INTERNAL:
      return new RunnerError("INTERNAL", details, { cause: e });
    case grpc.status.DEADLINE_EXCEEDED:
      return new RunnerError("TIMEOUT", `function ${JSON.stringify(image)} did not finish before the caller's deadline (pod ${where}): ${details}`, { cause: e });
    case grpc.status.RESOURCE_EXHAUSTED:
      return new RunnerError("TOO_LARGE", `function ${JSON.stringify(image)}: ${details} (--max-request-body-size)`, { cause: e });
    case grpc.status.INVALID_ARGUMENT:
      return new RunnerError("INVALID_ARGUMENT", details, { cause: e });
    case grpc.status.CANCELLED:
      return new RunnerError("INTERNAL", `evaluation of function ${JSON.stringify(image)} on pod ${where} was cancelled: ${details}`, { cause: e });
    default:
      return new RunnerError("INTERNAL", `function pod ${where} answered ${grpc.status[e.code] ?? e.code} for ${JSON.stringify(image)}: ${details}`, {
        cause: e,
      });
  }
}

export interface CallOptions {
  /** Epoch ms. */
  deadline?: number;
  signal?: AbortSignal;
  /** For messages: the pod (namespace/name). */
  where: string;
}

type Unary = (
  req: EvaluateFunctionRequest,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: EvaluateFunctionResponse) => void,
) => grpc.ClientUnaryCall;

/** gRPC channels to function pods, one per address. */
export class WrapperClients {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(private readonly maxMessageSize: number) {}

  private client(address: string): grpc.Client {
    let c = this.clients.get(address);
    if (c === undefined) {
      c = new EvaluatorClient(address, grpc.credentials.createInsecure(), {
        "grpc.max_receive_message_length": this.maxMessageSize,
        "grpc.max_send_message_length": this.maxMessageSize,
        // A replaced pod comes back at the same Service address: reconnect soon.
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 2_000,
      });
      this.clients.set(address, c);
    }
    return c;
  }

  evaluate(address: string, image: string, resourceList: Uint8Array, opts: CallOptions): Promise<EvaluationResult> {
    const client = this.client(address);
    const call = (client as unknown as { EvaluateFunction: Unary }).EvaluateFunction;
    return new Promise<EvaluationResult>((resolve, reject) => {
      const options: grpc.CallOptions = opts.deadline === undefined ? {} : { deadline: opts.deadline };
      // The request's id goes with the call, so the function pod's logs can be matched to ours.
      const metadata = new grpc.Metadata();
      const requestId = currentRequestId();
      if (requestId !== undefined) metadata.set("x-request-id", requestId);
      const pending = call.call(client, { image, resourceList }, metadata, options, (err, res) => {
        opts.signal?.removeEventListener("abort", cancel);
        if (err !== null) reject(errorFromGrpc(err, image, opts.where));
        else resolve({ resourceList: res?.resourceList ?? new Uint8Array(0), log: res?.log ?? new Uint8Array(0) });
      });
      function cancel(): void {
        pending.cancel();
      }
      opts.signal?.addEventListener("abort", cancel, { once: true });
    });
  }

  /** Closes the channel to `address` (its pod is gone or unreachable: the next call dials afresh). */
  drop(address: string): void {
    const c = this.clients.get(address);
    if (c === undefined) return;
    this.clients.delete(address);
    c.close();
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
