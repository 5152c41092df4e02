/**
 * Keeps ./function-config.ts's store equal to the FunctionConfigs of the pod
 * namespace: list, then watch from the list's resourceVersion (a real watch,
 * streamed through our undici transport: client-node's own Watch uses the
 * bare "undici" fetch, Bun's stub under Bun, see ./http.ts). A watch that
 * ends is resumed from the last resourceVersion seen; 410 Gone (history
 * expired) and errors start again with a list, after a backoff.
 *
 * As Porch's function-runner reconciler does (controllers/functionconfigs/
 * reconciler): the finalizer `config.porch.kpt.dev/functionconfig-function-runner`
 * is added to each object and removed when it is being deleted; after a
 * generation is applied, `status.functionRunnerObservedGeneration` is set
 * to it and `status.error` cleared (or set, when the spec cannot be applied),
 * by a merge patch of the status subresource that leaves the other
 * components' fields alone.
 *
 * Without the permission or the CRD, FunctionConfigs are simply not read:
 * one warning says why, the runtimes use flags and files, and the list is
 * retried quietly every `unavailableRetryMs` (so installing the CRD later
 * works without a restart).
 */
import { isKubeApiError, type KubeOperation } from "./errors.ts";
import type { KubeClient } from "./client.ts";
import type { Logger } from "../log.ts";
import {
  FUNCTION_CONFIG_API_VERSION,
  FUNCTION_RUNNER_FINALIZER,
  type FunctionConfig,
  FunctionConfigSchema,
  type FunctionConfigStore,
  functionConfigProblem,
} from "./function-config.ts";

