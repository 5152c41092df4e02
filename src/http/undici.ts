/**
 * The two parts of undici the registry client uses, Agent and request,
 * imported from undici's own modules rather than its index: the index also
 * loads fetch, WebSocket, caches and mocks, which cost start-up time (every
 * `resolve` process and the service pay it; docs/benchmarks.md) and are never
 * used here. Same package, same code paths: `request` is undici's
 * `Dispatcher#request`, given the origin and path the index's wrapper would give it.
 */
import type * as Undici from "undici-real";
import type { Dispatcher } from "undici-real";
import AgentImpl from "undici-real/lib/dispatcher/agent.js";
import dispatcherRequest from "undici-real/lib/api/api-request.js";

// tsc takes these modules' types from undici-modules.d.ts; `deno check` infers them from the JS
// (it does not see that file): the casts give both the index's declared types.
export const Agent = AgentImpl as unknown as typeof Undici.Agent;
export type Agent = Undici.Agent;
const requestImpl = dispatcherRequest as unknown as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

export interface RequestOptions {
  method: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  dispatcher: Dispatcher;
  signal?: AbortSignal;
}

export function request(url: string, opts: RequestOptions): Promise<Dispatcher.ResponseData> {
  const u = new URL(url);
  const { dispatcher, ...rest } = opts;
  return requestImpl.call(dispatcher, { ...rest, origin: u.origin, path: `${u.pathname}${u.search}` });
}
