/**
 * The evaluator the runner serves, from the configuration: the exec runtime
 * (`--functions`), then the pod runtime when one is supplied, minus those
 * named in `--disable-runtimes`.
 */
import type { Config } from "../config/config.ts";
import { RunnerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { ExecEvaluator } from "./exec.ts";
import { multiEvaluator, type NamedEvaluator } from "./multi.ts";
import type { FunctionEvaluator } from "./types.ts";

/** The pod slot while no pod runtime exists: says so in the NOT_FOUND the caller gets. */
const podUnavailable: FunctionEvaluator = {
  evaluate: (req) =>
    Promise.reject(new RunnerError("NOT_FOUND", `pod runtime: not available (no Kubernetes connection), so image ${JSON.stringify(req.image)} cannot run in a pod`)),
};

export interface Evaluation {
  evaluator: FunctionEvaluator;
  /** Present unless `--disable-runtimes exec`. */
  exec?: ExecEvaluator;
  /** Before serving: loads config.yaml (a broken one throws). */
  start(): Promise<void>;
  /** Kills function processes still running. */
  close(): Promise<void>;
}

export interface EvaluationSlots {
  /**
   * The pod runtime (./pod.ts); absent: every image is NOT_FOUND in the pod
   * slot. Its `start` (adopt running pods, start garbage collection) and
   * `close` run with the evaluation's unless `--disable-runtimes pod`.
   */
  pod?: FunctionEvaluator & { start?(): Promise<void>; close?(): Promise<void> };
}

export function buildEvaluation(config: Config, logger: Logger, slots: EvaluationSlots = {}): Evaluation {
  const disabled = new Set(config["disable-runtimes"]);
  const exec = disabled.has("exec")
    ? undefined
    : new ExecEvaluator({
        dir: config.functions,
        defaultImagePrefix: config["default-image-prefix"],
        maxOutputBytes: config["max-request-body-size"],
        logger,
      });
  const runtimes: NamedEvaluator[] = [];
  if (exec !== undefined) runtimes.push({ name: "exec", evaluator: exec });
  const pod = disabled.has("pod") ? undefined : slots.pod;
  if (!disabled.has("pod")) runtimes.push({ name: "pod", evaluator: pod ?? podUnavailable });
  return {
    evaluator: multiEvaluator(runtimes),
    exec,
    start: async () => {
      if (runtimes.length === 0) logger.warn("no function runtime is enabled", { disabled: [...disabled] });
      await exec?.load();
      await pod?.start?.();
    },
    close: async () => {
      await Promise.all([exec?.close(), pod?.close?.()]);
    },
  };
}
