/**
 * The private-registry TLS chain (docs/tls.md), used for images with
 * custom auth when `--enable-private-registries-tls` is on:
 *   (1) mounted-ca  https, the mounted CA bundle added to the system roots
 *   (2) system-ca   https, the system roots only
 *   (3) plain-http  http, credentials only for `--insecure-registries` hosts
 *   (4) the client's error listing every attempt and its cause.
 * Only a failure to reach the registry moves on (RegistryClient decides);
 * a registry answer is final. Minimum TLS 1.2 on every connection
 * (registryAgent). Upstream replaced the system roots with the CA and had
 * no plain-HTTP step; both are fixed here.
 */
import { BoundedMap, MEMO_MAX_ENTRIES } from "./bounded-map.ts";
import type { Agent } from "../http/undici.ts";
import type { RunnerError } from "../errors.ts";
import { silentLogger, type Logger } from "../log.ts";
import { normaliseRegistry } from "../image/reference.ts";
import { TransportError } from "../http/request.ts";
import { MountedCaFile, type CaLoad } from "./tls-ca-file.ts";
import {
  registryAgent,
  stepScheme,
  type Route,
  type RouteStep,
  type Transport,
  type TransportDescription,
  type TransportStats,
} from "./transport.ts";

export const CHAIN: readonly RouteStep[] = ["mounted-ca", "system-ca", "plain-http"];

/** The order to try: the step that last worked first, the others behind it in chain order (they may work again later). */
export function chainOrder(remembered?: RouteStep): RouteStep[] {
  if (remembered === undefined || !CHAIN.includes(remembered)) return [...CHAIN];
  return [remembered, ...CHAIN.filter((s) => s !== remembered)];
}

const zero = (): Record<RouteStep, number> => ({ "mounted-ca": 0, "system-ca": 0, "plain-http": 0 });

export interface TlsChainOptions {
  /** `--tls-secret-path`: the directory holding `ca.crt` or `ca.pem`. */
  tlsSecretPath: string;
  /** `--insecure-registries`: the only hosts that get credentials over plain HTTP. */
  insecureRegistries?: readonly string[];
  logger?: Logger;
  /** How long a replaced CA's connection pool stays open for requests already using it. */
  retireAfterMs?: number;
  /** Called on each fallback, e.g. to feed a Prometheus counter labelled from/to. */
  onFallback?: (from: RouteStep, to: RouteStep) => void;
}

interface MountedState {
  load: CaLoad;
  agent?: Agent;
}

export class TlsChainTransport implements Transport {
  private readonly ca: MountedCaFile;
  private readonly system: Agent = registryAgent();
  private readonly insecure: ReadonlySet<string>;
  private readonly log: Logger;
  private readonly remembered = new BoundedMap<string, RouteStep>(MEMO_MAX_ENTRIES);
  private readonly retired = new Set<Agent>();
  private mounted: MountedState | undefined;
  private loading: Promise<MountedState> | undefined;
  private readonly counters: TransportStats = { fallbacks: zero(), skipped: zero(), succeeded: zero(), caReloads: 0 };

  constructor(private readonly opts: TlsChainOptions) {
    this.ca = new MountedCaFile(opts.tlsSecretPath);
    this.insecure = new Set((opts.insecureRegistries ?? []).map(normaliseRegistry));
    this.log = opts.logger ?? silentLogger;
  }

  async routes(registry: string): Promise<Route[]> {
    const mounted = await this.current();
    const remembered = this.remembered.get(registry);
    const order = chainOrder(remembered);
    for (const step of CHAIN) {
      if (step === remembered) break;
      if (remembered !== undefined) this.counters.skipped[step]++;
    }
    return order.map((step) => this.route(step, registry, mounted));
  }

  succeeded(registry: string, route: Route): void {
    this.remembered.set(registry, route.step);
    this.counters.succeeded[route.step]++;
  }

  fellBack(_registry: string, from: Route, to: Route): void {
    this.counters.fallbacks[to.step]++;
    this.opts.onFallback?.(from.step, to.step);
  }

  async describe(registry: string): Promise<TransportDescription> {
    const step = this.remembered.get(registry);
    const { load } = await this.current();
    const n = load.bundle?.pems.length ?? 0;
    const ca = load.bundle
      ? `${load.bundle.file} (${n} certificate${n === 1 ? "" : "s"}) plus the system roots`
      : `the mounted CA, currently unusable: ${load.error.message}`;
    const creds = this.insecure.has(registry) ? "with credentials: listed in --insecure-registries" : "without credentials: not in --insecure-registries";
    const via = step === undefined ? "" : `; ${registry} was last reached via ${step} (${stepScheme(step)})`;
    return {
      kind: "private-tls",
      order: chainOrder(step),
      step,
      detail: `private-registry TLS chain: (1) https trusting ${ca}, (2) https with the system CAs, (3) plain HTTP (${creds})${via}`,
    };
  }

  stats(): TransportStats {
    return { ...this.counters, fallbacks: { ...this.counters.fallbacks }, skipped: { ...this.counters.skipped }, succeeded: { ...this.counters.succeeded } };
  }

  async close(): Promise<void> {
    const agents = [this.system, ...this.retired, ...(this.mounted?.agent ? [this.mounted.agent] : [])];
    this.retired.clear();
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  }

  private route(step: RouteStep, registry: string, mounted: MountedState): Route {
    switch (step) {
      case "mounted-ca":
        if (mounted.agent) return { step, scheme: "https", dispatcher: mounted.agent, credentials: true };
        return { step, scheme: "https", dispatcher: this.system, credentials: true, unusable: unusable(mounted.load.error) };
      case "system-ca":
        return { step, scheme: "https", dispatcher: this.system, credentials: true };
      case "plain-http":
        // Credentials cross plain HTTP only to hosts the operator listed as insecure.
        return { step, scheme: "http", dispatcher: this.system, credentials: this.insecure.has(registry) };
    }
  }

  /** The CA as of now: one stat per resolve, a re-read and a new pool only when the file changed. */
  private current(): Promise<MountedState> {
    this.loading ??= this.refresh().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async refresh(): Promise<MountedState> {
    const load = await this.ca.load();
    const prev = this.mounted;
    if (prev && prev.load.stamp === load.stamp) return prev;
    const next: MountedState = { load, ...(load.bundle ? { agent: registryAgent({ extraCAs: load.bundle.pems }) } : {}) };
    this.mounted = next;
    if (prev?.agent) this.retire(prev.agent);
    if (load.bundle) {
      if (prev) this.counters.caReloads++;
      this.log.info(prev ? "registry CA changed, reloaded" : "registry CA loaded", {
        file: load.bundle.file,
        certificates: load.bundle.pems.length,
        subjects: load.bundle.subjects,
      });
    } else {
      this.log.warn("registry CA unusable; private registries fall back to the system CAs, then plain HTTP", { reason: load.error.message });
    }
    // A new CA may make an earlier step work again, so forget which steps worked.
    if (prev) this.remembered.clear();
    return next;
  }

  /** Requests already holding the old pool finish on it; it is closed a little later. */
  private retire(agent: Agent): void {
    this.retired.add(agent);
    const timer = setTimeout(() => {
      this.retired.delete(agent);
      void agent.close().catch(() => undefined);
    }, this.opts.retireAfterMs ?? 60_000);
    timer.unref?.();
  }
}

const unusable = (error: RunnerError | undefined): TransportError =>
  new TransportError("TLS", error?.message ?? "TLS configuration: the mounted CA is unusable", false, { cause: error });
