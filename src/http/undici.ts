/**
 * The two parts of undici the registry client uses, Agent and request,
 * imported from undici's own modules rather than its index: the index also
 * loads fetch, WebSocket, caches and mocks, which are never used here. Same
 * package, same code paths: `request` is undici's `Dispatcher#request`, given
 * the origin and path the index's wrapper would give it.
 *
 * Loaded on the first request, not at start-up: with node:http, zlib and
 * crypto behind them they are the largest module the service's start would
 * load (docs/benchmarks.md), and a service resolves nothing until asked.
 */
import type * as Undici from "undici-real";
import type { Dispatcher } from "undici-real";

type RequestImpl = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
interface Loaded {
  AgentImpl: typeof Undici.Agent;
  requestImpl: RequestImpl;
}

let loaded: Loaded | undefined;
let loading: Promise<Loaded> | undefined;

// tsc takes these modules' types from undici-modules.d.ts; `deno check` infers them from the JS
// (it does not see that file): the casts give both the index's declared types.
function load(): Promise<Loaded> {
  loading ??= Promise.all([import("undici-real/lib/dispatcher/agent.js"), import("undici-real/lib/api/api-request.js")]).then(([agent, api]) => {
    loaded = { AgentImpl: agent.default as unknown as typeof Undici.Agent, requestImpl: api.default as unknown as RequestImpl };
    return loaded;
  });
  return loading;
}

/** undici's Agent (keep-alive pools per origin), built when its first request goes out. */
export class Agent {
  private pool: Undici.Agent | undefined;
  private closed = false;

  constructor(private readonly options: Undici.Agent.Options) {}

  /** The pool itself (undici is loaded by then). One closed before any request answers like a closed undici Agent. */
  dispatcher(l: Loaded): Dispatcher {
    if (this.pool === undefined) {
      this.pool = new l.AgentImpl(this.options);
      // Never used, so nothing to finish: destroyed at once, as a closed undici Agent is by now.
      if (this.closed) void this.pool.destroy();
    }
    return this.pool;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.close();
  }
}

/** Ours, or any undici dispatcher (tests bring their own). */
export type HttpDispatcher = Dispatcher | Agent;

export interface RequestOptions {
  method: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  dispatcher: HttpDispatcher;
  signal?: AbortSignal;
}

export async function request(url: string, opts: RequestOptions): Promise<Dispatcher.ResponseData> {
  const l = loaded ?? (await load());
  const u = new URL(url);
  const { dispatcher, ...rest } = opts;
  const d = dispatcher instanceof Agent ? dispatcher.dispatcher(l) : dispatcher;
  return l.requestImpl.call(d, { ...rest, origin: u.origin, path: `${u.pathname}${u.search}` });
}
