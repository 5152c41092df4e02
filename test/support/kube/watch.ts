// Watch streams: newline-delimited {"type","object"} events over a chunked
// 200 response, as the API server serves ?watch=true.
import type { ServerResponse } from "node:http";
import type { ListRequest, Registry } from "./registry.ts";
import { requireDef } from "./registry.ts";
import { gone } from "./status.ts";
import type { StoreEvent } from "./store.ts";
import type { KubeObject } from "./types.ts";

export interface WatchRequest extends ListRequest {
  resource: string;
  namespace: string | undefined;
  resourceVersion: string | undefined;
  timeoutSeconds: number | undefined;
  sendInitialEvents: boolean;
  allowWatchBookmarks: boolean;
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

  /** Serves a watch on `res`. Selector errors must have been checked by the caller. */
  serve(req: WatchRequest, res: ServerResponse, headers: Record<string, string>): void {
    const def = requireDef(req.resource);
    const registry = this.registry;
    res.writeHead(200, { ...headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    // The real server flushes the headers at once: clients return from the request before any event.
    res.flushHeaders();
    const send = (type: string, object: unknown): void => {
      res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const inScope = (obj: KubeObject): boolean =>
      req.namespace === undefined || !def.namespaced || obj.metadata.namespace === req.namespace;
    const matches = (obj: KubeObject | undefined): boolean =>
      obj !== undefined && inScope(obj) && registry.matches(req.resource, obj, req);

    const deliver = (e: StoreEvent): void => {
      if (e.resource !== req.resource) return;
      const now = matches(e.object);
      const before = e.type === "MODIFIED" ? matches(e.oldObject) : now;
      if (e.type === "MODIFIED") {
        if (now && before) send("MODIFIED", e.object);
        else if (now) send("ADDED", e.object);
        else if (before) send("DELETED", e.object);
        return;
      }
      if (now) send(e.type, e.object);
    };

    const rv = req.resourceVersion;
    if (rv === undefined || rv === "" || rv === "0" || req.sendInitialEvents) {
      // "Start at most recent": synthetic ADDED events for what exists now.
      const startFrom = registry.store.currentRevision();
      for (const obj of registry.select(req.resource, def.namespaced ? req.namespace : undefined, req)) {
        send("ADDED", obj);
      }
      if (req.sendInitialEvents && req.allowWatchBookmarks) {
        send("BOOKMARK", {
          kind: def.kind,
          apiVersion: def.apiVersion,
          metadata: { resourceVersion: String(startFrom), annotations: { "k8s.io/initial-events-end": "true" } },
        });
      }
    } else {
      const from = Number(rv);
      const backlog = Number.isFinite(from) ? registry.store.eventsSince(from) : "expired";
      if (backlog === "expired") {
        send("ERROR", gone(`too old resource version: ${rv} (${registry.store.oldestRevision()})`).status);
        res.end();
        return;
      }
      for (const e of backlog) deliver(e);
    }

    let closed = false;
    const unsubscribe = registry.store.subscribe(deliver);
    const close = (): void => {
      if (closed) return;
      closed = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
      this.streams.delete(close);
      if (!res.writableEnded) res.end();
    };
    this.streams.add(close);
    const timer =
      req.timeoutSeconds !== undefined && req.timeoutSeconds > 0
        ? setTimeout(close, req.timeoutSeconds * 1000)
        : undefined;
    res.on("close", close);
  }
}
