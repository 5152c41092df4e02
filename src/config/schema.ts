/**
 * Every flag of the runner as one zod schema. Each field carries its help
 * text and the commands that accept it (FlagMeta); defaults are written once,
 * as `.prefault(TEXT)` in the form a user types, so help, docs/flags.md and
 * parsing all read the same value. Porch's function-runner flags (Porch HEAD
 * and v4.1.2 `func/server/server.go`) keep Porch's names, meaning and default;
 * docs/flags.md lists where and why ours differ.
 */
import { z } from "zod";
import { parseDuration } from "./duration.ts";

export const COMMANDS = ["serve", "resolve", "explain", "podspec"] as const;
export type Command = (typeof COMMANDS)[number];

export interface FlagMeta {
  help: string;
  /** Commands that accept the flag. */
  commands: readonly Command[];
  /** Which Porch release has this flag (absent: ours). */
  porch?: "HEAD" | "v4.1.2" | "HEAD, v4.1.2";
  /** One-letter alias (`-o`). */
  short?: string;
  /** Placeholder in help (`-port int`), when not derived from the type. */
  value?: string;
}

/** Help text and command set per flag; read by help, completion and docs/flags.md. */
export const FLAG_META = z.registry<FlagMeta>();

/** Go's strconv.ParseBool spellings (Porch's booleans are Go flags). */
export const bool = z
  .enum(["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"])
  .transform((v) => v === "1" || v.toLowerCase().startsWith("t"));
export const port = z.coerce.number().int().min(0).max(65535);
export const int = z.coerce.number().int();
export const duration = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not a duration (e.g. 30m, 1h, 10s)` });
    return z.NEVER;
  }
  return ms;
});
export const list = z.string().transform((v) => v.split(",").map((s) => s.trim()).filter((s) => s.length > 0));
const platform = z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, "must be os/arch or os/arch/variant, e.g. linux/amd64");

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
/**
 * Porch's `--log-level` is klog verbosity 0–5 (default 2). Porch logs
 * unconditionally at 0–2 and its debug detail at V(3)/V(4), so 0–2 map to
 * info and 3 or more to debug. Our names stay as aliases.
 */
export const logLevel = z.string().transform((v, ctx): LogLevelName => {
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevelName;
  if (/^\d{1,3}$/.test(v)) return Number(v) >= 3 ? "debug" : "info";
  ctx.addIssue({ code: "custom", message: `"${v}" is not a level: 0-5 (Porch's klog verbosity) or debug, info, warn, error` });
  return z.NEVER;
});

export const RUNTIMES = ["exec", "pod"] as const;
export type Runtime = (typeof RUNTIMES)[number];
export const OUTPUTS = ["table", "json", "yaml"] as const;
export type Output = (typeof OUTPUTS)[number];

/** Porch's code default; its docs mount the secret at AUTH_SECRET_DOCS_PATH (see docs/flags.md). */
export const AUTH_SECRET_CODE_PATH = "/var/tmp/config-secret/.dockerconfigjson";
export const AUTH_SECRET_DOCS_PATH = "/var/tmp/auth-secret/.dockerconfigjson";

const ALL: readonly Command[] = COMMANDS;
const SERVE: readonly Command[] = ["serve"];
/** Flags that change how an image is resolved: every command that resolves one. */
const REGISTRY: readonly Command[] = ALL;
/** Flags that shape function pods and their pull secret. */
const POD: readonly Command[] = ["serve", "podspec"];
const ONE_SHOT: readonly Command[] = ["resolve", "explain", "podspec"];

function m<T extends z.ZodType>(schema: T, meta: FlagMeta): T {
  FLAG_META.add(schema, meta);
  return schema;
}

