/**
 * The executable runtime (`--functions DIR`): images listed in DIR/config.yaml
 * run as local programs, the ResourceList on stdin, stdout the answer, stderr
 * the log. Other images are NOT_FOUND, so the multi-evaluator moves on.
 *
 * config.yaml is re-read whenever it changes (a stat per call: cheap, and it
 * sees ConfigMap volume swaps that file watchers miss; taken synchronously, as
 * a hop through the thread pool costs more than the stat of a cached inode).
 * A broken file is fatal
 * at start-up (`load`); a file broken later is logged and the last good table
 * stays in use, so an edit in progress never disables the runtime.
 */
import { readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isRunnerError, RunnerError } from "../errors.ts";
import { changedAtMs, fileStamp } from "../files/file-stamp.ts";
import type { Logger } from "../log.ts";
import { EMPTY_TABLE, type ExecFunction, type ExecTable, lookupFunction, parseExecConfig } from "./exec-config.ts";
import { interpretOutcome } from "./outcome.ts";
import { FunctionProcesses } from "./process.ts";
import { hasErrorResult } from "./results.ts";
import type { EvaluationRequest, EvaluationResult, FunctionEvaluator } from "./types.ts";

export const EXEC_CONFIG_FILE = "config.yaml";
/** stderr kept per call; the rest is dropped with a marker. */
const DEFAULT_MAX_STDERR = 1024 * 1024;

export interface ExecEvaluatorOptions {
  /** `--functions`: the directory holding config.yaml and (usually) the binaries. */
  dir: string;
  /** `--default-image-prefix`, for short names in config.yaml and in requests. */
  defaultImagePrefix: string;
  /** `--max-request-body-size`: more stdout than this could not be answered. */
  maxOutputBytes: number;
  maxStderrBytes?: number;
  logger: Logger;
  /** Porch v4's `--config`: the config file, instead of DIR/config.yaml (relative binaries stay relative to DIR). */
  configFile?: string;
  /** Porch HEAD's FunctionConfig `binaryExecutor` (src/kube/function-config.ts): consulted before the file. */
  binaryFor?: (image: string) => { binary: string; source: string } | undefined;
}

/** A request may carry the caller's cancellation (gRPC "cancelled"); the seam does not require it. */

type ConfigState =
  | { kind: "unloaded" }
  | { kind: "loaded"; signature: string; source?: string; table: ExecTable }
  | { kind: "broken"; signature: string; source?: string; error: string; lastGood?: ExecTable };

const ABSENT = "absent";
/**
 * File times tick at the kernel's coarse clock, so two writes close together
 * can share an mtime (git's "racy clean" problem): a file changed this
 * recently is read again and compared by content.
 */
const RACY_MS = 2_000;
/** A config file this small is compared at once while racy; a larger one is read off the event loop. */
const SYNC_COMPARE_BYTES = 64 * 1024;
/** Image names looked up per table: callers repeat a handful; any more are looked up afresh. */
const MAX_LOOKUPS = 1024;

export class ExecEvaluator implements FunctionEvaluator {
  readonly configFile: string;
  readonly #opts: ExecEvaluatorOptions;
  readonly #processes = new FunctionProcesses();
  #state: ConfigState = { kind: "unloaded" };
  #refreshing: Promise<ExecTable> | undefined;
  /** Lookups in `#lookupsOf` (parsing an image name costs more than the map). */
  readonly #lookups = new Map<string, ExecFunction | undefined>();
  #lookupsOf: ExecTable | undefined;

  constructor(opts: ExecEvaluatorOptions) {
    this.#opts = opts;
    this.configFile = opts.configFile ?? join(opts.dir, EXEC_CONFIG_FILE);
  }

