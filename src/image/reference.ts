/**
 * Image references: parsing and formatting with go-containerregistry's
 * `name.ParseReference` semantics (weak validation), tightened where ggcr is
 * laxer than the distribution grammar (a contract: docs/architecture.md#contracts). Pure.
 */
import { RunnerError } from "../errors.ts";

export interface ImageReference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = "index.docker.io";
const DOCKER_HUB_ALIAS = "docker.io";
const DEFAULT_TAG = "latest";

// distribution/reference path-component: alnum runs joined by `.`, `_`, `__` or dashes.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const REPOSITORY_CHARS = /^[a-z0-9_\-./]*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const TAG_CHARS = /^[A-Za-z0-9_.-]*$/;
// ggcr only accepts the canonical algorithm.
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST_LABEL = /^[A-Za-z0-9_-]+$/;
const PORT = /^[0-9]{1,5}$/;

/** Bounds from the distribution grammar and Docker: a host name, the whole name, a tag. */
export const HOST_MAX = 253;
export const NAME_MAX = 255;
export const TAG_MAX = 128;
/** Longest text parseReference looks at: name, ":" tag, "@sha256:" and 64 hex digits. */
export const REFERENCE_MAX = NAME_MAX + 1 + TAG_MAX + 1 + 71;

/** Quotes caller text for an error message, cut short: a 5 MB name must not become a 5 MB error. */
export function quote(text: string, max = 200): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

const fail = (input: string, what: string): never => {
  throw new RunnerError("INVALID_REFERENCE", `invalid image reference ${quote(input)}: ${what}`);
};

/** Splits `host[:port]` / `[v6][:port]` / bare `::1`; undefined when malformed. */
function splitHostPort(registry: string): { host: string; port?: string; bracketed: boolean } | undefined {
  if (registry.startsWith("[")) {
    const close = registry.indexOf("]");
    if (close < 0) return undefined;
    const host = registry.slice(1, close);
    const rest = registry.slice(close + 1);
    if (rest === "") return { host, bracketed: true };
    if (!rest.startsWith(":")) return undefined;
    return { host, port: rest.slice(1), bracketed: true };
  }
  const colons = registry.split(":").length - 1;
  // An unbracketed IPv6 literal cannot carry a port, so take it whole.
  if (colons > 1) return { host: registry, bracketed: false };
  const i = registry.indexOf(":");
  return i < 0 ? { host: registry, bracketed: false } : { host: registry.slice(0, i), port: registry.slice(i + 1), bracketed: false };
}

function isIPv6(host: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(":")) return false;
  try {
    // WHATWG URL does the full RFC 4291 check (and is available in Bun, Deno and Node).
    new URL(`http://[${host}]/`);
    return true;
  } catch {
    return false;
  }
}

/** Why `registry` is not a valid RFC 3986 authority (host[:port]), or undefined when it is. */
function registryProblem(registry: string): string | undefined {
  const parts = splitHostPort(registry);
  if (parts === undefined) return `registry ${quote(registry)} is not a valid host[:port]`;
  const { host, port, bracketed } = parts;
  if (port !== undefined) {
    if (!PORT.test(port) || Number(port) > 65535) return `registry ${quote(registry)} has an invalid port`;
  }
  if (host.length > HOST_MAX) return `registry host is longer than ${HOST_MAX} characters`;
  if (bracketed) {
    return isIPv6(host) ? undefined : `registry ${quote(registry)} is not a valid IPv6 address`;
  }
  // RFC 3986 authorities need brackets around IPv6 literals.
  if (host.includes(":")) return `registry ${quote(registry)}: an IPv6 address must be in brackets`;
  if (host === "" || !host.split(".").every((l) => HOST_LABEL.test(l))) {
    return `registry ${quote(registry)} is not a valid host name`;
  }
  return undefined;
}

function repositoryProblem(repository: string): string | undefined {
  const q = quote(repository);
  // Same bounds as ggcr's checkRepository (on the name as written, before `library/`).
  if (repository.length < 2) return `repository ${q} must be at least 2 characters`;
  if (repository.length > NAME_MAX) return `repository ${q} must be at most ${NAME_MAX} characters`;
  if (!REPOSITORY_CHARS.test(repository)) {
    return /[A-Z]/.test(repository) && REPOSITORY_CHARS.test(repository.toLowerCase())
      ? `repository ${q} must be lower-case`
      : `repository ${q} may only contain [a-z0-9_-./]`;
  }
  const bad = repository.split("/").find((c) => !PATH_COMPONENT.test(c));
  if (bad !== undefined) {
    return bad === ""
      ? `repository ${q} has an empty path component`
      : `repository path component ${quote(bad)} must start and end with [a-z0-9] and use only ".", "_", "__" or "-" as separators`;
  }
  return undefined;
}

