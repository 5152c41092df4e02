/**
 * Log lines the service did not write itself (grpc-js's "E No address added…",
 * a library's console.warn) leave in the same one-JSON-object-per-line format
 * as ours, so log collectors parse every line. grpc-js gets our logger through
 * its own hook (with the level it meant); anything else that writes through
 * `console` is caught there. Process-wide: installed by `serve` only.
 */
import * as grpc from "@grpc/grpc-js";
import { format } from "node:util";
import type { Logger, LogLevel } from "../log.ts";
import { capStatusMessage } from "../protocol/status-message.ts";

/** A library's message can be anything: bounded like any text we echo. */
const MAX_LINE_BYTES = 8 * 1024;

type Sink = (msg: string, fields: { source: string }) => void;

const text = (args: unknown[]): string => capStatusMessage(format(...args).trim(), MAX_LINE_BYTES);

/** Installs the routing; returns a function that restores what was there before. */
export function routeThirdPartyLogs(logger: Logger): () => void {
  const at = (level: LogLevel): Sink => (msg, fields) => logger[level](msg, fields);
  grpc.setLogger({
    error: (...args: unknown[]) => at("error")(text(args), { source: "grpc-js" }),
    info: (...args: unknown[]) => at("info")(text(args), { source: "grpc-js" }),
    debug: (...args: unknown[]) => at("debug")(text(args), { source: "grpc-js" }),
  });
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug, trace: console.trace };
  const levels: Array<[keyof typeof saved, LogLevel]> = [
    ["log", "info"],
    ["info", "info"],
    ["warn", "warn"],
    ["error", "error"],
    ["debug", "debug"],
    ["trace", "debug"],
  ];
  for (const [method, level] of levels) {
    console[method] = (...args: unknown[]) => at(level)(text(args), { source: "console" });
  }
  return () => {
    Object.assign(console, saved);
    grpc.setLogger(console);
  };
}
