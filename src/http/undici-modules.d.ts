// Types for the undici modules src/http/undici.ts imports directly (undici ships types for its index only).
declare module "undici-real/lib/dispatcher/agent.js" {
  import type { Agent } from "undici-real";
  const AgentImpl: typeof Agent;
  export default AgentImpl;
}
declare module "undici-real/lib/api/api-request.js" {
  import type { Dispatcher } from "undici-real";
  const request: (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
  export default request;
}
