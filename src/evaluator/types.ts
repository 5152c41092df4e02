import { RunnerError } from "../errors.ts";

/** One function call: Porch's EvaluateFunctionRequest plus the caller's deadline. */
export interface EvaluationRequest {
  image: string;
  /** The serialized ResourceList (YAML or JSON), passed through untouched. */
  resourceList: Uint8Array;
  /** Epoch milliseconds after which the caller has given up; undefined: none. */
  deadline?: number;
  /** Aborted when the caller goes away (gRPC cancel, HTTP client disconnect): stop the function. */
  signal?: AbortSignal;
}

export interface EvaluationResult {
  resourceList: Uint8Array;
  /** The function's stderr, for Porch to show the user. */
  log: Uint8Array;
}

/**
 * What the gRPC and HTTP front ends call. Implementations (exec, pod, multi)
 * throw `RunnerError("NOT_FOUND")` when they cannot run an image, so a
 * multi-evaluator can fall through to the next one.
 */
export interface FunctionEvaluator {
  evaluate(req: EvaluationRequest): Promise<EvaluationResult>;
}

/** The evaluator in effect while no runtime is wired: every image is unknown. */
export const noEvaluator: FunctionEvaluator = {
  evaluate(req) {
    return Promise.reject(new RunnerError("NOT_FOUND", `no function runtime can evaluate image ${req.image}`));
  },
};
