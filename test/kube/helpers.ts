import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCommandLine } from "../../src/config/config.ts";
import type { KubeRuntimeOptions } from "../../src/kube/runtime.ts";
import { memoryLogger } from "../../src/log.ts";
import type { RetryPolicy } from "../../src/http/retry.ts";
import { createRunner, type Runner } from "../../src/runner.ts";
import { type KubeApiServer, startKubeApiServer, type KubeApiServerOptions } from "../support/kube/index.ts";

export const NS = "porch-fn-system";
export const SECRET = "auth-secret";
/** Real retries, short waits. */
export const fastKubeRetry: RetryPolicy = { attempts: 4, baseDelayMs: 5, maxDelayMs: 40, deadlineMs: 5_000 };

export const tempDir = (prefix = "fr-kube-"): string => mkdtempSync(join(tmpdir(), prefix));

export async function startKube(opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  return startKubeApiServer({ namespaces: [NS], ...opts });
}

export async function kubeconfigFor(server: KubeApiServer, opts: Parameters<KubeApiServer["writeKubeconfig"]>[1] = {}): Promise<string> {
  return server.writeKubeconfig(join(tempDir(), "kubeconfig"), opts);
}

/** A Docker config file for custom auth; returns its path. */
export function writeAuthFile(content: string, dir: string = tempDir("fr-auth-")): string {
  const path = join(dir, ".dockerconfigjson");
  writeFileSync(path, content);
  return path;
}

export const authJson = (registry: string, user = "fn-user", password = "fn-pass"): string =>
  `${JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } } }, null, 2)}\n`;

export interface TestRunner {
  runner: Runner;
  logger: ReturnType<typeof memoryLogger>;
}

/**
 * A runner as main.ts builds it. The environment is empty unless given, so
 * the machine's own ~/.kube/config or KUBECONFIG can never leak into a test.
 */
export function makeRunner(args: string[], kube: KubeRuntimeOptions = {}): TestRunner {
  const { config } = parseCommandLine(args);
  const logger = memoryLogger();
  const runner = createRunner(config, logger, {
    kube: { env: {}, homeDir: "", wrapperServerImage: "example.test/wrapper-server:v1", ...kube, client: { retry: fastKubeRetry, ...kube.client } },
  });
  return { runner, logger };
}

/** Flags for a runner using custom auth from `authPath` and the pod namespace NS. */
export const customArgs = (kubeconfig: string | undefined, authPath: string): string[] => [
  ...(kubeconfig === undefined ? [] : ["--kubeconfig", kubeconfig]),
  "--enable-private-registries",
  "--registry-auth-secret-path",
  authPath,
  "--pod-namespace",
  NS,
];

export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; retryable?: boolean; cause?: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("expected a rejection, got a value");
}

export const secretBytes = (server: KubeApiServer): Buffer | undefined => {
  const s = server.getObject<{ data?: Record<string, string> }>("secrets", NS, SECRET);
  const v = s?.data?.[".dockerconfigjson"];
  return v === undefined ? undefined : Buffer.from(v, "base64");
};
