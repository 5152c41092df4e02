/**
 * Default-keychain vs custom-auth decision (docs/auth.md). Pure.
 *
 * Upstream only treats `gcr.io/kpt-fn/` as default although short names
 * resolve to the configured default image prefix; here every configured
 * default prefix counts.
 */
import { canonicalRegistry } from "./docker-config.ts";
import type { ResolvedCredential } from "../registry/credential.ts";

/** What the decision needs of a parsed reference (parseReference's result fits). */
export interface ImageRefLike {
  registry: string;
  repository: string;
}

export interface AuthStrategyOptions {
  enablePrivateRegistries: boolean;
  /** `--default-image-prefix`, e.g. `ghcr.io/kptdev/krm-functions-catalog/`. */
  defaultImagePrefix: string;
  /** Extra default prefixes (`--default-registries`); a bare host covers the whole registry. */
  defaultRegistries?: string[];
  /** `--registry-auth-secret-path`: where custom auth is read from. */
  registryAuthSecretPath: string;
}

export type AuthStrategy = "default" | "custom";

export interface AuthDecision {
  strategy: AuthStrategy;
  /** A sentence for humans (`explain`, resolve output). */
  reason: string;
}

/** Always a default prefix, as upstream. */
export const BUILTIN_DEFAULT_PREFIX = "gcr.io/kpt-fn/";

const isRegistryElement = (s: string): boolean => s === "localhost" || s.includes(".") || s.includes(":");

/**
 * A prefix in the comparable form `registry/path/`: scheme dropped, lower-case,
 * Docker Hub aliases as `index.docker.io`, a first element that is not a
 * registry taken as a Docker Hub namespace (as references are parsed), and
 * always ending in `/` so `gcr.io/kpt-fn` does not cover `gcr.io/kpt-fnX`.
 * `undefined` for an empty prefix, which must not cover everything.
 */
export function normalisePrefix(prefix: string): string | undefined {
  const s = prefix.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/^\/+|\/+$/g, "").toLowerCase();
  if (s === "") return undefined;
  const [first = "", ...rest] = s.split("/");
  const registry = isRegistryElement(first) ? canonicalRegistry(first) : undefined;
  const path = registry === undefined ? [first, ...rest] : rest;
  return [registry ?? "index.docker.io", ...path].join("/") + "/";
}

/** The default prefixes in effect, normalised, without duplicates, in a stable order. */
export function defaultPrefixes(opts: Pick<AuthStrategyOptions, "defaultImagePrefix" | "defaultRegistries">): string[] {
  const all = [BUILTIN_DEFAULT_PREFIX, opts.defaultImagePrefix, ...(opts.defaultRegistries ?? [])];
  const out: string[] = [];
  for (const p of all) {
    const n = normalisePrefix(p);
    if (n !== undefined && !out.includes(n)) out.push(n);
  }
  return out;
}

/** `registry/repository/` in the form prefixes are compared against. */
const imagePath = (image: ImageRefLike): string =>
  `${canonicalRegistry(image.registry)}/${image.repository.replace(/^\/+|\/+$/g, "").toLowerCase()}/`;

/** Which default prefix covers the image, if any (the longest, so the reason is the most specific). */
export function matchDefaultPrefix(image: ImageRefLike, prefixes: readonly string[]): string | undefined {
  const path = imagePath(image);
  let best: string | undefined;
  for (const p of prefixes) if (path.startsWith(p) && (best === undefined || p.length > best.length)) best = p;
  return best;
}

/**
 * Default keychain for images under a default prefix, and for every image
 * when private registries are disabled; custom auth from the mounted Docker
 * config otherwise.
 */
export function decideAuth(image: ImageRefLike, opts: AuthStrategyOptions): AuthDecision {
  const prefixes = defaultPrefixes(opts);
  const prefix = matchDefaultPrefix(image, prefixes);
  if (prefix !== undefined) {
    return { strategy: "default", reason: `image is under the default prefix ${prefix}` };
  }
  if (!opts.enablePrivateRegistries) {
    return { strategy: "default", reason: "private registries are disabled (--enable-private-registries=false)" };
  }
  const name = `${image.registry}/${image.repository}`;
  return {
    strategy: "custom",
    reason:
      `private registries are enabled and ${name} is not under a default prefix (${prefixes.join(", ")}), ` +
      `so credentials come from ${opts.registryAuthSecretPath}`,
  };
}

/** One line for `explain`: the strategy, why, and (when known) the credential source, never the secret. */
export function describeDecision(decision: AuthDecision, credential?: Pick<ResolvedCredential, "source">): string {
  const base = `auth strategy: ${decision.strategy} (${decision.reason})`;
  return credential === undefined ? base : `${base}; credential source: ${credential.source}`;
}
