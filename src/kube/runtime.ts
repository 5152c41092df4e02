/**
 * The runner's Kubernetes part (`runner.kube`): where the connection comes
 * from, the lazily created client, the pull-secret sync, the service
 * account's pull secrets for the default keychain, and the FunctionConfigs.
 * The pod planner (./pod-planner.ts) is built on it by the composition root.
 *
 * Cheap to construct: locating the configuration is a few `stat`s, and
 * @kubernetes/client-node (./client.ts, ~160 ms to load) is imported only
 * when a call is actually needed, so `resolve` of a default-registry image
 * never loads it.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import process from "node:process";
import type { AuthChoice } from "../auth/selector.ts";
import { RunnerError } from "../errors.ts";
import type { WatchedFile } from "../files/watched-file.ts";
import type { ImageReference } from "../image/reference.ts";
import type { Logger } from "../log.ts";
import type { KubeClient, KubeClientOptions } from "./client.ts";
import { FunctionConfigStore } from "./function-config.ts";
import { FunctionConfigWatch, type FunctionConfigWatchOptions } from "./function-config-watch.ts";
import { wrapperServerImageFrom } from "./pod-planner.ts";
import { PullSecretSync } from "./pull-secret.ts";
import { ServiceAccountPullSecretSource } from "./service-account.ts";
import { type KubeSource, describeSource, locateKubeconfig } from "./source.ts";

export interface KubeStatus {
  /** Whether a Kubernetes configuration was found and loaded (no API call is made to decide this). */
  available: boolean;
  /** Where the configuration came from, or why there is none: what /readyz-style status shows. */
  reason: string;
  /** The API server, once the configuration is loaded. */
  server?: string;
}

/** The Kubernetes part's settings from the flags (the composition root maps them). */
export interface KubeSettings {
  /** `--kubeconfig`. */
  kubeconfig?: string;
  /** `--pod-namespace`: function pods, their pull Secret and the FunctionConfigs live there. */
  namespace: string;
  /** `--registry-auth-secret-name` and `--registry-auth-secret-path`: the pull Secret and the file it is synced from. */
  pullSecret: { name: string; path: string };
  /** `--default-image-prefix` and `--functions`, as FunctionConfigs are read. */
  functionConfigs: ConstructorParameters<typeof FunctionConfigStore>[0];
}

/** Environment and test seams (not flags). */
export interface KubeRuntimeOptions {
  /** Environment for KUBERNETES_SERVICE_HOST/_PORT, KUBECONFIG, WRAPPER_SERVER_IMAGE (default process.env). */
  env?: Record<string, string | undefined>;
  homeDir?: string;
  /** Where the service account token, CA and namespace are mounted (tests point this at a temp dir). */
  serviceAccountDir?: string;
  client?: KubeClientOptions;
  pullSecret?: { maxAttempts?: number; recheckAfterMs?: number };
  /** The reader of `--registry-auth-secret-path` when the custom-auth credentials share it (default: the sync's own). */
  authSecretFile?: WatchedFile;
  serviceAccountTtlMs?: number;
  /** Overrides WRAPPER_SERVER_IMAGE. */
  wrapperServerImage?: string;
  /** How long the base PodTemplate is trusted before it is read again (default 10 s). */
  templateTtlMs?: number;
  /** Tests: FunctionConfig watch tuning. */
  functionConfigWatch?: Pick<FunctionConfigWatchOptions, "retryMs" | "unavailableRetryMs" | "watchTimeoutSeconds" | "onChange"> & {
    /** How long start-up waits for the first FunctionConfig list (default 10 s). */
    firstSyncTimeoutMs?: number;
  };
}

/** Porch's namespace for the function runner, where `--function-pod-template` lives outside a cluster (as Porch). */
export const DEFAULT_RUNNER_NAMESPACE = "porch-system";

type Loaded = KubeClient | { unavailable: string };

const safeHome = (): string | undefined => {
  try {
    return homedir();
  } catch {
    return undefined;
  }
};

export class KubeRuntime {
  readonly source: KubeSource;
  readonly pullSecret: PullSecretSync;
  readonly serviceAccountPullSecrets: ServiceAccountPullSecretSource;
  readonly wrapperServerImage: string;
  /** Porch HEAD's FunctionConfigs of the pod namespace (kept current by `watchFunctionConfigs`). */
  readonly functionConfigs: FunctionConfigStore;
  private functionConfigWatch: FunctionConfigWatch | undefined;
  private loading: Promise<Loaded> | undefined;
  private loaded: Loaded | undefined;

