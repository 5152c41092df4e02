/**
 * Pull-secret sync (docs/kubernetes.md, "The pull Secret"): the Secret
 * `--registry-auth-secret-name` (kubernetes.io/dockerconfigjson) in
 * `--pod-namespace` holds exactly the bytes of the mounted Docker config
 * (`--registry-auth-secret-path`) under `.dockerconfigjson`.
 *
 * - Create when absent, update when the bytes differ, no write when equal.
 * - Replicas racing converge: AlreadyExists on create and 409 Conflict on
 *   update (every update carries the resourceVersion it read) → re-read and
 *   go again, a bounded number of times. Upstream ignores both and races.
 * - Cheap on the hot path: after a successful sync the file's identity
 *   (dev, inode, size, mtime, ctime) is remembered; while it is unchanged no
 *   file read and no API call is made, except a re-check every
 *   `recheckAfterMs` that heals a Secret deleted behind the runner's back.
 * - Concurrent callers share one sync in flight.
 * - The content is never logged nor put in an error; failures are
 *   SECRET_SYNC_FAILED (with the KubeApiError, naming verb and resource, as cause).
 */
import { createHash } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import { RunnerError, isRunnerError } from "../errors.ts";
import { WatchedFile } from "../files/watched-file.ts";
import type { Logger } from "../log.ts";
import type { KubeClient } from "./client.ts";
import { type KubeOperation, isAlreadyExists, isConflict, isNotFound } from "./errors.ts";
import { type PullSecretPlan, planPullSecret } from "./pull-secret-plan.ts";

/** The API's limit on a Secret's data; a larger file cannot become one. */
const MAX_SECRET_BYTES = 1 << 20;

export type SecretSyncOutcome = "created" | "updated" | "unchanged" | "skipped";

/** What `podspec` reports: the action the runner would take, without taking it. */
export type SecretIntent = "would create" | "would update" | "up to date" | `cannot: ${string}` | `unknown: ${string}`;

export interface PullSecretSyncOptions {
  /** The client, fetched lazily (loading client-node is deferred until a sync is needed). */
  client: () => Promise<KubeClient>;
  namespace: string;
  name: string;
  /** The mounted Docker config. */
  path: string;
  /** Its reader, when another part reads the same file (the custom-auth credentials); default: its own. */
  file?: WatchedFile;
  logger?: Logger;
  /** secretSyncs counter: outcome created|updated|unchanged|conflict|failed. */
  count?: (outcome: "created" | "updated" | "unchanged" | "conflict" | "failed") => void;
  /** Read–decide–write rounds before giving up on a racing writer (default 5). */
  maxAttempts?: number;
  /** Re-check the cluster this often even when the file is unchanged (default 5 min). */
  recheckAfterMs?: number;
  now?: () => number;
}

interface FileState {
  stamp: string;
  bytes: Uint8Array;
  hash: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class PullSecretSync {
  private readonly source: WatchedFile;
  private file: FileState | undefined;
  private synced: { stamp: string; hash: string; at: number } | undefined;
  private inflight: Promise<SecretSyncOutcome> | undefined;
  private readonly maxAttempts: number;
  private readonly recheckAfterMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: PullSecretSyncOptions) {
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.recheckAfterMs = opts.recheckAfterMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
    // A shared reader serves only when it reads the same path.
    this.source = opts.file?.path === opts.path ? opts.file : new WatchedFile(opts.path, MAX_SECRET_BYTES);
  }

  private get where(): string {
    return `pull Secret ${this.opts.namespace}/${this.opts.name}`;
  }

  private failed(message: string, cause?: unknown, retryable: boolean = isRunnerError(cause) ? cause.retryable : true): RunnerError {
    return new RunnerError("SECRET_SYNC_FAILED", `cannot ensure the ${this.where} from ${this.opts.path}: ${message}`, { cause, retryable });
  }

  /** The file's identity and (re-read only when it changed) bytes. */
  private async readFile(): Promise<FileState> {
    const got = await this.source.read();
    if (got.kind === "open-failed") {
      throw this.failed(got.code === "ENOENT" ? "the file does not exist" : `the file cannot be read (${got.code})`, got.error, false);
    }
    if (this.file?.stamp === got.stamp) return this.file;
    if (got.kind === "not-a-file") throw this.failed("it is not a regular file", undefined, false);
    if (got.kind === "too-large" || got.size > MAX_SECRET_BYTES) {
      throw this.failed(`it is larger than a Secret may be (${MAX_SECRET_BYTES} bytes)`, undefined, false);
    }
    const bytes = new Uint8Array(got.bytes);
    try {
      JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      // The API would refuse it (dockerconfigjson must be JSON); the parser's message may quote the content.
      throw this.failed("it is not valid JSON", undefined, false);
    }
    this.file = { stamp: got.stamp, bytes, hash: createHash("sha256").update(bytes).digest("hex") };
    return this.file;
  }

