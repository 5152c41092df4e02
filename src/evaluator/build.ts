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
  /** The pod runtime; absent until it is built (or without Kubernetes). */
  pod?: FunctionEvaluator;
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
  if (!disabled.has("pod")) runtimes.push({ name: "pod", evaluator: slots.pod ?? podUnavailable });
  return {
    evaluator: multiEvaluator(runtimes),
    exec,
    start: async () => {
      if (runtimes.length === 0) logger.warn("no function runtime is enabled", { disabled: [...disabled] });
      await exec?.load();
    },
    close: async () => {
      await exec?.close();
    },
  };
}
