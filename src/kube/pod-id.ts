/**
 * podID: the name of a function pod, of its Service and the value of its
 * `fn.kpt.dev/image` label (docs/kubernetes.md; why it is sanitised:
 * docs/porch-differences.md, "Pod names"). Pure.
 *
 * Upstream (Porch func/internal/podmanager.go `podID`) builds
 *   `<last path element, _→-><tag or digest, dots removed>-<postfix>-<first 8 hex of digest>`
 * and uses it unchecked, so an upper-case tag, a `_` in a tag, a digest
 * reference (its `:`), a name starting with a digit or simply a long name
 * makes the Service create fail (Service names are DNS-1035 labels).
 *
 * Ours keeps upstream's id byte for byte whenever it already is a valid
 * DNS-1035 label of at most 63 characters (readable, and what operators used
 * to upstream expect to see). Otherwise it is rebuilt as
 *   `<sanitised name-ident, truncated>-<h>-<postfix>-<first 8 hex of digest>`
 * where `h` is a short hash of upstream's full, unsanitised id. The hash is
 * there because sanitising and truncating lose information (`V1` and `v1`
 * are different tags; two long names can share their first 30 characters):
 * without it two different images could get one id, and then one Service
 * would select both pods and one runner would delete the other's pod.
 *
 * The postfix is upstream's pod instance number within one image (the first
 * pod, also the warm-up pod, is 1; scaling out to N parallel pods gives
 * 2..N), so parallel pods of one image get distinct Services. It is an
 * ordinal, not a random suffix: random names come from `generateName` on the
 * Pod, never from the id, which must be stable for its Service.
 */
import { createHash } from "node:crypto";
import { RunnerError } from "../errors.ts";
import { type ImageReference, parseReference } from "../image/reference.ts";

/** Longest DNS-1035 label (Service names, label values). */
export const MAX_POD_ID_LENGTH = 63;

/** Upstream's postfix for the first pod of an image (and for warm-up pods). */
export const DEFAULT_POD_POSTFIX = "1";

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const HEX8 = /^[a-f0-9]{8}/;
// 10 base32 characters = 50 bits: with the 32 digest bits next to it,
// accidental collisions are out of reach for any realistic number of images.
const HASH_LENGTH = 10;
// Keeps the tail short enough that a readable name part always remains.
const MAX_POSTFIX_LENGTH = 16;
// Prefixed when the name part would not start with a letter (DNS-1035).
const LETTER_PREFIX = "fn";
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters: valid Service names and label values. */
export function isDns1035Label(s: string): boolean {
  return s.length <= MAX_POD_ID_LENGTH && DNS1035_LABEL.test(s);
}

/** Lower-case, anything outside `[a-z0-9-]` → `-`, runs of `-` collapsed, no `-` at either end. */
function sanitise(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** Lower-case base32 (no padding) of sha256(s), first `n` characters. */
function shortHash(s: string, n: number): string {
  const bytes = createHash("sha256").update(s, "utf8").digest();
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < n) {
      bits -= 5;
      out += BASE32[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
    if (out.length >= n) break;
  }
  return out;
}

/**
 * The hex part of a digest: accepts `sha256:<hex>` (what we store) and bare
 * hex (what upstream passes). Its first 8 characters end every id.
 */
function digestHex8(digest: string): string {
  const hex = digest.slice(digest.lastIndexOf(":") + 1);
  const m = HEX8.exec(hex);
  if (m === null) {
    throw new RunnerError("INVALID_REFERENCE", `cannot derive a pod id from digest ${JSON.stringify(digest)}: expected sha256:<hex>`);
  }
  return m[0];
}

/**
 * The pod id of `ref` resolved to `digest` (the platform manifest's digest,
 * see `podIdForImage`), for pod instance `postfix`.
 *
 * Deterministic; always a DNS-1035 label of at most 63 characters ending in
 * `-<first 8 hex of digest>`. For a reference with both a tag and a digest
 * the tag is used (upstream's ggcr would take the digest, which is invalid
 * anyway and already represented by the last segment).
 */
export function podId(ref: ImageReference, digest: string, postfix: string = DEFAULT_POD_POSTFIX): string {
  const hex8 = digestHex8(digest);
  const lastElement = ref.repository.slice(ref.repository.lastIndexOf("/") + 1);
  const name = lastElement.replaceAll("_", "-");
  const ident = (ref.tag ?? ref.digest ?? "").replaceAll(".", "");
  const upstream = `${name}-${ident}-${postfix}-${hex8}`;
  if (isDns1035Label(upstream)) return upstream;

  const h = shortHash(upstream, HASH_LENGTH);
  const post = sanitise(postfix).slice(0, MAX_POSTFIX_LENGTH).replace(/-+$/, "");
  const tail = post === "" ? `-${hex8}` : `-${post}-${hex8}`;
  let head = sanitise(`${name}-${ident}`);
  if (!/^[a-z]/.test(head)) head = head === "" ? LETTER_PREFIX : `${LETTER_PREFIX}-${head}`;
  const budget = MAX_POD_ID_LENGTH - tail.length - 1 - HASH_LENGTH;
  head = head.slice(0, budget).replace(/-+$/, "");
  return `${head}-${h}${tail}`;
}

/**
 * podId for an image's resolved metadata: its reference as written, and the
 * digest of the manifest picked for the configured platform (`--platform`,
 * default linux/amd64). Porch's id ends in the 8 hex digits of that platform
 * manifest (go-containerregistry's `remote.Image` resolves an index to
 * linux/amd64 before `Digest()`), so taking the same digest makes our ids
 * equal Porch's for multi-arch images too, and each side recognises the
 * other's pods. The pod itself still runs the index digest (./pod-spec.ts).
 * Metadata without a platform digest (a single manifest) uses `digest`.
 */
export function podIdForImage(metadata: { reference: string; digest: string; platformDigest?: string }, postfix: string = DEFAULT_POD_POSTFIX): string {
  const digest = metadata.platformDigest !== undefined && metadata.platformDigest !== "" ? metadata.platformDigest : metadata.digest;
  return podId(parseReference(metadata.reference), digest, postfix);
}