export const ConfigSchema = z.object({
  // Porch's flags (func/server/server.go), Porch's defaults.
  port: m(port.prefault("9445"), { help: "gRPC port of Porch's FunctionEvaluator service", commands: SERVE, porch: "HEAD, v4.1.2" }),
  "disable-runtimes": m(list.prefault(""), {
    help: "comma-separated runtimes to disable: exec, pod (unknown names are ignored with a warning, as Porch ignores them)",
    commands: SERVE,
    porch: "HEAD, v4.1.2",
  }),
  "log-level": m(logLevel.prefault("2"), {
    help: "log verbosity: Porch's 0-5 (0-2 info, 3-5 debug) or debug, info, warn, error",
    commands: ALL,
    porch: "HEAD, v4.1.2",
    value: "level",
  }),
  "default-image-prefix": m(z.string().min(1).prefault("ghcr.io/kptdev/krm-functions-catalog/"), {
    help: "prefix for unqualified function names",
    commands: REGISTRY,
    porch: "HEAD",
  }),
  functions: m(z.string().prefault("./functions"), { help: "directory of the exec runtime's function binaries", commands: SERVE, porch: "HEAD, v4.1.2", value: "path" }),
  config: m(z.string().min(1).optional(), {
    help: "exec runtime config file mapping images to binaries (Porch v4 --config; unset: config.yaml in --functions)",
    commands: SERVE,
    porch: "v4.1.2",
    value: "path",
  }),
  "pod-cache-config": m(z.string().prefault("/pod-cache-config/pod-cache-config.yaml"), {
    help: "file mapping function images to pod TTLs; those pods are started at start-up when --warm-up-pod-cache (a missing file at the default path is no error)",
    commands: SERVE,
    porch: "v4.1.2",
    value: "path",
  }),
  "warm-up-pod-cache": m(bool.prefault("true"), { help: "start the configured functions' pods at start-up", commands: SERVE, porch: "HEAD, v4.1.2" }),
  "pod-namespace": m(z.string().min(1).prefault("porch-fn-system"), {
    help: "namespace of function pods and their pull secret",
    commands: ["serve", "explain", "podspec"],
    porch: "HEAD, v4.1.2",
  }),
  "pod-ttl": m(duration.prefault("30m"), { help: "idle time before a function pod is reclaimed", commands: POD, porch: "HEAD, v4.1.2" }),
  "scan-interval": m(duration.prefault("1m"), { help: "interval between garbage-collection scans of function pods", commands: SERVE, porch: "HEAD, v4.1.2" }),
  "function-pod-template": m(z.string().min(1).optional(), {
    help: "ConfigMap in the runner's own namespace (porch-system outside a cluster) holding the function pod `template` and `serviceTemplate`",
    commands: POD,
    porch: "v4.1.2",
    value: "name",
  }),
  "enable-private-registries": m(bool.prefault("false"), {
    help: "use the mounted Docker config for registries other than the default ones",
    commands: REGISTRY,
    porch: "HEAD, v4.1.2",
  }),
  "registry-auth-secret-path": m(z.string().min(1).prefault(AUTH_SECRET_CODE_PATH), {
    help: `mounted Docker config JSON for private registries (when not given and absent, ${AUTH_SECRET_DOCS_PATH} if that exists)`,
    commands: REGISTRY,
    porch: "HEAD, v4.1.2",
    value: "path",
  }),
  "registry-auth-secret-name": m(z.string().min(1).prefault("auth-secret"), {
    help: "pull secret created in the pod namespace from --registry-auth-secret-path",
    commands: ["serve", "explain", "podspec"],
    porch: "HEAD, v4.1.2",
    value: "name",
  }),
  "enable-private-registries-tls": m(bool.prefault("false"), {
    help: "trust the CA in --tls-secret-path for private registries",
    commands: REGISTRY,
    porch: "HEAD, v4.1.2",
  }),
  "tls-secret-path": m(z.string().min(1).prefault("/var/tmp/tls-secret/"), {
    help: "directory holding the private registries' ca.crt or ca.pem",
    commands: REGISTRY,
    porch: "HEAD, v4.1.2",
    value: "path",
  }),
  "max-request-body-size": m(z.coerce.number().int().positive().prefault("6291456"), {
    help: "largest gRPC message and HTTP body in bytes (keep in sync with porch-server)",
    commands: POD,
    porch: "HEAD, v4.1.2",
  }),
  "max-waitlist-length": m(z.coerce.number().int().min(0).prefault("2"), {
    help: "per-pod load (waiting + running calls) at which another pod is started",
    commands: SERVE,
    porch: "HEAD",
  }),
  "max-parallel-pods-per-function": m(z.coerce.number().int().min(1).prefault("1"), {
    help: "most pods started for one function image",
    commands: SERVE,
    porch: "HEAD",
  }),
  kubeconfig: m(z.string().min(1).optional(), {
    help: "kubeconfig file (else in-cluster, else $KUBECONFIG or ~/.kube/config)",
    commands: ["serve", "podspec"],
    porch: "HEAD",
    value: "path",
  }),
  // Ours.
  "http-port": m(port.prefault("9080"), { help: "HTTP API, health and metrics port", commands: SERVE }),
  "access-log": m(bool.prefault("false"), { help: "a JSON line per HTTP request at info; otherwise requests are logged at debug and 5xx answers at warn (docs/benchmarks.md)", commands: SERVE }),
  "http-auth-token-file": m(z.string().min(1).optional(), {
    help: "file holding a bearer token the HTTP API requires (probes and /metrics stay open)",
    commands: SERVE,
    value: "path",
  }),
  "listen-address": m(z.string().min(1).prefault("0.0.0.0"), { help: "address the gRPC and HTTP servers bind", commands: SERVE, value: "address" }),
  "default-registries": m(list.prefault(""), { help: "extra comma-separated prefixes that use the default keychain", commands: REGISTRY }),
  "max-pending-evaluations": m(z.coerce.number().int().min(1).prefault("1000"), {
    help: "per image: calls waiting for pods to start beyond this are refused",
    commands: SERVE,
  }),
  "pod-address-mode": m(z.enum(["service", "pod-ip"]).prefault("service"), { help: "how function pods are dialled: service (DNS name) or pod-ip", commands: SERVE, value: "mode" }),
  "pod-dns-suffix": m(z.string().prefault("svc.cluster.local"), { help: "cluster DNS suffix of function services", commands: SERVE, value: "suffix" }),
  "pod-ready-timeout": m(duration.prefault("60s"), { help: "how long a new function pod may take to become ready", commands: SERVE }),
  platform: m(platform.prefault("linux/amd64"), { help: "platform picked from image indexes", commands: REGISTRY, value: "os/arch[/variant]" }),
  "insecure-registries": m(list.prefault(""), {
    help: "comma-separated registries that may be reached over plain HTTP with credentials",
    commands: REGISTRY,
  }),
  "docker-config": m(z.string().min(1).optional(), { help: "Docker config JSON with registry credentials for this process", commands: REGISTRY, value: "path" }),
  "tag-metadata-ttl": m(duration.optional(), { help: "expire cached metadata of tag references after this long (unset: never)", commands: SERVE }),
  "image-cache-max-entries": m(z.coerce.number().int().min(1).prefault("10000"), {
    help: "most image metadata records kept; least recently used evicted first",
    commands: SERVE,
  }),
  "image-cache-max-bytes": m(z.coerce.number().int().min(4096).prefault(String(64 << 20)), { help: "most estimated bytes of image metadata kept", commands: SERVE }),
  "registry-request-timeout": m(duration.prefault("30s"), { help: "total time for one registry request, headers and whole body", commands: REGISTRY }),
  "resolve-timeout": m(duration.prefault("2m"), { help: "total time for resolving one image: every request, retry and fallback", commands: REGISTRY }),
  "registry-max-connections": m(z.coerce.number().int().min(1).prefault("128"), {
    help: "registry requests in flight at once, all hosts together; more wait",
    commands: REGISTRY,
  }),
  "registry-max-connections-per-host": m(z.coerce.number().int().min(1).prefault("16"), { help: "registry requests in flight to one host; more wait", commands: REGISTRY }),
  "shutdown-timeout": m(duration.prefault("20s"), { help: "on SIGTERM, how long in-flight calls may take before the process exits", commands: SERVE }),
  output: m(z.enum(OUTPUTS).prefault("table"), { help: "output format: table, json or yaml", commands: ONE_SHOT, short: "o", value: "format" }),
  json: m(bool.prefault("false"), { help: "same as -o json", commands: ONE_SHOT }),
  verbose: m(bool.prefault("false"), { help: "also print info logs (one-shot commands print warnings and errors only)", commands: ONE_SHOT }),
  "challenge-cache": m(bool.prefault("true"), {
    help: "keep each registry's auth challenge (scheme, realm, service: never credentials or tokens) for 24 h in $XDG_CACHE_HOME/function-runner/challenges.json (default ~/.cache), so the next resolve skips the first 401",
    commands: ["resolve"],
  }),
  help: m(bool.prefault("false"), { help: "show this help", commands: ALL, short: "h" }),
  version: m(bool.prefault("false"), { help: "print the version", commands: ALL, short: "v" }),
});

