import { z } from "zod";
import { parseDuration } from "./duration.ts";
import { FlagError, scanArgs } from "./flags.ts";

const bool = z.enum(["true", "false", "1", "0", "True", "False"]).transform((v) => v === "true" || v === "1" || v === "True");
const port = z.coerce.number().int().min(0).max(65535);
const duration = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not a duration (e.g. 30m, 1h, 10s)` });
    return z.NEVER;
  }
  return ms;
});
const list = z.string().transform((v) => v.split(",").map((s) => s.trim()).filter((s) => s.length > 0));
const platform = z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, "must be os/arch or os/arch/variant, e.g. linux/amd64");
const level = z.enum(["debug", "info", "warn", "error"]);

/** Every flag, with Porch's names and defaults (docs/flags.md; where they differ, docs/porch-differences.md). */
export const ConfigSchema = z.object({
  port: port.default(9445),
  "http-port": port.default(9080),
  "pod-namespace": z.string().min(1).default("porch-fn-system"),
  "default-image-prefix": z.string().min(1).default("ghcr.io/kptdev/krm-functions-catalog/"),
  "default-registries": list.default([]),
  "enable-private-registries": bool.default(false),
  "registry-auth-secret-path": z.string().min(1).default("/var/tmp/auth-secret/.dockerconfigjson"),
  "registry-auth-secret-name": z.string().min(1).default("auth-secret"),
  "enable-private-registries-tls": bool.default(false),
  "tls-secret-path": z.string().min(1).default("/var/tmp/tls-secret/"),
  "max-request-body-size": z.coerce.number().int().positive().default(6291456),
  "pod-ttl": duration.default(30 * 60_000),
  "scan-interval": duration.default(60_000),
  "max-parallel-pods-per-function": z.coerce.number().int().min(1).default(1),
  "max-waitlist-length": z.coerce.number().int().min(0).default(2),
  "max-pending-evaluations": z.coerce.number().int().min(1).default(1000),
  "pod-address-mode": z.enum(["service", "pod-ip"]).default("service"),
  "pod-dns-suffix": z.string().default("svc.cluster.local"),
  "pod-ready-timeout": duration.default(60_000),
  "disable-runtimes": list.pipe(z.array(z.enum(["exec", "pod"]))).default([]),
  functions: z.string().default("./functions"),
  platform: platform.default("linux/amd64"),
  "insecure-registries": list.default([]),
  kubeconfig: z.string().optional(),
  "docker-config": z.string().optional(),
  "tag-metadata-ttl": duration.optional(),
  "image-cache-max-entries": z.coerce.number().int().min(1).default(10_000),
  "image-cache-max-bytes": z.coerce.number().int().min(4096).default(64 << 20),
  "registry-request-timeout": duration.default(30_000),
  "resolve-timeout": duration.default(120_000),
  "registry-max-connections": z.coerce.number().int().min(1).default(128),
  "registry-max-connections-per-host": z.coerce.number().int().min(1).default(16),
  "log-level": level.default("info"),
  "access-log": bool.default(false),
  "listen-address": z.string().min(1).default("0.0.0.0"),
  "http-auth-token-file": z.string().min(1).optional(),
  "shutdown-timeout": duration.default(20_000),
  json: bool.default(false),
  help: bool.default(false),
});
export type Config = z.infer<typeof ConfigSchema>;

const BOOLEANS: ReadonlySet<string> = new Set(["enable-private-registries", "enable-private-registries-tls", "access-log", "json", "help"]);
const KNOWN: ReadonlySet<string> = new Set([...Object.keys(ConfigSchema.shape), "h"]);

export interface ParsedCommandLine {
  config: Config;
  positionals: string[];
  rest: string[];
  /** Flags given on the command line (not defaulted): e.g. an explicit --platform is a requirement. */
  given: ReadonlySet<string>;
}

/** argv (without the runtime and script) → validated config; FlagError names the offending flag. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const scanned = scanArgs(argv, KNOWN, new Set([...BOOLEANS, "h"]));
  if (scanned.flags.h !== undefined) {
    scanned.flags.help = scanned.flags.h;
    delete scanned.flags.h;
  }
  const parsed = ConfigSchema.safeParse(scanned.flags);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = String(issue?.path[0] ?? "?");
    throw new FlagError(flag, `invalid value for --${flag}: ${issue?.message ?? "invalid"}`);
  }
  return { config: parsed.data, positionals: scanned.positionals, rest: scanned.rest, given: new Set(Object.keys(scanned.flags)) };
}

export const FLAG_HELP: ReadonlyArray<[string, string]> = [
  ["--port", "gRPC port for Porch's FunctionEvaluator (9445)"],
  ["--http-port", "HTTP API, health and metrics port (9080)"],
  ["--pod-namespace", "namespace of function pods and the pull secret (porch-fn-system)"],
  ["--default-image-prefix", "prefix for short function names (ghcr.io/kptdev/krm-functions-catalog/)"],
  ["--default-registries", "extra comma-separated prefixes that use the default keychain"],
  ["--enable-private-registries", "use the mounted Docker config for non-default registries (false)"],
  ["--registry-auth-secret-path", "mounted Docker config JSON (/var/tmp/auth-secret/.dockerconfigjson)"],
  ["--registry-auth-secret-name", "pull secret created in the pod namespace (auth-secret)"],
  ["--enable-private-registries-tls", "trust the CA in --tls-secret-path for private registries (false)"],
  ["--tls-secret-path", "directory holding ca.crt or ca.pem (/var/tmp/tls-secret/)"],
  ["--max-request-body-size", "largest accepted request body / gRPC message in bytes (6291456)"],
  ["--pod-ttl", "idle time before a function pod is reclaimed (30m)"],
  ["--scan-interval", "garbage-collection interval (1m)"],
  ["--max-parallel-pods-per-function", "most pods started for one function image (1)"],
  ["--max-waitlist-length", "per-pod load (waiting + running calls) at which another pod is started (2)"],
  ["--max-pending-evaluations", "per image: calls waiting for pods to start beyond this are refused (1000)"],
  ["--pod-address-mode", "how function pods are dialled: service (DNS name) or pod-ip (service)"],
  ["--pod-dns-suffix", "cluster DNS suffix of function services (svc.cluster.local)"],
  ["--pod-ready-timeout", "how long a new function pod may take to become ready (60s)"],
  ["--disable-runtimes", "comma list of runtimes to disable: exec,pod"],
  ["--functions", "directory with config.yaml mapping images to local binaries (./functions)"],
  ["--platform", "platform picked from image indexes (linux/amd64)"],
  ["--insecure-registries", "comma list of registries that may be reached over plain HTTP with credentials"],
  ["--kubeconfig", "kubeconfig file (else in-cluster, else $KUBECONFIG / ~/.kube/config)"],
  ["--docker-config", "Docker config JSON with registry credentials for this process"],
  ["--tag-metadata-ttl", "expire cached metadata of tag references after this long (never)"],
  ["--image-cache-max-entries", "most image metadata records kept; least recently used evicted first (10000)"],
  ["--image-cache-max-bytes", "most estimated bytes of image metadata kept (67108864)"],
  ["--registry-request-timeout", "total time for one registry request, headers and whole body (30s)"],
  ["--resolve-timeout", "total time for resolving one image: every request, retry and fallback (2m)"],
  ["--registry-max-connections", "registry requests in flight at once, all hosts together; more wait (128)"],
  ["--registry-max-connections-per-host", "registry requests in flight to one host; more wait (16)"],
  ["--log-level", "debug, info, warn or error (info)"],
  ["--access-log", "log every HTTP request at info (false: at debug; 5xx answers always at warn)"],
  ["--listen-address", "address the gRPC and HTTP servers bind (0.0.0.0)"],
  ["--http-auth-token-file", "file holding a bearer token the HTTP API requires (probes and /metrics stay open; none)"],
  ["--shutdown-timeout", "on SIGTERM, how long in-flight calls may take before the process exits (20s)"],
];
