// Push test images to a TestRegistry through the registry HTTP API, as the admin user.
// Blobs: HEAD (skip if present) → POST /v2/NAME/blobs/uploads/ → PUT <Location>&digest= (monolithic).
// Manifests: PUT /v2/NAME/manifests/REF with the manifest's media type as Content-Type.
// Auth: none (http), Basic (tls-htpasswd), or a bearer token from the token server fetched with
// Basic admin credentials (tls-token; one token request per public call, not cached across calls).
import { createHash } from "node:crypto";
import { gzipSync, gunzipSync } from "node:zlib";
import { request } from "undici-real";
import { deepMerge, type TestRegistry } from "./registry.ts";

export const MT = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** Accept header covering all four manifest/index media types. */
export const ACCEPT_ALL = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(", ");

export type ImageFormat = "oci" | "docker";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface PushImageOptions {
  format: ImageFormat;
  /** Default ["/usr/local/bin/function"]; null writes `"Entrypoint": null`. */
  entrypoint?: string[] | null;
  /** Default: key omitted; null writes `"Cmd": null`. */
  cmd?: string[] | null;
  os?: string; // default "linux"
  architecture?: string; // default "amd64"
  variant?: string;
  /** The (compressed) layer blob; default a tiny in-memory tar.gz. diff_id = sha256(gunzip(bytes)) or sha256(bytes). */
  layerBytes?: Uint8Array;
  /** Deep-merged into the image config JSON. */
  extraConfig?: Record<string, unknown>;
}

export interface PushedImage {
  digest: string;
  manifestBytes: Uint8Array;
  configDigest: string;
  mediaType: string;
}