export interface FunctionConfigWatchOptions {
  client: () => Promise<KubeClient | { unavailable: string }>;
  namespace: string;
  store: FunctionConfigStore;
  logger: Logger;
  /** Server-side watch timeout (default 300 s): the watch is then resumed. */
  watchTimeoutSeconds?: number;
  /** Backoff after an error (default 1 s, doubling to 30 s). */
  retryMs?: number;
  /** Quiet re-list when FunctionConfigs cannot be read (default 5 min). */
  unavailableRetryMs?: number;
  /** Called after every change of the store (tests, metrics). */
  onChange?: () => void;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class FunctionConfigWatch {
  private readonly stopping = new AbortController();
  private firstSync: Promise<void> | undefined;
  private resolveFirst: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private warnedUnavailable = false;
  /** Generation last applied (status written or attempted) per name. */
  private readonly applied = new Map<string, number>();
  private readonly goExecutorNoted = new Set<string>();
  /** Whether writes (finalizer, status) were refused: said once, then not tried again. */
  private writesForbidden = false;

  constructor(private readonly opts: FunctionConfigWatchOptions) {}

  private get path(): string {
    return `/apis/${FUNCTION_CONFIG_API_VERSION}/namespaces/${encodeURIComponent(this.opts.namespace)}/functionconfigs`;
  }

  private op(verb: KubeOperation["verb"], name?: string, resource = "functionconfigs"): KubeOperation {
    return { verb, resource, namespace: this.opts.namespace, ...(name === undefined ? {} : { name }) };
  }

  /** Starts the loop; resolves after the first list (successful or not), so warm-up sees the configs. */
  start(): Promise<void> {
    if (this.firstSync === undefined) {
      this.firstSync = new Promise((resolve) => {
        this.resolveFirst = resolve;
      });
      this.loop = this.run();
    }
    return this.firstSync;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.resolveFirst?.();
    await this.loop;
  }

  private synced(): void {
    this.resolveFirst?.();
    this.resolveFirst = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping.signal.aborted) return resolve();
      const t = setTimeout(resolve, ms);
      t.unref?.();
      this.stopping.signal.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async run(): Promise<void> {
    const { logger } = this.opts;
    const client = await this.opts.client();
    if ("unavailable" in client) {
      this.synced();
      return;
    }
    const baseRetry = this.opts.retryMs ?? 1_000;
    let retry = baseRetry;
    while (!this.stopping.signal.aborted) {
      let rv: string;
      try {
        rv = await this.list(client);
        this.warnedUnavailable = false;
        retry = baseRetry;
      } catch (e) {
        this.synced();
        if (isKubeApiError(e) && (e.reason === "Forbidden" || e.reason === "NotFound")) {
          if (!this.warnedUnavailable) {
            logger.warn("FunctionConfigs are not read: runtimes use the flags and files only", {
              namespace: this.opts.namespace,
              why: e.reason === "NotFound" ? "the FunctionConfig CRD (config.porch.kpt.dev/v1alpha1) is not installed" : e.message,
            });
            this.warnedUnavailable = true;
          }
          if (this.opts.store.size > 0) {
            this.opts.store.replace([]);
            this.opts.onChange?.();
          }
          await this.sleep(this.opts.unavailableRetryMs ?? 5 * 60_000);
        } else {
          logger.warn("cannot list FunctionConfigs; retrying", { namespace: this.opts.namespace, error: errorText(e), retryMs: retry });
          await this.sleep(retry);
          retry = Math.min(retry * 2, 30_000);
        }
        continue;
      }
      this.synced();
      // Watch until the history expires or something fails; then list again.
      while (!this.stopping.signal.aborted) {
        let gone = false;
        try {
          await client.watch(
            this.op("watch"),
            {
              path: this.path,
              query: { resourceVersion: rv, allowWatchBookmarks: "true", timeoutSeconds: String(this.opts.watchTimeoutSeconds ?? 300) },
              signal: this.stopping.signal,
            },
            (event) => {
              const next = this.onEvent(client, event);
              if (next === "gone") gone = true;
              else if (next !== undefined) rv = next;
            },
          );
        } catch (e) {
          logger.warn("FunctionConfig watch failed; listing again", { namespace: this.opts.namespace, error: errorText(e), retryMs: retry });
          await this.sleep(retry);
          retry = Math.min(retry * 2, 30_000);
          break;
        }
        if (gone) break;
      }
    }
  }

  /** Lists, replaces the store, reconciles every object; answers the list's resourceVersion. */
  private async list(client: KubeClient): Promise<string> {
    const answer = await client.json(this.op("list"), { method: "GET", path: this.path });
    const items = typeof answer === "object" && answer !== null && "items" in answer && Array.isArray(answer.items) ? answer.items : [];
    const meta = typeof answer === "object" && answer !== null && "metadata" in answer ? answer.metadata : undefined;
    const rv = typeof meta === "object" && meta !== null && "resourceVersion" in meta && typeof meta.resourceVersion === "string" ? meta.resourceVersion : "";
    const parsed: FunctionConfig[] = [];
    for (const item of items) {
      const fc = this.parse(item);
      if (fc !== undefined) parsed.push(fc);
    }
    const live = parsed.filter((fc) => fc.metadata.deletionTimestamp == null);
    this.opts.store.replace(live);
    for (const name of [...this.applied.keys()]) if (!live.some((fc) => fc.metadata.name === name)) this.applied.delete(name);
    this.opts.onChange?.();
    this.opts.logger.info("FunctionConfigs loaded", { namespace: this.opts.namespace, count: live.length });
    for (const fc of parsed) void this.reconcile(client, fc);
    return rv;
  }

  private parse(item: unknown): FunctionConfig | undefined {
    const r = FunctionConfigSchema.safeParse(item);
    if (r.success) return r.data;
    const name = typeof item === "object" && item !== null && "metadata" in item ? JSON.stringify(item.metadata).slice(0, 200) : "?";
    this.opts.logger.warn("ignoring a FunctionConfig this runner cannot read", { object: name, error: r.error.issues[0]?.message ?? "invalid" });
    return undefined;
  }

  /** One watch event; answers the resourceVersion to resume from, or "gone" (list again). */
  private onEvent(client: KubeClient, event: unknown): string | "gone" | undefined {
    if (typeof event !== "object" || event === null || !("type" in event) || !("object" in event)) return undefined;
    const { type, object } = event;
    if (type === "ERROR") {
      const code = typeof object === "object" && object !== null && "code" in object ? object.code : undefined;
      if (code !== 410) this.opts.logger.warn("FunctionConfig watch error; listing again", { status: JSON.stringify(object).slice(0, 300) });
      return "gone";
    }
    const meta = typeof object === "object" && object !== null && "metadata" in object ? object.metadata : undefined;
    const rv = typeof meta === "object" && meta !== null && "resourceVersion" in meta && typeof meta.resourceVersion === "string" ? meta.resourceVersion : undefined;
    if (type === "BOOKMARK") return rv;
    const fc = this.parse(object);
    if (fc === undefined) return rv;
    const name = fc.metadata.name;
    if (type === "DELETED" || fc.metadata.deletionTimestamp != null) {
      if (this.opts.store.remove(name)) {
        this.opts.logger.info("FunctionConfig removed", { name });
        this.opts.onChange?.();
      }
      this.applied.delete(name);
      if (type !== "DELETED") void this.reconcile(client, fc);
      return rv;
    }
    const before = this.opts.store.get(name);
    this.opts.store.upsert(fc);
    if (before === undefined || before.metadata.generation !== fc.metadata.generation) {
      this.opts.logger.info(before === undefined ? "FunctionConfig added" : "FunctionConfig changed", { name, generation: fc.metadata.generation });
      this.opts.onChange?.();
    }
    void this.reconcile(client, fc);
    return rv;
  }

  /** Finalizer and status, as Porch's reconciler; failures are logged, the next event retries. */
  private async reconcile(client: KubeClient, fc: FunctionConfig): Promise<void> {
    const name = fc.metadata.name;
    const finalizers = fc.metadata.finalizers ?? [];
    const ours = finalizers.includes(FUNCTION_RUNNER_FINALIZER);
    try {
      if (fc.metadata.deletionTimestamp != null) {
        if (ours && !this.writesForbidden) await this.patchFinalizers(client, fc, finalizers.filter((f) => f !== FUNCTION_RUNNER_FINALIZER));
        return;
      }
      this.noteGoExecutor(fc);
      const generation = fc.metadata.generation ?? 0;
      if (this.writesForbidden) return;
      if (!ours) await this.patchFinalizers(client, fc, [...finalizers, FUNCTION_RUNNER_FINALIZER]);
      const problem = functionConfigProblem(fc);
      const status = fc.status ?? {};
      const upToDate = problem === undefined ? status.functionRunnerObservedGeneration === generation && (status.error ?? "") === "" : status.error === problem;
      if (upToDate || this.applied.get(name) === generation) return;
      this.applied.set(name, generation);
      if (problem !== undefined) this.opts.logger.warn("FunctionConfig cannot be applied", { name, error: problem });
      // Merge patch: the server's and the controller's observed generations stay as they are.
      const body = problem === undefined ? { status: { functionRunnerObservedGeneration: generation, error: null } } : { status: { error: problem } };
      await client.json(this.op("patch", name, "functionconfigs/status"), {
        method: "PATCH",
        path: `${this.path}/${encodeURIComponent(name)}/status`,
        body,
        contentType: "application/merge-patch+json",
      });
    } catch (e) {
      this.applied.delete(name);
      if (isKubeApiError(e) && e.reason === "Forbidden") {
        this.writesForbidden = true;
        this.opts.logger.warn("FunctionConfigs are read but their finalizer and status are not written", { error: e.message });
        return;
      }
      if (isKubeApiError(e) && (e.reason === "NotFound" || e.reason === "Conflict")) return;
      this.opts.logger.warn("cannot update a FunctionConfig's finalizer or status", { name, error: errorText(e) });
    }
  }

  private async patchFinalizers(client: KubeClient, fc: FunctionConfig, finalizers: string[]): Promise<void> {
    const name = fc.metadata.name;
    // resourceVersion in a merge patch: a concurrent change answers 409, and its watch event retries.
    await client.json(this.op("patch", name), {
      method: "PATCH",
      path: `${this.path}/${encodeURIComponent(name)}`,
      body: { metadata: { finalizers, ...(fc.metadata.resourceVersion === undefined ? {} : { resourceVersion: fc.metadata.resourceVersion }) } },
      contentType: "application/merge-patch+json",
    });
  }

  private noteGoExecutor(fc: FunctionConfig): void {
    const go = fc.spec.goExecutor;
    if (go === undefined || go === null) return;
    const key = `${fc.metadata.name}@${fc.metadata.generation ?? 0}`;
    if (this.goExecutorNoted.has(key)) return;
    this.goExecutorNoted.add(key);
    this.opts.logger.info("FunctionConfig goExecutor is not run here (no Go executor in this runner): those images go to the next runtime", {
      name: fc.metadata.name,
      id: go.id ?? fc.spec.image,
      tags: go.tags ?? [],
    });
  }
}
