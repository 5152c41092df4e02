import { AsyncLocalStorage } from "node:async_hooks";
import { stderr } from "node:process";
/**
 * Structured JSON logging to stderr, one line per event. Fields are data the
 * caller chose to expose: never pass credentials, Authorization values or
 * Docker config contents here. A line written while serving a request carries
 * that request's id (`requestId`, last), whichever module writes it.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | null | undefined | string[]>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Whether `level` is written: lets a hot path skip building fields nobody reads. Absent: assume yes. */
  enabled?(level: LogLevel): boolean;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The id of the request being served, carried across awaits (HTTP x-request-id, gRPC metadata). */
const requestIds = new AsyncLocalStorage<string>();

/** Runs `fn` (and everything it awaits) as part of request `id`. */
export const withRequestId = <T>(id: string, fn: () => T): T => requestIds.run(id, fn);

/** The id of the request being served here, if any. */
export const currentRequestId = (): string | undefined => requestIds.getStore();

export function jsonLogger(min: LogLevel = "info", write: (line: string) => void = (l) => stderr.write(l + "\n")): Logger {
  // The service logs every request: format the timestamp once per millisecond, not once per line.
  let lastMs = -1;
  let lastIso = "";
  const now = (): string => {
    const ms = Date.now();
    if (ms !== lastMs) {
      lastMs = ms;
      lastIso = new Date(ms).toISOString();
    }
    return lastIso;
  };
  const emit = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    if (ORDER[level] < ORDER[min]) return;
    const requestId = requestIds.getStore();
    write(JSON.stringify(requestId === undefined ? { time: now(), level, msg, ...fields } : { time: now(), level, msg, ...fields, requestId }));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error"), enabled: (level) => ORDER[level] >= ORDER[min] };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, enabled: () => false };

/** Collects log lines in memory: tests search them for leaked secrets and warnings. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(jsonLogger("debug", (l) => lines.push(l)), { lines });
}
