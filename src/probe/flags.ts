/**
 * The command line of grpc-health-probe, which Porch's Deployment runs as its
 * readiness probe (`/home/nonroot/grpc-health-probe -addr localhost:9445`):
 * the same flags, Go flag syntax (`-name value`, `-name=value`, `--name`,
 * booleans bare or `=true|false`), the same checks and the same exit code 1
 * for anything invalid. Pure.
 */
import { parseDuration } from "../config/duration.ts";

export interface ProbeFlags {
  addr: string;
  service: string;
  connectTimeoutMs: number;
  rpcTimeoutMs: number;
  userAgent: string;
  /** `-rpc-header "key: value"`, repeatable. */
  headers: Array<[string, string]>;
  gzip: boolean;
  tls: boolean;
  tlsNoVerify: boolean;
  tlsCaCert: string;
  tlsClientCert: string;
  tlsClientKey: string;
  tlsServerName: string;
  verbose: boolean;
}

export type ParsedProbe = { kind: "probe"; flags: ProbeFlags } | { kind: "help" } | { kind: "version" } | { kind: "invalid"; error: string };

const STRINGS = new Set(["addr", "service", "connect-timeout", "rpc-timeout", "user-agent", "rpc-header", "tls-ca-cert", "tls-client-cert", "tls-client-key", "tls-server-name"]);
const BOOLEANS = new Set(["tls", "tls-no-verify", "v", "gzip", "version", "alts", "spiffe", "h", "help"]);

export const PROBE_USAGE = `usage: grpc-health-probe -addr HOST:PORT [flags]
       (this binary installed as "grpc-health-probe", or: function-runner grpc-health-probe ...)

Calls grpc.health.v1.Health/Check. Exit codes: 0 SERVING, 1 invalid arguments,
2 connection failure, 3 RPC failure, 4 not SERVING.

flags:
  -addr string              (required) tcp host:port to connect
  -service string           service name to check (default: "")
  -connect-timeout duration timeout for establishing connection (default 1s)
  -rpc-timeout duration     timeout for health check rpc (default 1s)
  -user-agent string        user-agent header value of health check requests (default "grpc_health_probe")
  -rpc-header "key: value"  additional metadata for the health check rpc (repeatable)
  -gzip                     use GZIPCompressor for requests and GZIPDecompressor for response
  -tls                      use TLS (default: false, INSECURE plaintext transport)
  -tls-no-verify            (with -tls) don't verify the certificate (INSECURE) presented by the server
  -tls-ca-cert string       (with -tls, optional) file containing trusted certificates for verifying server
  -tls-client-cert string   (with -tls, optional) client certificate for authenticating to the server (requires -tls-client-key)
  -tls-client-key string    (with -tls) client private key for authenticating to the server (requires -tls-client-cert)
  -tls-server-name string   (with -tls) override the hostname used to verify the server certificate
  -v                        verbose logs
  -version                  print the version and exit`;

const boolValue = (v: string): boolean | undefined => (["true", "1", "t", "T", "TRUE", "True"].includes(v) ? true : ["false", "0", "f", "F", "FALSE", "False"].includes(v) ? false : undefined);

