/**
 * The evaluator the runner serves: the exec runtime (`--functions`), then the
 * pod runtime, each unless `--disable-runtimes` names it (the composition
 * root decides that once, in EvaluationOptions).
 */
import { existsSync } from "node:fs";
import { RunnerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { ExecEvaluator, type ExecEvaluatorOptions } from "./exec.ts";
import { multiEvaluator, type NamedEvaluator } from "./multi.ts";
import type { FunctionEvaluator } from "./types.ts";
import type { FunctionConfigStore } from "../kube/function-config.ts";

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

/** The runtimes' settings from the flags (the composition root maps them). */
export interface EvaluationOptions {
  /** The exec runtime's settings; absent with `--disable-runtimes exec`. */
  exec?: Pick<ExecEvaluatorOptions, "dir" | "defaultImagePrefix" | "maxOutputBytes" | "configFile">;
  /** False with `--disable-runtimes pod`: no pod slot at all. */
  pod: boolean;
  /** `--disable-runtimes` as given (known runtimes only), for the warning when none is left. */
  disabled: readonly string[];
}

export interface EvaluationSlots {
  /**
   * The pod runtime (./pod.ts); absent: every image is NOT_FOUND in the pod
   * slot. Its `start` (adopt running pods, start garbage collection) and
   * `close` run with the evaluation's (the root leaves it out with `--disable-runtimes pod`).
   */
  pod?: FunctionEvaluator & { start?(): Promise<void>; close?(): Promise<void> };
  /**
   * Porch HEAD's FunctionConfigs: `binaryExecutor` images run in the exec
   * runtime; `watch` (list, then watch) runs first at start, so the other
   * runtimes and the warm-up see them.
   */
  functionConfigs?: { store: FunctionConfigStore; watch(): Promise<void> };
}

export function buildEvaluation(options: EvaluationOptions, logger: Logger, slots: EvaluationSlots = {}): Evaluation {
  const missing = new Set<string>();
  const execOptions = options.exec;
  const exec = execOptions === undefined
    ? undefined
    : new ExecEvaluator({
        dir: execOptions.dir,
        defaultImagePrefix: execOptions.defaultImagePrefix,
        maxOutputBytes: execOptions.maxOutputBytes,
        logger,
        ...(execOptions.configFile === undefined || execOptions.configFile === "" ? {} : { configFile: execOptions.configFile }),
        ...(slots.functionConfigs === undefined
          ? {}
          : {
              binaryFor: (image: string) => {
                const m = slots.functionConfigs?.store.binaryFor(image);
                if (m === undefined) return undefined;
                // Porch's image ships the binaries its FunctionConfigs name; an image without one
                // (ours, by default) sends the function to the next runtime instead of failing it.
                if (!existsSync(m.binary)) {
                  if (!missing.has(m.binary)) {
                    missing.add(m.binary);
                    logger.warn("FunctionConfig binaryExecutor path does not exist: its images go to the next runtime", {
                      functionConfig: m.source,
                      binary: m.binary,
                    });
                  }
                  return undefined;
                }
                return { binary: m.binary, source: `FunctionConfig ${m.source}` };
              },
            }),
      });
  const runtimes: NamedEvaluator[] = [];
  if (exec !== undefined) runtimes.push({ name: "exec", evaluator: exec });
  const pod = options.pod ? slots.pod : undefined;
  if (options.pod) runtimes.push({ name: "pod", evaluator: pod ?? podUnavailable });
  return {
    evaluator: multiEvaluator(runtimes),
    exec,
    start: async () => {
      if (runtimes.length === 0) logger.warn("no function runtime is enabled", { disabled: [...new Set(options.disabled)] });
      await slots.functionConfigs?.watch();
      await exec?.load();
      await pod?.start?.();
    },
    close: async () => {
      await Promise.all([exec?.close(), pod?.close?.()]);
    },
  };
}