  /** Whether the last successful sync still covers the file as it is now (no read, no API call). */
  private async fresh(): Promise<FileState | true> {
    const file = await this.readFile();
    const s = this.synced;
    if (s !== undefined && this.now() - s.at < this.recheckAfterMs && (s.stamp === file.stamp || s.hash === file.hash)) {
      // Same bytes under a new identity (a remount): nothing to write.
      s.stamp = file.stamp;
      return true;
    }
    return file;
  }

  /** Makes the Secret hold the file's bytes. Writes only when needed; shares a sync in flight. */
  ensure(): Promise<SecretSyncOutcome> {
    if (this.inflight !== undefined) return this.inflight;
    const p = this.run().finally(() => {
      this.inflight = undefined;
    });
    this.inflight = p;
    return p;
  }

  private op(verb: KubeOperation["verb"]): KubeOperation {
    return { verb, resource: "secrets", namespace: this.opts.namespace, name: this.opts.name };
  }

  private read(client: KubeClient): Promise<V1Secret | undefined> {
    return client.find(this.op("get"), (core) => core.readNamespacedSecret({ name: this.opts.name, namespace: this.opts.namespace }));
  }

  private async run(): Promise<SecretSyncOutcome> {
    try {
      return await this.sync();
    } catch (e) {
      this.opts.count?.("failed");
      if (isRunnerError(e) && e.code === "SECRET_SYNC_FAILED") throw e;
      throw this.failed(e instanceof Error ? e.message : String(e), e);
    }
  }

  private async sync(): Promise<SecretSyncOutcome> {
    const state = await this.fresh();
    if (state === true) return "skipped";
    const client = await this.opts.client();
    const target = { namespace: this.opts.namespace, name: this.opts.name, bytes: state.bytes };
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const plan = planPullSecret(await this.read(client), target);
      const outcome = await this.apply(client, plan);
      if (outcome !== "retry") {
        this.synced = { stamp: state.stamp, hash: state.hash, at: this.now() };
        this.opts.count?.(outcome);
        if (outcome !== "unchanged") {
          this.opts.logger?.info(`pull secret ${outcome}`, { namespace: this.opts.namespace, secret: this.opts.name, source: this.opts.path });
        }
        return outcome;
      }
      this.opts.count?.("conflict");
      // Another replica wrote in between: re-read after a short, jittered pause so racers fall out of step.
      await sleep(5 + Math.floor(Math.random() * 20 * attempt));
    }
    throw this.failed(`other writers kept changing it (${this.maxAttempts} attempts)`);
  }

  private async apply(client: KubeClient, plan: PullSecretPlan): Promise<"created" | "updated" | "unchanged" | "retry"> {
    const { namespace, name } = this.opts;
    switch (plan.action) {
      case "unchanged":
        return "unchanged";
      case "incompatible":
        throw this.failed(plan.why, undefined, false);
      case "create":
        try {
          await client.call(this.op("create"), (core) => core.createNamespacedSecret({ namespace, body: plan.body }));
          return "created";
        } catch (e) {
          if (isAlreadyExists(e)) return "retry";
          throw e;
        }
      case "update":
        try {
          await client.call(this.op("update"), (core) => core.replaceNamespacedSecret({ name, namespace, body: plan.body }));
          return "updated";
        } catch (e) {
          // Conflict: someone wrote since our read. NotFound: someone deleted it; create next round.
          if (isConflict(e) || isNotFound(e)) return "retry";
          throw e;
        }
    }
  }

  /** The action `ensure()` would take now, without writing (for `podspec`). */
  async intent(): Promise<SecretIntent> {
    let file: FileState;
    try {
      file = await this.readFile();
    } catch (e) {
      return `cannot: ${e instanceof Error ? e.message : String(e)}`;
    }
    let client: KubeClient;
    try {
      client = await this.opts.client();
    } catch (e) {
      return `unknown: ${e instanceof Error ? e.message : String(e)}`;
    }
    try {
      const plan = planPullSecret(await this.read(client), { namespace: this.opts.namespace, name: this.opts.name, bytes: file.bytes });
      switch (plan.action) {
        case "create":
          return "would create";
        case "update":
          return "would update";
        case "unchanged":
          return "up to date";
        case "incompatible":
          return `cannot: ${plan.why}`;
      }
    } catch (e) {
      return `unknown: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
}
