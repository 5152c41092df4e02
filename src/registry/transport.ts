import { createSecureContext, rootCertificates } from "node:tls";
import { BoundedMap, MEMO_MAX_ENTRIES } from "./bounded-map.ts";
import { Agent, type HttpDispatcher } from "../http/undici.ts";
import { isLoopbackRegistry, normaliseRegistry } from "../image/reference.ts";
import type { TransportError } from "../http/request.ts";

/** One way of reaching a registry; the private-registry TLS chain (docs/tls.md) adds the mounted-CA steps. */
export type RouteStep = "mounted-ca" | "system-ca" | "plain-http";

export const stepScheme = (step: RouteStep): "https" | "http" => (step === "plain-http" ? "http" : "https");

/** `mounted-ca (https)`: how resolve output and logs name a step. */
export const formatStep = (step: RouteStep): string => `${step} (${stepScheme(step)})`;

export interface Route {
  step: RouteStep;
  scheme: "https" | "http";
  /** Also used for token realms and redirect targets reached during this attempt. */
  dispatcher: HttpDispatcher;
  /** False on plain HTTP to a registry not listed insecure: only anonymous access. */
  credentials: boolean;
  /** An expected alternative (loopback plain HTTP): falling back to it is not worth a warning. */
  expected?: boolean;
  /**
   * Set when this step cannot even be tried (e.g. the mounted CA does not
   * load): it counts as a failed attempt with this cause, so the chain goes
   * on and the final error still names it. `dispatcher` is then unused.
   */
  unusable?: TransportError;
}

/** What `describe` says about a registry (and image): for `explain`, resolve output and metrics. */
export interface TransportDescription {
  /** Which transport applies: the default one, or the private-registry TLS chain. */
  kind: "default" | "private-tls";
  /** The steps in the order the next resolve would try them. */
  order: RouteStep[];
  /** The step that last reached this registry, if any did. */
  step?: RouteStep;
  /** One sentence for humans. */
  detail: string;
}

/** Fallback counters by step, for metrics (the private-registry TLS chain keeps them). */
export interface TransportStats {
  /** Times a resolve fell back to this step after an earlier one failed. */
  fallbacks: Record<RouteStep, number>;
  /** Times a resolve started past this step because a later step is remembered for the registry. */
  skipped: Record<RouteStep, number>;
  /** Times this step reached the registry. */
  succeeded: Record<RouteStep, number>;
  /** Times the mounted CA was reloaded because the file behind the path changed. */
  caReloads: number;
}

/**
 * How a registry is reached. The auth strategy picks one per image
 * (src/auth/selector.ts) and the client is handed it per resolve.
 */
export interface Transport {
  /** The steps to try for a registry, the one that last worked first. */
  routes(registry: string): Route[] | Promise<Route[]>;
  /** Records the step that reached the registry, so later images skip failing ones. */
  succeeded(registry: string, route: Route): void;
  /** A step failed and `to` is tried next (for fallback counters). */
  fellBack?(registry: string, from: Route, to: Route): void;
  /** Reads local state only (e.g. the mounted CA), never the registry. */
  describe(registry: string): Promise<TransportDescription>;
  stats?(): TransportStats;
  close(): Promise<void>;
}

/**
 * A plain-HTTP request that reached a TLS port: Go's net/http and nginx answer
 * 400 with these texts. That is a wrong scheme, not a registry answer, so the
 * client treats it as a failed transport step rather than a final error.
 */
export function isTlsPortAnswer(status: number, body: Uint8Array): boolean {
  if (status !== 400 || body.byteLength > 4096) return false;
  return /HTTP request to an HTTPS server|plain HTTP request was sent to HTTPS port/i.test(new TextDecoder().decode(body));
}

/**
 * Keep-alive pools; minimum TLS 1.2 on every registry connection. Extra CAs
 * are added to the system roots, never replacing them (an upstream gap).
 * With extra CAs the TLS context is built once per agent (so once per CA
 * file version): given as `ca`, every new connection (registry, token realm,
 * redirect target) would parse all the system roots again.
 */
export function registryAgent(tls: { extraCAs?: readonly string[] } = {}): Agent {
  const secureContext = tls.extraCAs?.length ? createSecureContext({ ca: [...rootCertificates, ...tls.extraCAs], minVersion: "TLSv1.2" }) : undefined;
  return new Agent({
    keepAliveTimeout: 30_000,
    connections: 32,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
    connect: { minVersion: "TLSv1.2", timeout: 10_000, ...(secureContext ? { secureContext } : {}) },
  });
}

/**
 * https with the system CAs; plain http as a second step only for loopback
 * and `--insecure-registries` hosts (go-containerregistry's rule).
 */
export class DefaultTransport implements Transport {
  private readonly agent: Agent;
  private readonly insecure: ReadonlySet<string>;
  private readonly preferred = new BoundedMap<string, RouteStep>(MEMO_MAX_ENTRIES);

  constructor(opts: { insecureRegistries?: readonly string[]; extraCAs?: readonly string[] } = {}) {
    this.insecure = new Set((opts.insecureRegistries ?? []).map(normaliseRegistry));
    this.agent = registryAgent({ extraCAs: opts.extraCAs });
  }

  routes(registry: string): Route[] {
    const https: Route = { step: "system-ca", scheme: "https", dispatcher: this.agent, credentials: true };
    const insecure = this.insecure.has(registry);
    if (!insecure && !isLoopbackRegistry(registry)) return [https];
    // Credentials cross plain HTTP only to hosts the operator listed as insecure.
    const http: Route = { step: "plain-http", scheme: "http", dispatcher: this.agent, credentials: insecure, expected: true };
    return this.preferred.get(registry) === "plain-http" ? [http, https] : [https, http];
  }

  succeeded(registry: string, route: Route): void {
    this.preferred.set(registry, route.step);
  }

  async describe(registry: string): Promise<TransportDescription> {
    const order = this.routes(registry).map((r) => r.step);
    const step = this.preferred.get(registry);
    const plain = order.includes("plain-http")
      ? `, then plain HTTP (${this.insecure.has(registry) ? "listed in --insecure-registries, with credentials" : "loopback, without credentials"})`
      : "";
    return { kind: "default", order, step, detail: `default transport: https with the system CAs${plain}` };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
