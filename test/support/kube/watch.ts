// Watch streams: newline-delimited {"type","object"} events over a chunked
// 200 answer, as the API server serves ?watch=true. The runner watches its
// FunctionConfigs from a list's resourceVersion and lists again on a 410.
import type { ServerResponse } from "node:http";
import type { Registry } from "./registry.ts";
import { matchesLabels, parseLabelSelector } from "./selectors.ts";
import { gone } from "./status.ts";
import type { StoreEvent } from "./store.ts";
import type { KubeObject } from "./types.ts";

export interface WatchRequest {
  resource: string;
  namespace: string | undefined;
  labelSelector: string | undefined;
  resourceVersion: string | undefined;
  timeoutSeconds: number | undefined;
}

export class WatchHub {
  private readonly streams = new Set<() => void>();

  constructor(private readonly registry: Registry) {}

  /** Ends every open watch (server shutdown). */
  closeAll(): void {
    for (const close of [...this.streams]) close();
  }

  get openCount(): number {
    return this.streams.size;
  }

  /** Serves a watch on `res`; the selector was checked by the caller. */
  serve(req: WatchRequest, res: ServerResponse, headers: Record<string, string>): void {
    const { store } = this.registry;
    const selector = parseLabelSelector(req.labelSelector ?? "");
    res.writeHead(200, { ...headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    // The real server flushes the headers at once: clients return from the request before any event.
    res.flushHeaders();
    const send = (type: string, object: unknown): void => void res.write(`${JSON.stringify({ type, object })}\n`);
    const matches = (obj: KubeObject | undefined): boolean =>
      obj !== undefined && (req.namespace === undefined || obj.metadata.namespace === req.namespace) && matchesLabels(selector, obj.metadata.labels);
    const deliver = (e: StoreEvent): void => {
      if (e.resource !== req.resource) return;
      const now = matches(e.object);
      const before = e.type === "MODIFIED" ? matches(e.oldObject) : now;
      // An object that starts or stops matching is ADDED or DELETED for this watch.
      if (now && before) send(e.type, e.object);
      else if (now) send("ADDED", e.object);
      else if (before) send("DELETED", e.object);
    };

    const rv = req.resourceVersion;
    if (rv === undefined || rv === "" || rv === "0") {
      // "Start at most recent": synthetic ADDED events for what exists now.
      for (const obj of this.registry.select(req.resource, req.namespace, req.labelSelector)) send("ADDED", obj);
    } else {
      const backlog = /^\d+$/.test(rv) ? store.eventsSince(Number(rv)) : "expired";
      if (backlog === "expired") {
        send("ERROR", gone(`too old resource version: ${rv} (${store.oldestRevision()})`).status);
        res.end();
        return;
      }
      for (const e of backlog) deliver(e);
    }

    const unsubscribe = store.subscribe(deliver);
    const close = (): void => {
      if (!this.streams.delete(close)) return;
      unsubscribe();
      clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    this.streams.add(close);
    const timer = req.timeoutSeconds ? setTimeout(close, req.timeoutSeconds * 1000) : undefined;
    res.on("close", close);
  }
}
