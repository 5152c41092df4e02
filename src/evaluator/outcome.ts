/**
 * A function process's outcome as Porch's wrapper server reports it
 * (func/wrapper-server/main.go), shared by the exec runtime and our wrapper
 * server so both runtimes fail the same way:
 * - exit 0 with a ResourceList on stdout: the answer (stdout, and stderr as
 *   the log), even when its results hold errors (those are only logged);
 * - exit 0 with anything else on stdout: "failed to parse the output …";
 * - non-zero exit: "failed to evaluate function … with structured results:
 *   … and stderr: …" (or the parse failure when stdout is no ResourceList).
 *   No ResourceList is returned, only the status (gRPC INTERNAL), as upstream.
 * The exec runtime words a non-zero exit as Porch's executable evaluator
 * does: `Failed to execute function
 * "IMAGE": exit status N (STDERR)`, whatever stdout held.
 * Pure.
 */
import { Buffer } from "node:buffer";
import { RunnerError } from "../errors.ts";
import { tailByBytes } from "../protocol/status-message.ts";
import type { RunOutcome } from "./process.ts";
import { type FunctionResult, formatResults, parseOutputResourceList } from "./results.ts";
import type { EvaluationResult } from "./types.ts";

/**
 * Longest stderr excerpt put in an error message, in UTF-8 bytes: gRPC carries
 * the message in a trailer, and the whole message is capped at 16 KiB
 * (src/protocol/status-message.ts), so stderr leaves room for the rest.
 */
const STDERR_IN_MESSAGE = 8 * 1024;

/** The tail of stderr, where failures are usually explained, marked when cut (counted in bytes). */
export function stderrExcerpt(stderr: string, maxBytes = STDERR_IN_MESSAGE): string {
  return tailByBytes(stderr, maxBytes, "stderr");
}

export interface FunctionFailure {
  /** Structured results from the output ResourceList (empty when there was none). */
  results: FunctionResult[];
  stderr: string;
  exitCode: number | null;
  /** Set when the process was ended by a signal it did not choose to catch. */
  signal: string | null;
}

/**
 * The function ran and failed. The code is INTERNAL because that is the gRPC
 * status Porch's wrapper answers; the results and stderr travel on the error
 * (and in the HTTP error body) for callers that want more than the message.
 */
export class FunctionError extends RunnerError {
  readonly results: FunctionResult[];
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly signal: string | null;

  constructor(message: string, failure: FunctionFailure) {
    super("INTERNAL", message);
    this.name = "FunctionError";
    this.results = failure.results;
    this.stderr = failure.stderr;
    this.exitCode = failure.exitCode;
    this.signal = failure.signal;
  }

  override toJSON(): ReturnType<RunnerError["toJSON"]> & { results: FunctionResult[]; log: string; exitCode: number | null } {
    return { ...super.toJSON(), results: this.results, log: this.stderr, exitCode: this.exitCode };
  }
}

export const isFunctionError = (e: unknown): e is FunctionError => e instanceof FunctionError;

export interface Interpreted extends EvaluationResult {
  /** Results of the output ResourceList; on success they may still hold errors (Porch logs a warning). */
  results: FunctionResult[];
}

const q = (s: string): string => JSON.stringify(s);

/** Whose wording a failure takes: Porch's wrapper server (pods) or its executable evaluator (exec). */
export type FailureWording = "wrapper" | "exec";

/** Turns a process outcome into the answer, or throws the error Porch would report. */
export function interpretOutcome(image: string, outcome: RunOutcome, wording: FailureWording = "wrapper"): Interpreted {
  switch (outcome.kind) {
    case "spawn-failed":
      throw new RunnerError("INTERNAL", `Failed to execute function ${q(image)}: ${outcome.error} (${stderrExcerpt(outcome.stderr)})`);
    case "deadline":
      throw new RunnerError(
        "TIMEOUT",
        `function ${q(image)} did not finish before the caller's deadline (ran ${outcome.ms} ms); its process group was killed. stderr: ${stderrExcerpt(outcome.stderr)}`,
      );
    case "aborted":
      // The caller is gone and will not read this; it is for the logs.
      throw new RunnerError("INTERNAL", `evaluation of function ${q(image)} was cancelled by the caller; its process group was killed`);
    case "stdout-too-large":
      throw new RunnerError(
        "TOO_LARGE",
        `function ${q(image)} wrote more than ${outcome.limit} bytes to stdout (--max-request-body-size); its process group was killed`,
      );
    case "exited":
      break;
  }
  const failed = outcome.code !== 0;
  const parsed = parseOutputResourceList(outcome.stdout);
  const failure: FunctionFailure = { results: [], stderr: outcome.stderr, exitCode: outcome.code, signal: outcome.signal };
  if (failed && wording === "exec") {
    throw new FunctionError(`Failed to execute function ${q(image)}: ${goExitError(outcome.code, outcome.signal)} (${stderrExcerpt(outcome.stderr)})`, {
      ...failure,
      results: parsed.ok ? parsed.results : [],
    });
  }
  if (!parsed.ok) {
    const why = failed ? `${parsed.error} (${exitDescription(outcome.code, outcome.signal)})` : parsed.error;
    throw new FunctionError(`failed to parse the output of function ${q(image)} with stderr '${stderrExcerpt(outcome.stderr)}': ${why}`, failure);
  }
  if (failed) {
    throw new FunctionError(
      `failed to evaluate function ${q(image)} with structured results: ${formatResults(parsed.results)} and stderr: ${stderrExcerpt(outcome.stderr)}`,
      { ...failure, results: parsed.results },
    );
  }
  return { resourceList: outcome.stdout, log: Buffer.from(outcome.stderr, "utf8"), results: parsed.results };
}

/** How Go's exec.ExitError prints itself: "exit status 1", "signal: killed". */
function goExitError(code: number | null, signal: string | null): string {
  if (signal === null) return `exit status ${code ?? "unknown"}`;
  return `signal: ${GO_SIGNAL_NAMES[signal] ?? signal}`;
}

const GO_SIGNAL_NAMES: Readonly<Record<string, string>> = {
  SIGKILL: "killed",
  SIGTERM: "terminated",
  SIGINT: "interrupt",
  SIGSEGV: "segmentation fault",
  SIGABRT: "aborted",
  SIGPIPE: "broken pipe",
  SIGHUP: "hangup",
  SIGQUIT: "quit",
  SIGBUS: "bus error",
  SIGFPE: "floating point exception",
  SIGILL: "illegal instruction",
};

function exitDescription(code: number | null, signal: string | null): string {
  return signal !== null ? `killed by ${signal}` : `exit status ${code ?? "unknown"}`;
}
