/**
 * The one place that knows which runtime serves HTTP: Bun.serve under Bun
 * (and in the compiled binary), Deno.serve under Deno. Everything else sees
 * a web-standard fetch handler.
 */
export type FetchHandler = (req: Request) => Response | Promise<Response>;

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

export function listen(handler: FetchHandler, opts: { port: number; hostname?: string; maxRequestBodySize?: number }): Listening {
  const hostname = opts.hostname ?? "0.0.0.0";
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
