// Helpers for the private-registry TLS tests: mounted-secret directories (plain and in the
// Kubernetes `..data` symlink layout) and a client wired like src/runner.ts but with fast retries.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { anonymousProvider } from "../../src/registry/credential.ts";
import { FileCredentials } from "../../src/auth/keychain.ts";
import { parseCommandLine } from "../../src/config/config.ts";
import { parsePlatform } from "../../src/image/platform.ts";
import { MetadataCache } from "../../src/resolve/metadata-cache.ts";
import { ImageResolver } from "../../src/resolve/resolver.ts";
import { memoryLogger, silentLogger, type Logger } from "../../src/log.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import type { CredentialProvider } from "../../src/registry/credential.ts";
import type { TransportStats } from "../../src/registry/transport.ts";
import { createRegistryAccess, imageOptionsFrom } from "../../src/runner-core.ts";
import { makeCA, makeServerCert, type CA } from "../support/certs.ts";
import { dockerConfigFile, fastRetry } from "./helpers.ts";
import { freePort } from "../support/free-port.ts";

export const scratch = (prefix: string): string => mkdtempSync(join(tmpdir(), `fr-tls-${prefix}-`));

/** A directory holding exactly these files, like a mounted secret without the symlinks. */
export function secretDir(files: Record<string, string | Uint8Array>): string {
  const dir = scratch("secret");
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** A fresh CA nobody's registry uses (for "unknown CA" and bundle cases). */
export function strayCA(cn = "Stray CA"): CA {
  return makeCA(scratch("ca"), cn);
}

/**
 * A secret volume as the kubelet writes it: DIR/ca.crt → ..data/ca.crt, ..data → ..<timestamp>/.
 * `swap` writes a new timestamped directory and atomically re-points ..data, as AtomicWriter does.
 */
export function kubeSecretDir(files: Record<string, string>): { dir: string; swap(files: Record<string, string>): void } {
  const dir = scratch("kube");
  let n = 0;
  const write = (content: Record<string, string>): void => {
    const ts = `..2026_11_23_12_00_0${n++}.${process.pid}`;
    mkdirSync(join(dir, ts));
    for (const [name, text] of Object.entries(content)) writeFileSync(join(dir, ts, name), text);
    const tmp = join(dir, "..data_tmp");
    rmSync(tmp, { force: true });
    symlinkSync(ts, tmp);
    renameSync(tmp, join(dir, "..data"));
    for (const name of Object.keys(content)) {
      try {
        symlinkSync(join("..data", name), join(dir, name));
      } catch {
        // already points through ..data
      }
    }
  };
  write(files);
  return { dir, swap: write };
}

export interface ChainOptions {
  tlsSecretPath: string;
  /** `auths` for the mounted Docker config (custom auth). */
  auths?: Record<string, Record<string, string>>;
  insecure?: string[];
  /** Extra flags, e.g. `--default-registries=HOST`. */
  flags?: string[];
}

/**
 * The runner's registry access from flags (imageOptionsFrom, createRegistryAccess),
 * seen per image as the client sees it: `routes`/`describe` of the transport the
 * auth choice hands out for that image.
 */
export function registryAccess(flags: string[], opts: { custom?: CredentialProvider; logger?: Logger } = {}) {
  const { config } = parseCommandLine(flags);
  const { auth, transports } = createRegistryAccess(imageOptionsFrom(config).registry.access, { default: anonymousProvider, custom: opts.custom ?? anonymousProvider }, opts.logger ?? silentLogger);
  const of = (image: { registry: string; repository: string }) => auth.choose(image).transport;
  return {
    config,
    auth,
    transports,
    of,
    routes: (registry: string, image: { registry: string; repository: string }) => of(image).routes(registry),
    describe: (registry: string, image: { registry: string; repository: string }) => of(image).describe(registry),
    /** The TLS chain's counters (what the metrics read). */
    stats: (): TransportStats => {
      if (transports.chain === undefined) throw new Error("flags on: expected the TLS chain");
      return transports.chain.stats();
    },
    close: async () => {
      await Promise.all([transports.standard.close(), transports.chain?.close()]);
    },
  };
}

/** The runner's wiring (flags → registryAccess) with fast retries and a memory logger. */
export function chainClient(o: ChainOptions) {
  const authFile = dockerConfigFile(o.auths ?? {});
  const logger = memoryLogger();
  const transport = registryAccess(
    [
      "--enable-private-registries",
      "--enable-private-registries-tls",
      `--tls-secret-path=${o.tlsSecretPath}`,
      `--registry-auth-secret-path=${authFile}`,
      ...(o.insecure?.length ? [`--insecure-registries=${o.insecure.join(",")}`] : []),
      ...(o.flags ?? []),
    ],
    { custom: new FileCredentials(authFile), logger },
  );
  const { config, auth } = transport;
  if (transport.transports.chain === undefined) throw new Error("flags on: expected the TLS chain");
  const platform = parsePlatform(config.platform);
  const client = new RegistryClient({
    credentials: anonymousProvider,
    transport: transport.transports.standard,
    platform,
    insecureRegistries: config["insecure-registries"],
    retry: fastRetry,
    logger,
  });
  const resolver = new ImageResolver(client, new MetadataCache(), { defaultImagePrefix: config["default-image-prefix"], platform, auth });
  const records = () => logger.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    client,
    resolver,
    transport,
    logger,
    warnings: () => records().filter((r) => r.level === "warn" && r.msg === "registry transport step failed, falling back"),
    close: () => transport.close(),
  };
}

/** The protocol a handshake with `minVersion` negotiates, or `error CODE`. */
export function handshake(port: number, ca: string, minVersion: "TLSv1" | "TLSv1.2"): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port, ca, minVersion }, () => {
      resolve(s.getProtocol() ?? "unknown");
      s.destroy();
    });
    s.on("error", (e: Error & { code?: string }) => resolve(`error ${e.code ?? e.message}`));
  });
}

export interface Tls11Server {
  ca: CA;
  port: number;
  /** What a TLSv1-minimum client negotiated: "TLSv1.1" when this OpenSSL can serve it. */
  served: string;
  stop(): void;
}

/**
 * `openssl s_server -tls1_1 -www` with a certificate from a fresh CA. OpenSSL 3 needs
 * @SECLEVEL=0 for TLS 1.1 (its signatures use SHA-1 / MD5+SHA-1).
 */
export async function startTls11Server(): Promise<Tls11Server> {
  const dir = scratch("tls11");
  const ca = makeCA(dir, "TLS 1.1 CA");
  const cert = makeServerCert(ca, dir);
  const port = await freePort();
  const proc: ChildProcess = spawn(
    "openssl",
    ["s_server", "-quiet", "-accept", `127.0.0.1:${port}`, "-cert", cert.certFile, "-key", cert.keyFile, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-www"],
    { stdio: "ignore" },
  );
  proc.unref();
  let served = "";
  for (let i = 0; i < 100; i++) {
    served = await handshake(port, ca.certPem, "TLSv1");
    if (served === "TLSv1.1") break;
    await new Promise((r) => setTimeout(r, 30));
  }
  return { ca, port, served, stop: () => proc.kill("SIGKILL") };
}