  constructor(
    private readonly settings: KubeSettings,
    private readonly logger: Logger,
    private readonly opts: KubeRuntimeOptions = {},
    count?: (outcome: "created" | "updated" | "unchanged" | "conflict" | "failed") => void,
  ) {
    const env = opts.env ?? process.env;
    this.source = locateKubeconfig({
      flag: settings.kubeconfig,
      env,
      homeDir: opts.homeDir ?? safeHome(),
      serviceAccountDir: opts.serviceAccountDir,
      exists: existsSync,
    });
    this.wrapperServerImage = opts.wrapperServerImage ?? wrapperServerImageFrom(env);
    this.functionConfigs = new FunctionConfigStore(settings.functionConfigs);
    this.pullSecret = new PullSecretSync({
      client: () => this.client(),
      namespace: settings.namespace,
      name: settings.pullSecret.name,
      path: settings.pullSecret.path,
      ...(opts.authSecretFile === undefined ? {} : { file: opts.authSecretFile }),
      logger,
      ...(count === undefined ? {} : { count }),
      ...opts.pullSecret,
    });
    this.serviceAccountPullSecrets = new ServiceAccountPullSecretSource({
      // Only in a cluster does the runner have a ServiceAccount of its own.
      client: async () => {
        if (this.source.kind !== "in-cluster") return undefined;
        const c = await this.tryClient();
        return "unavailable" in c ? undefined : c;
      },
      logger,
      ...(opts.serviceAccountTtlMs === undefined ? {} : { ttlMs: opts.serviceAccountTtlMs }),
    });
  }

  status(): KubeStatus {
    const l = this.loaded;
    if (this.source.kind === "none") return { available: false, reason: this.source.reason };
    if (l !== undefined && "unavailable" in l) return { available: false, reason: l.unavailable };
    const from = `configured from ${describeSource(this.source)}`;
    return l === undefined ? { available: true, reason: from } : { available: true, reason: from, server: l.server };
  }

  /** Loads the configuration (no API call) and answers the status. */
  async ready(): Promise<KubeStatus> {
    await this.tryClient();
    return this.status();
  }

  /** The client, or why there is none. Loaded once; a broken configuration is reported, not retried. */
  tryClient(): Promise<Loaded> {
    if (this.loading === undefined) {
      this.loading = this.load().then((l) => (this.loaded = l));
    }
    return this.loading;
  }

  private async load(): Promise<Loaded> {
    if (this.source.kind === "none") return { unavailable: this.source.reason };
    try {
      const { createKubeClient } = await import("./client.ts");
      const client = await createKubeClient(this.source, { logger: this.logger, ...this.opts.client });
      this.logger.info("kubernetes client configured", { source: describeSource(this.source), server: client.server });
      return client;
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      this.logger.warn("kubernetes is not available: the pod runtime is off", { reason });
      return { unavailable: reason };
    }
  }

  /** The client; KUBE_UNAVAILABLE (naming why) when there is none. */
  async client(): Promise<KubeClient> {
    const c = await this.tryClient();
    if ("unavailable" in c) throw new RunnerError("KUBE_UNAVAILABLE", `no Kubernetes: ${c.unavailable}`, { retryable: false });
    return c;
  }

  /**
   * The resolver's `beforeFetch`: for a custom-strategy image, ensure the
   * pull Secret before the registry is contacted. Without Kubernetes there
   * will be no pod, so there is nothing to ensure.
   */
  readonly beforeFetch = async (_ref: ImageReference, choice: AuthChoice | undefined): Promise<void> => {
    if (choice?.strategy !== "custom") return;
    if ("unavailable" in (await this.tryClient())) return;
    await this.pullSecret.ensure();
  };

  /** The runner's own namespace: the in-cluster one (or the kubeconfig context's), else Porch's `porch-system`. */
  runnerNamespace(): string {
    const l = this.loaded;
    return l !== undefined && !("unavailable" in l) && l.contextNamespace !== undefined && l.contextNamespace !== "" ? l.contextNamespace : DEFAULT_RUNNER_NAMESPACE;
  }

  /**
   * Starts keeping `functionConfigs` current (list + watch, ./function-config-watch.ts);
   * resolves after the first list. Without Kubernetes: at once, nothing read.
   */
  watchFunctionConfigs(): Promise<void> {
    if (!this.status().available) return Promise.resolve();
    this.functionConfigWatch ??= new FunctionConfigWatch({
      client: () => this.tryClient(),
      namespace: this.settings.namespace,
      store: this.functionConfigs,
      logger: this.logger,
      ...this.opts.functionConfigWatch,
    });
    // Bounded: a hung API server must not keep the runner from serving (Porch waits for its cache sync).
    const waitMs = this.opts.functionConfigWatch?.firstSyncTimeoutMs ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.logger.warn("FunctionConfigs not listed yet; serving without them until they are", { waitedMs: waitMs });
        resolve();
      }, waitMs);
      timer.unref?.();
    });
    return Promise.race([this.functionConfigWatch.start(), late]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    await this.functionConfigWatch?.stop();
    if (this.loading === undefined) return;
    const l = await this.loading;
    if (!("unavailable" in l)) await l.close();
  }
}
