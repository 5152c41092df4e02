/**
 * Docker config JSON (`~/.docker/config.json`, `auth.json`, a mounted
 * `.dockerconfigjson`): parsing, registry matching, entry decoding.
 *
 * Pure: no file or process I/O here (see keychain.ts / credential-helper.ts).
 * Error messages name the file and the `auths` key, never a value: a
 * credential must not leak through an error, a log line or an API response.
 */
import { z } from "zod";
import { RunnerError } from "../errors.ts";
import type { Credential } from "../registry/credential.ts";

/** One `auths` entry. Unknown fields (Docker Desktop adds some) are kept and ignored. */
export const AuthEntry = z.looseObject({
  auth: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  identitytoken: z.string().optional(),
  registrytoken: z.string().optional(),
  email: z.string().optional(),
});
export type AuthEntry = z.infer<typeof AuthEntry>;

// Go's encoding/json accepts `null` for a map, so Docker does too: treat it as absent.
const nullAsAbsent = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === null ? undefined : v), schema.optional());

export const DockerConfig = z.looseObject({
  auths: nullAsAbsent(z.record(z.string(), AuthEntry)),
  credHelpers: nullAsAbsent(z.record(z.string(), z.string())),
  credsStore: nullAsAbsent(z.string()),
});
export type DockerConfig = z.infer<typeof DockerConfig>;

/** The Docker Hub key `docker login` writes; preferred among the Hub aliases. */
export const DOCKER_HUB_KEY = "https://index.docker.io/v1/";
/** Registry host the reference parser gives Docker Hub images. */
export const DOCKER_HUB_REGISTRY = "index.docker.io";
/** Hosts that all mean Docker Hub, in the order used to break ties. */
export const DOCKER_HUB_ALIASES: readonly string[] = ["index.docker.io", "docker.io", "registry-1.docker.io"];

/** Keys may in theory carry `user:pass@`; never put that in a message or a `source`. */
export const displayKey = (key: string): string => key.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, "$1");

const invalid = (file: string, what: string, key?: string): RunnerError =>
  new RunnerError(
    "AUTH_CONFIG_INVALID",
    key === undefined
      ? `invalid Docker config ${file}: ${what}`
      : `invalid Docker config ${file}: entry ${JSON.stringify(displayKey(key))} ${what}`,
  );

/** Describes a zod issue by path and expectation only: zod messages may echo input in future versions. */
const describeIssue = (issue: z.core.$ZodIssue): { key?: string; what: string } => {
  const path = issue.path.map(String);
  const expected = issue.code === "invalid_type" ? `expected ${issue.expected}` : issue.code.replaceAll("_", " ");
  if (path[0] === "auths" && path.length >= 2) {
    const field = path.slice(2).join(".");
    return { key: path[1], what: field === "" ? `is not an object (${expected})` : `field ${field}: ${expected}` };
  }
  return { what: `${path.length === 0 ? "top level" : path.join(".")}: ${expected}` };
};

/**
 * Parses Docker config JSON. An empty file counts as `{}` (Docker's loader
 * accepts it too). Broken JSON or a wrong shape → AUTH_CONFIG_INVALID naming
 * `file` (and the `auths` key when an entry is at fault), never a value.
 */
export function parseDockerConfig(text: string, file: string): DockerConfig {
  if (text.trim() === "") return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // The JSON.parse message can quote the text around the error: drop it.
    throw invalid(file, "not valid JSON");
  }
  const parsed = DockerConfig.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const { key, what } = first === undefined ? { what: "wrong shape" } : describeIssue(first);
    throw invalid(file, what, key);
  }
  return parsed.data;
}

// ---------------------------------------------------------------------------
// Registry matching

/**
 * Host part of a registry or config key, the way Docker's ConvertToHostname
 * does it: scheme, user info and path stripped; lower-cased because host
 * names are case-insensitive.
 */
export function normaliseRegistryKey(key: string): string {
  let s = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  s = s.split("/", 1)[0] ?? "";
  const at = s.lastIndexOf("@");
  if (at >= 0) s = s.slice(at + 1);
  return s.toLowerCase();
}

const isHubHost = (host: string): boolean => DOCKER_HUB_ALIASES.includes(host);

/** The registry host a reference's registry maps to for matching (`docker.io` → `index.docker.io`). */
export function canonicalRegistry(registry: string): string {
  const host = normaliseRegistryKey(registry);
  return isHubHost(host) ? DOCKER_HUB_REGISTRY : host;
}

/** Server URL Docker hands to credential helpers: the Hub key for Docker Hub, else the host. */
export function helperServerURL(registry: string): string {
  const host = canonicalRegistry(registry);
  return host === DOCKER_HUB_REGISTRY ? DOCKER_HUB_KEY : host;
}

/**
 * Tie-break rank for a key that matched by normalisation (lower is better):
 *  1. the canonical Hub key `https://index.docker.io/v1/` (Hub only);
 *  2. a key whose host is the one asked for, before one matching only as a Hub alias;
 *  3. Hub alias order: index.docker.io, docker.io, registry-1.docker.io;
 *  4. the plainest form: bare host, then `https://`, then another scheme; no path before a path;
 *  then plain code-unit order of the key, so JSON key order never decides.
 */
function rank(key: string, askedHost: string): number[] {
  const host = normaliseRegistryKey(key);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(key.trim())?.[1]?.toLowerCase();
  const rest = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const slash = rest.indexOf("/");
  const hasPath = slash >= 0 && rest.slice(slash).replace(/\/+$/, "") !== "";
  const hubIndex = DOCKER_HUB_ALIASES.indexOf(host);
  return [
    key === DOCKER_HUB_KEY ? 0 : 1,
    host === askedHost ? 0 : 1,
    hubIndex < 0 ? 0 : hubIndex,
    scheme === undefined ? 0 : scheme === "https" ? 1 : 2,
    hasPath ? 1 : 0,
  ];
}

