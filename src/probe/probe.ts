/**
 * `grpc-health-probe`: one grpc.health.v1.Health/Check, answered by the exit
 * code (0 SERVING, 1 invalid arguments, 2 connection failure, 3 RPC failure,
 * 4 not SERVING) and one line on stderr, as the tool of that name does, so
 * Porch's readiness probe works with this binary linked under that name.
 */
import * as grpc from "@grpc/grpc-js";
import type { Buffer } from "node:buffer";
import { readFile } from "node:fs/promises";
import process from "node:process";
import { ServingStatus, type HealthCheckRequest, type HealthCheckResponse } from "../protocol/proto.ts";
import { healthService } from "../protocol/services.ts";
import { goDuration, parseProbeArgs, PROBE_USAGE, type ProbeFlags, probeTarget } from "./flags.ts";

export const PROBE_EXIT = { ok: 0, invalidArguments: 1, connectionFailure: 2, rpcFailure: 3, unhealthy: 4 } as const;

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const HealthClient = grpc.makeGenericClientConstructor(healthService, "Health");

async function credentials(f: ProbeFlags): Promise<grpc.ChannelCredentials> {
  if (!f.tls) return grpc.credentials.createInsecure();
  const read = async (path: string): Promise<Buffer | null> => (path === "" ? null : await readFile(path));
  const [ca, cert, key] = await Promise.all([read(f.tlsCaCert), read(f.tlsClientCert), read(f.tlsClientKey)]);
  return grpc.credentials.createSsl(ca, key, cert, f.tlsNoVerify ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {});
}

const SERVING_NAMES: Readonly<Record<number, string>> = {
  [ServingStatus.UNKNOWN]: "UNKNOWN",
  [ServingStatus.SERVING]: "SERVING",
  [ServingStatus.NOT_SERVING]: "NOT_SERVING",
  [ServingStatus.SERVICE_UNKNOWN]: "SERVICE_UNKNOWN",
};

export async function healthProbeCommand(argv: readonly string[], version: string): Promise<number> {
  const parsed = parseProbeArgs(argv);
  switch (parsed.kind) {
    case "help":
      process.stdout.write(`${PROBE_USAGE}\n`);
      return PROBE_EXIT.ok;
    case "version":
      process.stdout.write(`grpc-health-probe (function-runner ${version})\n`);
      return PROBE_EXIT.ok;
    case "invalid":
      say(`error: ${parsed.error}`);
      return PROBE_EXIT.invalidArguments;
    case "probe":
      return probe(parsed.flags);
  }
}

async function probe(f: ProbeFlags): Promise<number> {
  if (f.verbose) {
    say("parsed options:");
    say(`> addr=${f.addr} conn_timeout=${goDuration(f.connectTimeoutMs)} rpc_timeout=${goDuration(f.rpcTimeoutMs)}`);
    say(`> tls=${f.tls}`);
  }
  let creds: grpc.ChannelCredentials;
  try {
    creds = await credentials(f);
  } catch (e) {
    say(`failed to initialize tls credentials. error=${e instanceof Error ? e.message : String(e)}`);
    return PROBE_EXIT.invalidArguments;
  }
  const options: grpc.ChannelOptions = { "grpc.primary_user_agent": f.userAgent };
  if (f.tlsServerName !== "") options["grpc.ssl_target_name_override"] = f.tlsServerName;
  // 2 = gzip in grpc-js's CompressionAlgorithms.
  if (f.gzip) options["grpc.default_compression_algorithm"] = 2;
  const client = new HealthClient(probeTarget(f.addr), creds, options);
  try {
    if (f.verbose) say("establishing connection");
    const connectStart = performance.now();
    const connected = await new Promise<Error | undefined>((resolve) => client.waitForReady(Date.now() + f.connectTimeoutMs, (e) => resolve(e ?? undefined)));
    if (connected !== undefined) {
      say(`timeout: failed to connect service ${JSON.stringify(f.addr)} within ${goDuration(f.connectTimeoutMs)}`);
      return PROBE_EXIT.connectionFailure;
    }
    if (f.verbose) say(`connection established (took ${goDuration(Math.round(performance.now() - connectStart))})`);
    const metadata = new grpc.Metadata();
    for (const [k, v] of f.headers) metadata.add(k, v);
    const answer = await new Promise<{ err: grpc.ServiceError | null; res?: HealthCheckResponse }>((resolve) => {
      const check = (client as unknown as {
        Check(r: HealthCheckRequest, m: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: HealthCheckResponse) => void): void;
      }).Check;
      check.call(client, { service: f.service }, metadata, { deadline: Date.now() + f.rpcTimeoutMs }, (err, res) => resolve({ err, res }));
    });
    if (answer.err !== null) {
      const code = answer.err.code;
      if (code === grpc.status.UNIMPLEMENTED) say("error: this server does not implement the grpc health protocol (grpc.health.v1.Health)");
      else if (code === grpc.status.DEADLINE_EXCEEDED) say(`timeout: health rpc did not complete within ${goDuration(f.rpcTimeoutMs)}`);
      else say(`error: health rpc failed: rpc error: code = ${grpcCodeName(code)} desc = ${answer.err.details}`);
      return PROBE_EXIT.rpcFailure;
    }
    const status = answer.res?.status ?? ServingStatus.UNKNOWN;
    const name = SERVING_NAMES[status] ?? String(status);
    if (status !== ServingStatus.SERVING) {
      say(`service unhealthy (responded with ${JSON.stringify(name)})`);
      return PROBE_EXIT.unhealthy;
    }
    say(`status: ${name}`);
    return PROBE_EXIT.ok;
  } finally {
    client.close();
  }
}

/** Go's codes.Code names (e.g. NotFound) as grpc-health-probe prints them. */
function grpcCodeName(code: grpc.status): string {
  const name = grpc.status[code] ?? String(code);
  return name
    .toLowerCase()
    .split("_")
    .map((w) => (w === "" ? w : w[0]?.toUpperCase() + w.slice(1)))
    .join("");
}
