/**
 * The one place that knows which runtime serves HTTP: Bun.serve under Bun
 * (and in the compiled binary), Deno.serve under Deno. Everything else sees
 * a web-standard fetch handler.
 */
import { RunnerError } from "../errors.ts";

export type FetchHandler = (req: Request) => Response | Promise<Response>;

const hostPort = (hostname: string, port: number): string => (hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`);

/** True for "address already in use" however the runtime words it (Bun, Deno, grpc-js). */
export function isAddressInUse(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === "EADDRINUSE" || (e as { name?: unknown } | null)?.name === "AddrInUse") return true;
  return e instanceof Error && /EADDRINUSE|address already in use|Is port \d+ in use/i.test(e.message);
}

/** A listen failure as a RunnerError naming the address and the flag that chose it. */
export function listenError(e: unknown, hostname: string, port: number, what: string): RunnerError {
  const where = hostPort(hostname, port);
  if (isAddressInUse(e)) return new RunnerError("ADDRESS_IN_USE", `cannot listen on ${where} (${what}): the address is already in use`, { cause: e });
  return new RunnerError("INTERNAL", `cannot listen on ${where} (${what}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

export interface Listening {
  port: number;
  hostname: string;
  runtime: "bun" | "deno";
  /** Stops accepting; resolves when in-flight requests are done. */
  stop(): Promise<void>;
}

interface DenoServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
  addr: { port: number; hostname: string };
}
interface DenoLike {
  serve(options: { port: number; hostname: string; onListen?: () => void }, handler: FetchHandler): DenoServer;
}
/** The part of Bun's global used here, reached through globalThis so `deno check` needs no Bun types. */
interface BunLike {
  serve(options: { port: number; hostname: string; fetch: FetchHandler; maxRequestBodySize?: number }): {
    port?: number;
    stop(closeActiveConnections?: boolean): Promise<void>;
  };
}

export function listen(handler: FetchHandler, opts: { port: number; hostname?: string; maxRequestBodySize?: number; what?: string }): Listening {
  const hostname = opts.hostname ?? "0.0.0.0";
  try {
    return serve(handler, hostname, opts);
  } catch (e) {
    throw listenError(e, hostname, opts.port, opts.what ?? "HTTP");
  }
}

function serve(handler: FetchHandler, hostname: string, opts: { port: number; maxRequestBodySize?: number }): Listening {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  const bun = (globalThis as { Bun?: BunLike }).Bun;
  if (bun) {
    const server = bun.serve({ port: opts.port, hostname, fetch: handler, maxRequestBodySize: opts.maxRequestBodySize });
    return { port: server.port ?? opts.port, hostname, runtime: "bun", stop: () => server.stop(false) };
  }
  if (deno) {
    const server = deno.serve({ port: opts.port, hostname, onListen: () => {} }, handler);
    return { port: server.addr.port, hostname, runtime: "deno", stop: () => server.shutdown() };
  }
  throw new Error("no supported HTTP runtime: run under Bun or Deno");
}