function tagProblem(tag: string): string | undefined {
  const q = quote(tag);
  if (tag.length > TAG_MAX) return `tag ${q} must be at most ${TAG_MAX} characters`;
  if (!TAG_CHARS.test(tag)) return `tag ${q} may only contain [A-Za-z0-9_.-]`;
  if (!TAG.test(tag)) return `tag ${q} must not start with "." or "-"`;
  return undefined;
}

/**
 * Parses an image reference. Docker Hub is `index.docker.io` (also when given
 * as `docker.io`), one-element Hub names get `library/`, the tag defaults to
 * `latest` only when there is no digest, and `repo:tag@digest` keeps both
 * (ggcr would drop the tag). Throws RunnerError INVALID_REFERENCE.
 */
export function parseReference(input: string): ImageReference {
  if (input.length === 0) fail(input, "it is empty");
  // Checked before any other work: caller text this long is never stored, echoed or scanned.
  if (input.length > REFERENCE_MAX) fail(input, `it is longer than ${REFERENCE_MAX} characters`);
  if (/\s/.test(input)) fail(input, "it contains whitespace");
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(input)) fail(input, "it must not start with a URL scheme");

  let rest = input;
  let digest: string | undefined;
  const at = input.indexOf("@");
  if (at >= 0) {
    if (input.indexOf("@", at + 1) >= 0) fail(input, 'it contains more than one "@"');
    digest = input.slice(at + 1);
    rest = input.slice(0, at);
    if (digest === "") fail(input, 'a digest must follow "@"');
    if (!digest.startsWith("sha256:")) fail(input, `unsupported digest algorithm in ${quote(digest)} (only sha256 is accepted)`);
    if (!DIGEST.test(digest)) fail(input, `digest ${quote(digest)} must be "sha256:" followed by 64 lower-case hex characters`);
    if (rest === "") fail(input, "a repository must precede the digest");
  }

  // Like ggcr: the last ":" starts a tag unless what follows contains "/" (then it is a port).
  let name = rest;
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0 && !rest.slice(colon + 1).includes("/")) {
    tag = rest.slice(colon + 1);
    name = rest.slice(0, colon);
    if (tag === "") fail(input, 'a tag must follow ":"');
    const problem = tagProblem(tag);
    if (problem !== undefined) fail(input, problem);
  }
  if (name === "") fail(input, "a repository name must be specified");

  let registry = DOCKER_HUB;
  let repository = name;
  const slash = name.indexOf("/");
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (first === "localhost" || first.includes(".") || first.includes(":")) {
      // Host names are case-insensitive: lower-cased once here, so cache keys, credential
      // lookup, transport choice and the same-origin check all see one spelling.
      const host = normaliseRegistry(first);
      registry = host === DOCKER_HUB_ALIAS ? DOCKER_HUB : host;
      repository = name.slice(slash + 1);
      const problem = registryProblem(first);
      if (problem !== undefined) fail(input, problem);
    }
  }
  const problem = repositoryProblem(repository);
  if (problem !== undefined) fail(input, problem);
  // Docker and distribution bound the whole name, registry included.
  if (name.length > NAME_MAX) fail(input, `the name (registry and repository) must be at most ${NAME_MAX} characters`);
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;

  const ref: ImageReference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  else if (digest === undefined) ref.tag = DEFAULT_TAG;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** One spelling per registry host: lower case (host names are case-insensitive, RFC 4343). */
export function normaliseRegistry(registry: string): string {
  return registry.toLowerCase();
}

/** The full, explicit form: `registry/repository[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  let out = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** `registry/repository@digest`: what function pods run, immune to tag moves. */
export function pinnedReference(ref: ImageReference, digest: string): string {
  // Refuse anything parseReference would not read back.
  if (!DIGEST.test(digest)) {
    throw new RunnerError("INVALID_REFERENCE", `cannot pin ${ref.registry}/${ref.repository} to ${quote(digest)}: not a sha256 digest`);
  }
  return `${ref.registry}/${ref.repository}@${digest}`;
}

/**
 * kpt's short-name rule: a name without any "/" lives under the default
 * prefix (`set-namespace:v0.4.1` → `<prefix>set-namespace:v0.4.1`).
 */
export function expandShortName(image: string, defaultPrefix: string): string {
  if (image.includes("/") || defaultPrefix === "") return image;
  return defaultPrefix.endsWith("/") ? defaultPrefix + image : `${defaultPrefix}/${image}`;
}

/** Host without port, IPv6 brackets stripped (`[::1]:5000` → `::1`). */
export function registryHost(registry: string): string {
  return splitHostPort(registry)?.host ?? registry;
}

const IPV4_LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** `localhost`, 127.0.0.0/8 or `::1`, with or without port: registries ggcr talks plain HTTP to. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registryHost(registry).toLowerCase();
  if (host === "localhost") return true;
  const v4 = IPV4_LOOPBACK.exec(host);
  if (v4 !== null) return v4.slice(1).every((o) => Number(o) <= 255);
  if (!isIPv6(host)) return false;
  // Normalise spellings such as 0:0:0:0:0:0:0:1.
  return new URL(`http://[${host}]/`).hostname === "[::1]";
}