export type FlagName = keyof typeof ConfigSchema.shape;
export const FLAG_NAMES = Object.keys(ConfigSchema.shape) as FlagName[];

interface WrapperDef {
  type: string;
  innerType?: z.ZodType;
  defaultValue?: unknown;
}
const defOf = (s: z.ZodType): WrapperDef => (s as unknown as { _zod: { def: WrapperDef } })._zod.def;

/** The field's type under its default/optional wrapper. */
function baseOf(s: z.ZodType): z.ZodType {
  let cur = s;
  for (let d = defOf(cur); (d.type === "prefault" || d.type === "default" || d.type === "optional") && d.innerType; d = defOf(cur)) cur = d.innerType;
  return cur;
}

export interface FlagInfo extends FlagMeta {
  name: FlagName;
  boolean: boolean;
  /** Default as typed on the command line; undefined when the flag has none. */
  default: string | undefined;
  value: string;
}

function placeholder(base: z.ZodType): string {
  if (base === duration) return "duration";
  if (base === list) return "list";
  if (base === platform) return "platform";
  const t = defOf(base).type;
  return t === "number" || t === "pipe" ? "int" : "string";
}

/** Everything help, completion and docs/flags.md need, derived from the schema. */
export const FLAGS: readonly FlagInfo[] = FLAG_NAMES.map((name) => {
  const field: z.ZodType = ConfigSchema.shape[name];
  const meta = FLAG_META.get(field);
  if (meta === undefined) throw new Error(`flag --${name} has no help`);
  const base = baseOf(field);
  const d = defOf(field);
  return {
    ...meta,
    name,
    boolean: base === bool,
    default: d.type === "prefault" ? String(d.defaultValue) : undefined,
    value: meta.value ?? placeholder(base),
  };
});

export const flagsOf = (command: Command): FlagInfo[] => FLAGS.filter((f) => f.commands.includes(command));
