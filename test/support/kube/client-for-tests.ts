// @kubernetes/client-node for tests under Bun.
//
// Why this exists: client-node 2.x sends every request with
// `fetch(url, { dispatcher: new Agent({ connect: { ca, cert, key } }) })`
// imported from "undici". Under Bun, the bare specifier "undici" resolves to
// Bun's built-in undici shim, not to node_modules/undici: its `fetch` is Bun's
// own fetch, which ignores `dispatcher`, so the kubeconfig's CA (and client
// certificate) never reach the TLS handshake and every call against a
// private-CA cluster fails with "self signed certificate in certificate chain".
//
// The fix used here: give client-node its own HttpLibrary (the `httpApi` of
// createConfiguration) that sends through the real undici (the "undici-real"
// npm alias) with an Agent built from the kubeconfig's TLS material. TLS is
// still fully verified, against the kubeconfig's CA instead of the system
// roots. Authentication headers still come from KubeConfig itself (it is the
// client's auth method), so tokens, exec plugins etc. behave as usual.
import type { RequestOptions } from "node:https";
import {
  CoreV1Api,
  type HttpLibrary,
  KubeConfig,
  type RequestContext,
  ResponseContext,
  ServerConfiguration,
  createConfiguration,
  wrapHttpLibrary,
} from "@kubernetes/client-node";
import { Agent, request } from "undici-real";

export interface TlsMaterial {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

type PemLike = string | Buffer | (string | Buffer)[] | undefined;

function single(value: PemLike | unknown): string | Buffer | undefined {
  if (Array.isArray(value)) return value.length > 0 ? Buffer.concat(value.map((v) => Buffer.from(v))) : undefined;
  if (typeof value === "string" || Buffer.isBuffer(value)) return value;
  return undefined;
}

/** The CA / client certificate / verification settings of the current context. */
export async function tlsMaterialFromKubeConfig(kc: KubeConfig): Promise<TlsMaterial> {
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const out: TlsMaterial = {};
  const ca = single(opts.ca);
  const cert = single(opts.cert);
  const key = single(opts.key);
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  if (opts.rejectUnauthorized !== undefined) out.rejectUnauthorized = opts.rejectUnauthorized;
  if (typeof opts.servername === "string") out.servername = opts.servername;
  return out;
}

/** An undici Agent (real undici) that verifies the server with the given TLS material. */
export function agentFor(tls: TlsMaterial): Agent {
  return new Agent({
    connect: { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 },
    // Test servers stop and start quickly; do not let an idle socket outlive them for long.
    keepAliveTimeout: 1_000,
  });
}

/** A client-node HttpLibrary that sends through real undici with `dispatcher`. */
export function undiciHttpLibrary(dispatcher: Agent): HttpLibrary {
  return wrapHttpLibrary({
    async send(ctx: RequestContext): Promise<ResponseContext> {
      const rawBody = ctx.getBody();
      let body: string | undefined;
      if (rawBody === undefined || typeof rawBody === "string") body = rawBody;
      else if (rawBody instanceof URLSearchParams) body = rawBody.toString();
      else throw new Error("multipart bodies are not supported by the test HTTP library");
      const signal = ctx.getSignal();
      const res = await request(ctx.getUrl(), {
        method: ctx.getHttpMethod(),
        headers: ctx.getHeaders(),
        body,
        dispatcher,
        ...(signal ? { signal } : {}),
      });
      const bytes = Buffer.from(await res.body.arrayBuffer());
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers)) {
        if (value === undefined) continue;
        headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      return new ResponseContext(res.statusCode, headers, {
        text: () => Promise.resolve(bytes.toString("utf8")),
        binary: () => Promise.resolve(bytes),
        stream: () =>
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new Uint8Array(bytes));
              controller.close();
            },
          }),
      });
    },
  });
}

export interface TestApiClient<T> {
  api: T;
  kc: KubeConfig;
  agent: Agent;
  close(): Promise<void>;
}

type ApiConstructor<T> = new (config: ReturnType<typeof createConfiguration>) => T;

/** Like kc.makeApiClient(ApiClass), but with HTTP over real undici. */
export async function makeApiClientForTests<T>(kc: KubeConfig, apiClass: ApiConstructor<T>): Promise<TestApiClient<T>> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("No active cluster!");
  const agent = agentFor(await tlsMaterialFromKubeConfig(kc));
  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    httpApi: undiciHttpLibrary(agent),
  });
  return { api: new apiClass(config), kc, agent, close: () => agent.close() };
}

/** A CoreV1Api for a kubeconfig string (e.g. `server.kubeconfigYaml()`). */
export async function coreV1ForTests(kubeconfigYaml: string): Promise<TestApiClient<CoreV1Api>> {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml);
  return makeApiClientForTests(kc, CoreV1Api);
}
