import { rootCertificates } from "node:tls";
import { Agent, type Dispatcher } from "undici-real";
import { isLoopbackRegistry } from "../image/reference.ts";

/** One way of reaching a registry; the TLS issue adds the mounted-CA steps. */
export type RouteStep = "mounted-ca" | "system-ca" | "plain-http";

export interface Route {
  step: RouteStep;
  scheme: "https" | "http";
  /** Also used for token realms and redirect targets reached during this attempt. */
  dispatcher: Dispatcher;
  /** False on plain HTTP to a registry not listed insecure: only anonymous access. */
  credentials: boolean;
  /** An expected alternative (loopback plain HTTP): falling back to it is not worth a warning. */
  expected?: boolean;
}

export interface Transport {
  /** The steps to try for a registry, the one that last worked first. */
  routes(registry: string): Route[];
  /** Records the step that reached the registry, so later images skip failing ones. */
  succeeded(registry: string, route: Route): void;
  close(): Promise<void>;
}

/**
 * Keep-alive pools; minimum TLS 1.2 on every registry connection. Extra CAs
 * are added to the system roots, never replacing them (an upstream gap).
 */
export function registryAgent(tls: { extraCAs?: readonly string[] } = {}): Agent {
  const ca = tls.extraCAs?.length ? [...rootCertificates, ...tls.extraCAs] : undefined;
  return new Agent({
    keepAliveTimeout: 30_000,
    connections: 32,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
    connect: { minVersion: "TLSv1.2", timeout: 10_000, ...(ca ? { ca } : {}) },
  });
}

/**
 * https with the system CAs; plain http as a second step only for loopback
 * and `--insecure-registries` hosts (go-containerregistry's rule).
 */
export class DefaultTransport implements Transport {
  private readonly agent: Agent;
  private readonly insecure: ReadonlySet<string>;
  private readonly preferred = new Map<string, RouteStep>();

  constructor(opts: { insecureRegistries?: readonly string[]; extraCAs?: readonly string[] } = {}) {
    this.insecure = new Set(opts.insecureRegistries ?? []);
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

  async close(): Promise<void> {
    await this.agent.close();
  }
}
