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

/** Why a strategy was chosen: behaviour branches on this, never on the sentence. */
export type AuthCause = "default-prefix" | "private-disabled" | "custom";

/** The flags' decision rule, compiled once: prefixes normalised and deduplicated. */
export interface AuthPolicy {
  readonly enablePrivateRegistries: boolean;
  /** Normalised default prefixes, builtin first (defaultPrefixes). */
  readonly prefixes: readonly string[];
  readonly registryAuthSecretPath: string;
}

export type AuthDecision = (
  | { strategy: "default"; cause: "default-prefix"; /** The (longest) default prefix covering the image. */ prefix: string }
  | { strategy: "default"; cause: "private-disabled" }
  | { strategy: "custom"; cause: "custom" }
) & {
  /** A sentence for humans (`explain`, resolve output), rendered from the cause (authReason). */
  reason: string;
};

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

/** Compiles the flags into the policy decideAuth applies; done once, where the flags are read. */
export function compileAuthPolicy(opts: AuthStrategyOptions): AuthPolicy {
  return {
    enablePrivateRegistries: opts.enablePrivateRegistries,
    prefixes: defaultPrefixes(opts),
    registryAuthSecretPath: opts.registryAuthSecretPath,
  };
}

/** The sentence for a decision's cause. */
export function authReason(
  decision: { cause: "default-prefix"; prefix: string } | { cause: "private-disabled" | "custom" },
  image: ImageRefLike,
  policy: AuthPolicy,
): string {
  switch (decision.cause) {
    case "default-prefix":
      return `image is under the default prefix ${decision.prefix}`;
    case "private-disabled":
      return "private registries are disabled (--enable-private-registries=false)";
    case "custom":
      return (
        `private registries are enabled and ${image.registry}/${image.repository} is not under a default prefix (${policy.prefixes.join(", ")}), ` +
        `so credentials come from ${policy.registryAuthSecretPath}`
      );
  }
}

/**
 * Default keychain for images under a default prefix, and for every image
 * when private registries are disabled; custom auth from the mounted Docker
 * config otherwise.
 */
export function decideAuth(image: ImageRefLike, policy: AuthPolicy): AuthDecision {
  const prefix = matchDefaultPrefix(image, policy.prefixes);
  if (prefix !== undefined) {
    const cause = { cause: "default-prefix", prefix } as const;
    return { strategy: "default", ...cause, reason: authReason(cause, image, policy) };
  }
  if (!policy.enablePrivateRegistries) {
    const cause = { cause: "private-disabled" } as const;
    return { strategy: "default", ...cause, reason: authReason(cause, image, policy) };
  }
  const cause = { cause: "custom" } as const;
  return { strategy: "custom", ...cause, reason: authReason(cause, image, policy) };
}

/** One line for `explain`: the strategy, why, and (when known) the credential source, never the secret. */
export function describeDecision(decision: AuthDecision, credential?: Pick<ResolvedCredential, "source">): string {
  const base = `auth strategy: ${decision.strategy} (${decision.reason})`;
  return credential === undefined ? base : `${base}; credential source: ${credential.source}`;
}
