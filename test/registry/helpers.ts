import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { anonymousProvider, type CredentialProvider } from "../../src/registry/credential.ts";
import { FileCredentials } from "../../src/auth/keychain.ts";
import { MetadataCache } from "../../src/resolve/metadata-cache.ts";
import { ImageResolver } from "../../src/resolve/resolver.ts";
import { memoryLogger } from "../../src/log.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import type { RetryPolicy } from "../../src/http/retry.ts";
import { DefaultTransport } from "../../src/registry/transport.ts";
import type { TestRegistry } from "../support/registry.ts";

/** Fast but real retries, so fault tests stay quick. */
export const fastRetry: RetryPolicy = { attempts: 4, baseDelayMs: 5, maxDelayMs: 50, deadlineMs: 5_000 };

/** Writes a Docker config file holding `auths` for the given registry hosts. */
export function dockerConfigFile(auths: Record<string, Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), "fr-dockercfg-"));
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify({ auths }));
  return path;
}

export const basicAuth = (user: string, password: string) => ({ auth: Buffer.from(`${user}:${password}`).toString("base64") });

export interface ClientSetup {
  credentials?: CredentialProvider;
  dockerConfig?: string;
  insecure?: string[];
  registries?: TestRegistry[];
  retry?: RetryPolicy;
  platform?: { os: string; architecture: string; variant?: string };
  requestTimeoutMs?: number;
  resolveTimeoutMs?: number;
  connections?: { perHost: number; total: number };
}

export function makeClient(setup: ClientSetup = {}) {
  const logger = memoryLogger();
  const transport = new DefaultTransport({
    insecureRegistries: setup.insecure,
    extraCAs: (setup.registries ?? []).flatMap((r) => (r.caPem ? [r.caPem] : [])),
  });
  const credentials = setup.credentials ?? (setup.dockerConfig ? new FileCredentials(setup.dockerConfig) : anonymousProvider);
  const client = new RegistryClient({
    credentials,
    transport,
    platform: setup.platform ?? { os: "linux", architecture: "amd64" },
    insecureRegistries: setup.insecure,
    retry: setup.retry ?? fastRetry,
    logger,
    requestTimeoutMs: setup.requestTimeoutMs,
    connections: setup.connections,
  });
  const cache = new MetadataCache();
  const resolver = new ImageResolver(client, cache, {
    defaultImagePrefix: "ghcr.io/kptdev/krm-functions-catalog/",
    platform: setup.platform ?? { os: "linux", architecture: "amd64" },
    resolveTimeoutMs: setup.resolveTimeoutMs,
  });
  return { client, cache, resolver, logger, transport, close: () => transport.close() };
}

/** Awaits a promise expected to reject and returns the error (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("expected a rejection, got a value");
}

export const manifestGets = (path: string) => (e: { method: string; path: string }) => e.method === "GET" && e.path.includes("/manifests/") && e.path.startsWith(path);
export const blobGets = (path: string) => (e: { method: string; path: string }) => e.method === "GET" && e.path.includes("/blobs/") && e.path.startsWith(path);
