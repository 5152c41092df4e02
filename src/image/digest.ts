/**
 * Content digests (docs/registry.md): the sha256 registries name content by,
 * and the one check that fetched bytes are the content a digest names. Pure.
 */
import { createHash } from "node:crypto";
import { RunnerError } from "../errors.ts";

/** `sha256:<hex>` over the exact bytes: the manifest digest registries use. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Fetched content: its sha256 digest and its length in bytes. */
export interface Content {
  digest: string;
  size: number;
}

/** What the content should be: a digest, and its size when a descriptor gives one. */
export interface Expected {
  digest: string;
  size?: number;
}

/**
 * Only sha256 is computed. Content fetched by a digest of another algorithm
 * cannot be shown to be it: `refuse` treats it as a mismatch (a pinned
 * reference, an index entry), `trust` lets it pass unchecked (a registry's
 * Docker-Content-Digest claim, a config blob).
 */
export type OtherAlgorithm = "refuse" | "trust";

/** Whether `actual` is the content `expected` names. */
export function digestMatches(actual: Content, expected: Expected, other: OtherAlgorithm): boolean {
  if (!expected.digest.startsWith("sha256:")) return other === "trust";
  if (actual.digest !== expected.digest) return false;
  return expected.size === undefined || expected.size === actual.size;
}

/** Throws DIGEST_MISMATCH with `message()` unless `actual` is the content `expected` names. */
export function verifyDigest(actual: Content, expected: Expected, other: OtherAlgorithm, message: () => string): void {
  if (!digestMatches(actual, expected, other)) throw new RunnerError("DIGEST_MISMATCH", message());
}
