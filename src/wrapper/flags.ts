/**
 * The wrapper server's command line, Porch's flags and defaults:
 * `wrapper-server --port 9446 --max-request-body-size 6291456 [--verbosity N] -- CMD ARGS...`.
 * Its own small set (not the runner's): a pod must not fail on a runner flag
 * it does not need, nor inherit the runner's 9445 default. Pure.
 */
import { z } from "zod";
import { parseDuration } from "../config/duration.ts";
import { FlagError, scanArgs } from "../config/flags.ts";

const WrapperSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(9446),
  "max-request-body-size": z.coerce.number().int().positive().default(6 * 1024 * 1024),
  // Porch's klog verbosity: accepted so Porch's pod templates work; 4+ logs at debug.
  verbosity: z.coerce.number().int().min(0).default(2),
  "log-level": z.enum(["debug", "info", "warn", "error"]).optional(),
  "listen-address": z.string().min(1).default("0.0.0.0"),
  "shutdown-timeout": z
    .string()
    .default("10s")
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `"${v}" is not a duration (e.g. 10s)` });
        return z.NEVER;
      }
      return ms;
    }),
  help: z.enum(["true", "false"]).transform((v) => v === "true").default(false),
});

export type WrapperFlags = Omit<z.infer<typeof WrapperSchema>, "log-level"> & { "log-level": "debug" | "info" | "warn" | "error"; command: string[] };

const KNOWN: ReadonlySet<string> = new Set([...Object.keys(WrapperSchema.shape), "h"]);
const BOOLEANS: ReadonlySet<string> = new Set(["help", "h"]);

export const WRAPPER_USAGE = `usage: function-runner wrapper-server [flags] -- CMD [ARGS...]
       (or this binary installed as "wrapper-server": wrapper-server [flags] -- CMD [ARGS...])

Serves evaluator.FunctionEvaluator/EvaluateFunction and grpc.health.v1 (as Porch's
wrapper-server): each call runs CMD with the ResourceList on stdin.

flags:
  --port                    gRPC port (9446)
  --max-request-body-size   largest gRPC message in bytes (6291456)
  --verbosity               Porch's log verbosity; 4 or more logs at debug (2)
  --log-level               debug, info, warn or error (overrides --verbosity)
  --listen-address          address to bind (0.0.0.0)
  --shutdown-timeout        on SIGTERM, how long running calls may take (10s)`;

/** argv after `wrapper-server` → flags and the function's command; FlagError names the flag. */
export function parseWrapperArgs(argv: readonly string[]): WrapperFlags {
  const scanned = scanArgs(argv, KNOWN, BOOLEANS);
  if (scanned.flags.h !== undefined) {
    scanned.flags.help = scanned.flags.h;
    delete scanned.flags.h;
  }
  const parsed = WrapperSchema.safeParse(scanned.flags);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = String(issue?.path[0] ?? "?");
    throw new FlagError(flag, `invalid value for --${flag}: ${issue?.message ?? "invalid"}`);
  }
  // Porch takes the command after `--` only; a bare trailing command is accepted too.
  const command = scanned.rest.length > 0 ? scanned.rest : scanned.positionals;
  const level = parsed.data["log-level"] ?? (parsed.data.verbosity >= 4 ? "debug" : "info");
  return { ...parsed.data, "log-level": level, command };
}