  /** Reads config.yaml now; throws when it is broken (start-up must not go on without it). */
  async load(): Promise<ExecTable> {
    let table: ExecTable;
    try {
      table = await this.#refresh();
    } catch (e) {
      if (this.#state.kind === "broken") throw new RunnerError("INVALID_ARGUMENT", `exec runtime: ${this.#state.error}`, { cause: e });
      throw e;
    }
    if (this.#state.kind === "loaded" && this.#state.signature === ABSENT) {
      this.#opts.logger.info("exec runtime: no config file; no executable functions", { file: this.configFile });
    }
    return table;
  }

  async evaluate(req: EvaluationRequest): Promise<EvaluationResult> {
    const configured = this.#opts.binaryFor?.(req.image);
    let fn: Pick<ExecFunction, "binary" | "args"> | undefined;
    if (configured !== undefined) fn = { binary: configured.binary, args: [] };
    else {
      const current = this.#current();
      fn = this.#lookup(current instanceof Promise ? await current : current, req.image);
    }
    if (fn === undefined) {
      throw new RunnerError("NOT_FOUND", `exec runtime: no executable configured for image ${JSON.stringify(req.image)} in ${this.configFile}`);
    }
    const { logger } = this.#opts;
    const outcome = await this.#processes.run({
      argv: [fn.binary, ...fn.args],
      stdin: req.resourceList,
      deadline: req.deadline,
      signal: req.signal,
      maxStdoutBytes: this.#opts.maxOutputBytes,
      maxStderrBytes: this.#opts.maxStderrBytes ?? DEFAULT_MAX_STDERR,
    });
    const fields = { image: req.image, binary: fn.binary, outcome: outcome.kind, ms: outcome.ms };
    try {
      const res = interpretOutcome(req.image, outcome, "exec");
      if (hasErrorResult(res.results)) logger.warn("exec function succeeded with error results", { ...fields, results: res.results.length });
      else logger.debug("exec function evaluated", fields);
      return { resourceList: res.resourceList, log: res.log };
    } catch (e) {
      logger.warn("exec function failed", { ...fields, code: isRunnerError(e) ? e.code : "INTERNAL", exitCode: outcome.kind === "exited" ? outcome.code : null });
      throw e;
    }
  }

  /** Kills every function still running (shutdown, after the servers drained). */
  close(): Promise<void> {
    this.#processes.killAll();
    return Promise.resolve();
  }

  #lookup(table: ExecTable, image: string): ExecFunction | undefined {
    if (this.#lookupsOf !== table || this.#lookups.size >= MAX_LOOKUPS) {
      this.#lookups.clear();
      this.#lookupsOf = table;
    }
    if (this.#lookups.has(image)) return this.#lookups.get(image);
    // Throws INVALID_REFERENCE for a malformed name: not remembered, it fails the same way again.
    const fn = lookupFunction(table, image, this.#opts.defaultImagePrefix);
    this.#lookups.set(image, fn);
    return fn;
  }

  #refresh(): Promise<ExecTable> {
    const current = this.#current();
    return current instanceof Promise ? current : Promise.resolve(current);
  }

  /** The table to use now: at once while the file is unchanged, else once it is read. */
  #current(): ExecTable | Promise<ExecTable> {
    // Single-flight: calls during a read share it.
    if (this.#refreshing !== undefined) return this.#refreshing;
    const { signature, mtimeMs, size } = fileSignature(this.configFile);
    const state = this.#state;
    if (state.kind !== "unloaded" && state.signature === signature) {
      if (Date.now() - mtimeMs >= RACY_MS) return tableOf(state, this.configFile);
      // Written moments ago: the content decides, as in #read; unchanged, nothing to parse or log.
      if (state.source !== undefined && size <= SYNC_COMPARE_BYTES && sameContent(this.configFile, state.source)) return tableOf(state, this.configFile);
    }
    this.#refreshing = this.#read(signature).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #read(signature: string): Promise<ExecTable> {
    const { logger } = this.#opts;
    const previous = this.#state;
    const lastGood = previous.kind === "loaded" ? previous.table : previous.kind === "broken" ? previous.lastGood : undefined;
    if (signature === ABSENT) {
      if (lastGood !== undefined && lastGood.functions.length > 0) logger.warn("exec runtime: config file removed; no executable functions", { file: this.configFile });
      this.#state = { kind: "loaded", signature, table: EMPTY_TABLE };
      return EMPTY_TABLE;
    }
    let source: string;
    try {
      source = await readFile(this.configFile, "utf8");
    } catch (e) {
      return this.#broken(signature, undefined, `${this.configFile}: cannot read: ${e instanceof Error ? e.message : String(e)}`, lastGood);
    }
    if (previous.kind !== "unloaded" && previous.source === source) {
      // Touched or racy, not changed: nothing to parse or log again.
      this.#state = { ...previous, signature };
      return tableOf(this.#state, this.configFile);
    }
    const parsed = parseExecConfig(source, { file: this.configFile, dir: this.#opts.dir, defaultImagePrefix: this.#opts.defaultImagePrefix });
    if (!parsed.ok) return this.#broken(signature, source, parsed.error, lastGood);
    for (const warning of parsed.table.warnings) logger.warn("exec runtime: config warning", { file: this.configFile, warning });
    logger.info("exec runtime: loaded functions", { file: this.configFile, functions: parsed.table.functions.length });
    this.#state = { kind: "loaded", signature, source, table: parsed.table };
    return parsed.table;
  }

  #broken(signature: string, source: string | undefined, error: string, lastGood: ExecTable | undefined): ExecTable {
    this.#opts.logger.error(
      lastGood === undefined ? "exec runtime: config file is invalid" : "exec runtime: config file is invalid; keeping the previous functions",
      { file: this.configFile, error, kept: lastGood?.functions.length },
    );
    this.#state = { kind: "broken", signature, source, error, ...(lastGood === undefined ? {} : { lastGood }) };
    return tableOf(this.#state, this.configFile);
  }
}

/**
 * The table a state serves. Broken with nothing good before: every call fails
 * loudly naming the file, rather than quietly falling through to pods.
 */
function tableOf(state: ConfigState, file: string): ExecTable {
  switch (state.kind) {
    case "unloaded":
      return EMPTY_TABLE;
    case "loaded":
      return state.table;
    case "broken":
      if (state.lastGood !== undefined) return state.lastGood;
      throw new RunnerError("INTERNAL", `exec runtime unavailable: ${state.error} (fix ${file}; it is re-read when it changes)`);
  }
}

/** What changes when the file does (a ConfigMap update swaps a symlink: the inode changes). */
function fileSignature(file: string): { signature: string; mtimeMs: number; size: number } {
  try {
    const s = statSync(file);
    return { signature: fileStamp(s), mtimeMs: changedAtMs(s), size: s.size };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { signature: ABSENT, mtimeMs: 0, size: 0 };
    return { signature: `error:${code === undefined ? String(e) : String(code)}`, mtimeMs: 0, size: 0 };
  }
}

/** Whether the file still holds `source`; any failure to read says no (the full read reports it). */
function sameContent(file: string, source: string): boolean {
  try {
    return readFileSync(file, "utf8") === source;
  } catch {
    return false;
  }
}
