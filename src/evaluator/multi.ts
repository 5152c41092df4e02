/**
 * Porch's multi-evaluator: runtimes in order (exec, then pod); NOT_FOUND
 * falls through to the next, any other error or a result ends the call.
 */
import { isRunnerError, RunnerError } from "../errors.ts";
import type { EvaluationRequest, EvaluationResult, FunctionEvaluator } from "./types.ts";

export interface NamedEvaluator {
  /** "exec", "pod". */
  name: string;
  evaluator: FunctionEvaluator;
}

export function multiEvaluator(runtimes: readonly NamedEvaluator[]): FunctionEvaluator {
  return {
    async evaluate(req: EvaluationRequest): Promise<EvaluationResult> {
      const misses: string[] = [];
      for (const { evaluator } of runtimes) {
        try {
          return await evaluator.evaluate(req);
        } catch (e) {
          if (!isRunnerError(e) || e.code !== "NOT_FOUND") throw e;
          misses.push(e.message);
        }
      }
      const why = runtimes.length === 0 ? "every function runtime is disabled (--disable-runtimes)" : misses.join("; ");
      throw new RunnerError("NOT_FOUND", `no function runtime can evaluate image ${JSON.stringify(req.image)}: ${why}`);
    },
  };
}