export interface PushedIndex {
  digest: string;
  bytes: Uint8Array;
  mediaType: string;
  children: Array<{ digest: string; platform: Platform; configDigest: string }>;
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

const enc = new TextEncoder();

/** Minimal ustar archive with one regular file. */
function tinyTar(name: string, content: Uint8Array): Uint8Array {
  const header = new Uint8Array(512);
  const put = (s: string, off: number): void => header.set(enc.encode(s), off);
  const oct = (n: number, width: number): string => n.toString(8).padStart(width - 1, "0") + "\0";
  put(name, 0);
  put(oct(0o644, 8), 100);
  put(oct(0, 8), 108);
  put(oct(0, 8), 116);
  put(oct(content.length, 12), 124);
  put(oct(0, 12), 136);
  put("        ", 148);
  put("0", 156);
  put("ustar\u000000", 257);
  let sum = 0;
  for (const b of header) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  const padded = Math.ceil(content.length / 512) * 512;
  const out = new Uint8Array(512 + padded + 1024);
  out.set(header, 0);
  out.set(content, 512);
  return out;
}

const DEFAULT_TAR = tinyTar("hello.txt", enc.encode("hello from the test harness\n"));
const DEFAULT_LAYER = new Uint8Array(gzipSync(DEFAULT_TAR));

interface Resp {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

async function call(
  reg: TestRegistry,
  method: "GET" | "HEAD" | "POST" | "PUT",
  url: string,
  headers: Record<string, string>,
  body?: Uint8Array,
): Promise<Resp> {
  const res = await request(url, {
    method,
    headers,
    dispatcher: reg.dispatcher,
    ...(body !== undefined ? { body } : {}),
  });
  const buf = new Uint8Array(await res.body.arrayBuffer());
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return { status: res.statusCode, headers: h, body: buf };
}

function fail(what: string, r: Resp): never {
  throw new Error(`${what}: HTTP ${r.status} ${new TextDecoder().decode(r.body).slice(0, 500)}`);
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/**
 * Authorization header for `repo` with `actions` (default pull) as `user` (default the admin):
 * {} in http mode, Basic in tls-htpasswd, a fresh bearer token in tls-token.
 */
export async function authHeaders(
  reg: TestRegistry,
  repo: string,
  actions: string[] = ["pull"],
  user?: { user: string; password: string },
): Promise<Record<string, string>> {
  const u = user ?? { user: reg.adminUser, password: reg.adminPassword };
  if (reg.mode === "http") return {};
  if (reg.mode === "tls-htpasswd") return { authorization: basic(u.user, u.password) };
  const ts = reg.tokenServer;
  if (!ts) throw new Error("token mode without token server");
  const q = new URLSearchParams({ service: ts.service, scope: `repository:${repo}:${actions.join(",")}` });
  const r = await call(reg, "GET", `${ts.realm}?${q}`, { authorization: basic(u.user, u.password) });
  if (r.status !== 200) fail("token request", r);
  const body: unknown = JSON.parse(new TextDecoder().decode(r.body));
  const token =
    typeof body === "object" && body !== null && "token" in body && typeof body.token === "string" ? body.token : "";
  return { authorization: `Bearer ${token}` };
}

async function pushBlobWith(reg: TestRegistry, repo: string, bytes: Uint8Array, auth: Record<string, string>): Promise<string> {
  const digest = sha256(bytes);
  const head = await call(reg, "HEAD", `${reg.url}/v2/${repo}/blobs/${digest}`, auth);
  if (head.status === 200) return digest;
  const start = await call(reg, "POST", `${reg.url}/v2/${repo}/blobs/uploads/`, { ...auth, "content-length": "0" });
  if (start.status !== 202) fail(`start upload ${repo}`, start);
  const loc = new URL(start.headers.location ?? "", `${reg.url}/`);
  loc.searchParams.set("digest", digest);
  const put = await call(
    reg,
    "PUT",
    loc.toString(),
    { ...auth, "content-type": "application/octet-stream", "content-length": String(bytes.length) },
    bytes,
  );
  if (put.status !== 201) fail(`upload blob ${digest}`, put);
  return digest;
}

async function pushManifestWith(
  reg: TestRegistry,
  repo: string,
  reference: string,
  bytes: Uint8Array,
  mediaType: string,
  auth: Record<string, string>,
): Promise<string> {
  const r = await call(
    reg,
    "PUT",
    `${reg.url}/v2/${repo}/manifests/${reference}`,
    { ...auth, "content-type": mediaType, "content-length": String(bytes.length) },
    bytes,
  );
  if (r.status !== 201) fail(`put manifest ${repo}:${reference}`, r);
  const digest = sha256(bytes);
  const got = r.headers["docker-content-digest"];
  if (got !== undefined && got !== digest) throw new Error(`registry digest ${got} != ${digest}`);
  return digest;
}

/** Uploads one blob (skipped if present); returns its digest. */
export async function pushBlob(reg: TestRegistry, repo: string, bytes: Uint8Array): Promise<string> {
  return pushBlobWith(reg, repo, bytes, await authHeaders(reg, repo, ["pull", "push"]));
}

/** PUTs arbitrary manifest bytes under a tag or digest; returns sha256 of the bytes. */
export async function pushRawManifest(
  reg: TestRegistry,
  repo: string,
  reference: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<string> {
  return pushManifestWith(reg, repo, reference, bytes, mediaType, await authHeaders(reg, repo, ["pull", "push"]));
}

async function pushImageWith(
  reg: TestRegistry,
  repo: string,
  reference: string | undefined,
  opts: PushImageOptions,
  auth: Record<string, string>,
): Promise<PushedImage> {
  const oci = opts.format === "oci";
  const layer = opts.layerBytes ?? DEFAULT_LAYER;
  let diffId: string;
  try {
    diffId = sha256(new Uint8Array(gunzipSync(layer)));
  } catch {
    diffId = sha256(layer);
  }
  const containerConfig: Record<string, unknown> = {
    Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    Entrypoint: opts.entrypoint === undefined ? ["/usr/local/bin/function"] : opts.entrypoint,
  };
  if (opts.cmd !== undefined) containerConfig.Cmd = opts.cmd;
  let config: Record<string, unknown> = {
    created: "2024-01-01T00:00:00Z",
    architecture: opts.architecture ?? "amd64",
    os: opts.os ?? "linux",
    ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
    config: containerConfig,
    rootfs: { type: "layers", diff_ids: [diffId] },
  };
  if (opts.extraConfig) config = deepMerge(config, opts.extraConfig);
  const configBytes = enc.encode(JSON.stringify(config));

  const layerDigest = await pushBlobWith(reg, repo, layer, auth);
  const configDigest = await pushBlobWith(reg, repo, configBytes, auth);
  const mediaType = oci ? MT.ociManifest : MT.dockerManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: oci ? MT.ociConfig : MT.dockerConfig, digest: configDigest, size: configBytes.length },
    layers: [{ mediaType: oci ? MT.ociLayer : MT.dockerLayer, digest: layerDigest, size: layer.length }],
  };
  const manifestBytes = enc.encode(JSON.stringify(manifest));
  const digest = sha256(manifestBytes);
  await pushManifestWith(reg, repo, reference ?? digest, manifestBytes, mediaType, auth);
  return { digest, manifestBytes, configDigest, mediaType };
}

/** Pushes a single-platform image (layer, config, manifest) and tags it. */
export async function pushImage(reg: TestRegistry, repo: string, tag: string, opts: PushImageOptions): Promise<PushedImage> {
  return pushImageWith(reg, repo, tag, opts, await authHeaders(reg, repo, ["pull", "push"]));
}

/** Pushes each child image by digest, then the OCI index / Docker manifest list under `tag`. */
export async function pushIndex(
  reg: TestRegistry,
  repo: string,
  tag: string,
  children: Array<{ platform: Platform; entrypoint?: string[] | null; cmd?: string[] | null }>,
  opts: { format: ImageFormat },
): Promise<PushedIndex> {
  const auth = await authHeaders(reg, repo, ["pull", "push"]);
  const oci = opts.format === "oci";
  const pushed: PushedIndex["children"] = [];
  const entries: Array<Record<string, unknown>> = [];
  for (const c of children) {
    const img = await pushImageWith(
      reg,
      repo,
      undefined,
      {
        format: opts.format,
        os: c.platform.os,
        architecture: c.platform.architecture,
        ...(c.platform.variant !== undefined ? { variant: c.platform.variant } : {}),
        ...(c.entrypoint !== undefined ? { entrypoint: c.entrypoint } : {}),
        ...(c.cmd !== undefined ? { cmd: c.cmd } : {}),
      },
      auth,
    );
    pushed.push({ digest: img.digest, platform: c.platform, configDigest: img.configDigest });
    entries.push({
      mediaType: img.mediaType,
      digest: img.digest,
      size: img.manifestBytes.length,
      platform: {
        architecture: c.platform.architecture,
        os: c.platform.os,
        ...(c.platform.variant !== undefined ? { variant: c.platform.variant } : {}),
      },
    });
  }
  const mediaType = oci ? MT.ociIndex : MT.dockerList;
  const bytes = enc.encode(JSON.stringify({ schemaVersion: 2, mediaType, manifests: entries }));
  const digest = await pushManifestWith(reg, repo, tag, bytes, mediaType, auth);
  return { digest, bytes, mediaType, children: pushed };
}