export function parseProbeArgs(argv: readonly string[]): ParsedProbe {
  const strings: Record<string, string> = {};
  const bools: Record<string, boolean> = {};
  const headers: Array<[string, string]> = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    // Go's flag package stops at the first non-flag argument or "--"; the probe takes no arguments.
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") return { kind: "invalid", error: `unexpected argument ${JSON.stringify(arg)}` };
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    if (BOOLEANS.has(name)) {
      const value = eq === -1 ? true : boolValue(body.slice(eq + 1));
      if (value === undefined) return { kind: "invalid", error: `invalid boolean value ${JSON.stringify(body.slice(eq + 1))} for -${name}` };
      bools[name] = value;
      continue;
    }
    if (!STRINGS.has(name)) return { kind: "invalid", error: `flag provided but not defined: -${name}` };
    let value: string;
    if (eq !== -1) value = body.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined) return { kind: "invalid", error: `flag needs an argument: -${name}` };
      value = next;
      i++;
    }
    if (name === "rpc-header") {
      const colon = value.indexOf(":");
      if (colon <= 0) return { kind: "invalid", error: `-rpc-header ${JSON.stringify(value)} is not "key: value"` };
      headers.push([value.slice(0, colon).trim().toLowerCase(), value.slice(colon + 1).trim()]);
    } else strings[name] = value;
  }
  if (bools.h === true || bools.help === true) return { kind: "help" };
  if (bools.version === true) return { kind: "version" };
  if (bools.alts === true || bools.spiffe === true) return { kind: "invalid", error: `-${bools.alts === true ? "alts" : "spiffe"} is not supported by this probe` };

  const duration = (name: string): number | string => {
    const text = strings[name] ?? "1s";
    const ms = parseDuration(text);
    if (ms === undefined) return `invalid value ${JSON.stringify(text)} for flag -${name}: parse error`;
    if (ms <= 0) return `-${name} must be greater than zero (specified: ${text})`;
    return ms;
  };
  const connectTimeoutMs = duration("connect-timeout");
  if (typeof connectTimeoutMs === "string") return { kind: "invalid", error: connectTimeoutMs };
  const rpcTimeoutMs = duration("rpc-timeout");
  if (typeof rpcTimeoutMs === "string") return { kind: "invalid", error: rpcTimeoutMs };

  const flags: ProbeFlags = {
    addr: strings.addr ?? "",
    service: strings.service ?? "",
    connectTimeoutMs,
    rpcTimeoutMs,
    userAgent: strings["user-agent"] ?? "grpc_health_probe",
    headers,
    gzip: bools.gzip ?? false,
    tls: bools.tls ?? false,
    tlsNoVerify: bools["tls-no-verify"] ?? false,
    tlsCaCert: strings["tls-ca-cert"] ?? "",
    tlsClientCert: strings["tls-client-cert"] ?? "",
    tlsClientKey: strings["tls-client-key"] ?? "",
    tlsServerName: strings["tls-server-name"] ?? "",
    verbose: bools.v ?? false,
  };
  const invalid = checkCombination(flags);
  return invalid === undefined ? { kind: "probe", flags } : { kind: "invalid", error: invalid };
}

/** The same combination rules (and sentences) as grpc-health-probe. */
function checkCombination(f: ProbeFlags): string | undefined {
  if (f.addr === "") return "-addr not specified";
  if (!f.tls && f.tlsNoVerify) return "specified -tls-no-verify without specifying -tls";
  if (!f.tls && f.tlsCaCert !== "") return "specified -tls-ca-cert without specifying -tls";
  if (!f.tls && f.tlsClientCert !== "") return "specified -tls-client-cert without specifying -tls";
  if (!f.tls && f.tlsServerName !== "") return "specified -tls-server-name without specifying -tls";
  if (f.tlsClientCert !== "" && f.tlsClientKey === "") return "specified -tls-client-cert without specifying -tls-client-key";
  if (f.tlsClientCert === "" && f.tlsClientKey !== "") return "specified -tls-client-key without specifying -tls-client-cert";
  if (f.tlsNoVerify && f.tlsCaCert !== "") return "cannot specify -tls-ca-cert with -tls-no-verify (CA cert would not be used)";
  if (f.tlsNoVerify && f.tlsServerName !== "") return "cannot specify -tls-server-name with -tls-no-verify (server name would not be used)";
  return undefined;
}

/**
 * A gRPC target for grpc-js from Go's dial address: ":9445" means this host
 * (Go dials the local system), as does "0.0.0.0:9445".
 */
export function probeTarget(addr: string): string {
  if (addr.startsWith(":")) return `localhost${addr}`;
  if (addr.startsWith("0.0.0.0:")) return `127.0.0.1${addr.slice("0.0.0.0".length)}`;
  return addr;
}

/** Go's time.Duration string for the messages grpc-health-probe prints ("1s", "500ms", "1.5s"). */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${ms / 1000}s`;
  const m = Math.floor(ms / 60_000);
  const s = (ms % 60_000) / 1000;
  return s === 0 ? `${m}m0s` : `${m}m${s}s`;
}