const compareRanks = (a: number[], b: number[]): number => {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
};

/**
 * Which of `keys` serves `registry`: the exact key first, then keys equal
 * after normalisation (Docker Hub aliases all serve Docker Hub), ties broken
 * by {@link rank}. `undefined` when none matches.
 */
export function selectKey(keys: Iterable<string>, registry: string): string | undefined {
  const all = [...keys];
  if (all.includes(registry)) return registry;
  const asked = normaliseRegistryKey(registry);
  if (asked === "") return undefined;
  const hub = isHubHost(asked);
  const matches = all.filter((k) => {
    const host = normaliseRegistryKey(k);
    return hub ? isHubHost(host) : host === asked;
  });
  matches.sort((a, b) => compareRanks(rank(a, asked), rank(b, asked)) || (a < b ? -1 : a > b ? 1 : 0));
  return matches[0];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The `auths` entry serving `registry` and the key it came from (a contract: docs/architecture.md#contracts).
 * Entries that are not objects are skipped: they hold nothing usable.
 */
export function selectCredentials(
  config: { auths?: Record<string, unknown> },
  registry: string,
): ({ key: string } & Record<string, unknown>) | undefined {
  const auths = config.auths;
  if (!isPlainObject(auths)) return undefined;
  const keys = Object.keys(auths).filter((k) => isPlainObject(auths[k]));
  const key = selectKey(keys, registry);
  if (key === undefined) return undefined;
  const entry = auths[key];
  return isPlainObject(entry) ? { ...entry, key } : undefined;
}

/** The credential helper for `registry`: `credHelpers` (same matching as `auths`), else `credsStore`. */
export function credentialHelperFor(
  config: Pick<DockerConfig, "credHelpers" | "credsStore">,
  registry: string,
): string | undefined {
  return credentialHelperSource(config, registry)?.name;
}

/** Like {@link credentialHelperFor}, but says whether it came from `credHelpers` or `credsStore`. */
export function credentialHelperSource(
  config: Pick<DockerConfig, "credHelpers" | "credsStore">,
  registry: string,
): { name: string; from: "credHelpers" | "credsStore" } | undefined {
  const helpers = config.credHelpers ?? {};
  const key = selectKey(Object.keys(helpers), registry);
  const named = key === undefined ? undefined : helpers[key];
  if (named !== undefined && named !== "") return { name: named, from: "credHelpers" };
  return config.credsStore === undefined || config.credsStore === ""
    ? undefined
    : { name: config.credsStore, from: "credsStore" };
}

// ---------------------------------------------------------------------------
// Entry decoding

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes `auth` = base64(`user:password`); the password may contain `:`. */
function decodeAuth(value: string, file: string, key: string): { username: string; password: string } {
  const b64 = value.replace(/\s+/g, "");
  if (!BASE64.test(b64) || b64.length % 4 === 1) throw invalid(file, "has an auth value that is not base64", key);
  let text: string;
  try {
    // atob is forgiving-base64: padding optional, like the configs seen in the wild.
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalid(file, "has an auth value that is not base64 of UTF-8 text", key);
  }
  const colon = text.indexOf(":");
  if (colon < 0) throw invalid(file, "has an auth value without a user:password separator", key);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

const present = (s: string | undefined): s is string => s !== undefined && s !== "";

/**
 * Turns an `auths` entry into a Credential. Precedence follows Docker and
 * go-containerregistry: `registrytoken` (bearer as is) > `identitytoken`
 * (refresh token; user name from `auth`/`username` kept) > `auth` > `username`+`password`.
 * Empty strings count as absent (Docker writes `"auth": ""`).
 *
 * Returns `undefined` for an entry with nothing usable (e.g. `{}`, which
 * Docker writes as a marker when the secret lives in `credsStore`): the
 * caller then falls through to its next source, ending at anonymous.
 */
export function entryToCredential(entry: Record<string, unknown>, file: string, key: string): Credential | undefined {
  const { key: _ignored, ...fields } = entry;
  const parsed = AuthEntry.safeParse(fields);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.map(String).join(".") ?? "";
    throw invalid(file, field === "" ? "is not an object" : `field ${field}: expected string`, key);
  }
  const e = parsed.data;
  if (present(e.registrytoken)) return { kind: "registryToken", token: e.registrytoken };
  const fromAuth = present(e.auth) ? decodeAuth(e.auth, file, key) : undefined;
  const username = fromAuth?.username ?? (present(e.username) ? e.username : undefined);
  if (present(e.identitytoken)) {
    return present(username)
      ? { kind: "identityToken", token: e.identitytoken, username }
      : { kind: "identityToken", token: e.identitytoken };
  }
  if (fromAuth !== undefined) return { kind: "basic", ...fromAuth };
  if (present(e.username) && present(e.password)) {
    return { kind: "basic", username: e.username, password: e.password };
  }
  if (present(e.username)) throw invalid(file, "has a username but no password", key);
  if (present(e.password)) throw invalid(file, "has a password but no username", key);
  return undefined;
}

/** selectCredentials + entryToCredential: the credential for `registry` in `config`, if any. */
export function credentialFromConfig(
  config: { auths?: Record<string, unknown> },
  registry: string,
  file: string,
): { key: string; credential: Credential } | undefined {
  const entry = selectCredentials(config, registry);
  if (entry === undefined) return undefined;
  const credential = entryToCredential(entry, file, entry.key);
  return credential === undefined ? undefined : { key: entry.key, credential };
}
