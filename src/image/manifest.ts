/**
 * Manifest media types, schemas, index platform selection and entrypoint
 * extraction (docs/registry.md); digests are ./digest.ts. Pure.
 */
import { z } from "zod";
import { RunnerError } from "../errors.ts";
import { effectiveVariant, formatPlatform, normaliseArch, type Platform } from "./platform.ts";

export const MEDIA_TYPE = {
  OCI_MANIFEST: "application/vnd.oci.image.manifest.v1+json",
  OCI_INDEX: "application/vnd.oci.image.index.v1+json",
  DOCKER_MANIFEST: "application/vnd.docker.distribution.manifest.v2+json",
  DOCKER_MANIFEST_LIST: "application/vnd.docker.distribution.manifest.list.v2+json",
  DOCKER_SCHEMA1: "application/vnd.docker.distribution.manifest.v1+json",
  DOCKER_SCHEMA1_SIGNED: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  OCI_CONFIG: "application/vnd.oci.image.config.v1+json",
  DOCKER_CONFIG: "application/vnd.docker.container.image.v1+json",
} as const;

export const OCI_MANIFEST = MEDIA_TYPE.OCI_MANIFEST;
export const OCI_INDEX = MEDIA_TYPE.OCI_INDEX;
export const DOCKER_MANIFEST = MEDIA_TYPE.DOCKER_MANIFEST;
export const DOCKER_MANIFEST_LIST = MEDIA_TYPE.DOCKER_MANIFEST_LIST;
export const DOCKER_SCHEMA1 = MEDIA_TYPE.DOCKER_SCHEMA1;
export const DOCKER_SCHEMA1_SIGNED = MEDIA_TYPE.DOCKER_SCHEMA1_SIGNED;
export const OCI_CONFIG = MEDIA_TYPE.OCI_CONFIG;
export const DOCKER_CONFIG = MEDIA_TYPE.DOCKER_CONFIG;

export const INDEX_MEDIA_TYPES: readonly string[] = [OCI_INDEX, DOCKER_MANIFEST_LIST];
export const IMAGE_MEDIA_TYPES: readonly string[] = [OCI_MANIFEST, DOCKER_MANIFEST];
export const SCHEMA1_MEDIA_TYPES: readonly string[] = [DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED];
export const CONFIG_MEDIA_TYPES: readonly string[] = [OCI_CONFIG, DOCKER_CONFIG];

/** Accept header for manifest requests: the four supported types, nothing else. */
export const MANIFEST_ACCEPT: string = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ");

/** Media type without parameters, lower-cased (RFC 6838 types are case-insensitive). */
export function normaliseMediaType(value: string): string {
  return (value.split(";")[0] ?? "").trim().toLowerCase();
}

export const isIndexMediaType = (mediaType: string): boolean => INDEX_MEDIA_TYPES.includes(normaliseMediaType(mediaType));
export const isImageMediaType = (mediaType: string): boolean => IMAGE_MEDIA_TYPES.includes(normaliseMediaType(mediaType));

// OCI image-spec digest grammar; verification itself is sha256-only elsewhere.
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

// Unknown fields are stripped, never rejected: registries and builders add their own.
export const DescriptorPlatform = z.object({
  architecture: z.string(),
  os: z.string(),
  "os.version": z.string().optional(),
  "os.features": z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});
export type DescriptorPlatform = z.infer<typeof DescriptorPlatform>;

export const Descriptor = z.object({
  mediaType: z.string(),
  digest: z.string().regex(DIGEST_GRAMMAR, "not a valid digest"),
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: DescriptorPlatform.optional(),
  artifactType: z.string().optional(),
});
export type Descriptor = z.infer<typeof Descriptor>;

export const ImageManifest = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: Descriptor,
  layers: z.array(Descriptor),
  subject: Descriptor.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageManifest = z.infer<typeof ImageManifest>;

export const ImageIndex = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(Descriptor),
  subject: Descriptor.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageIndex = z.infer<typeof ImageIndex>;

const StringList = z.array(z.string()).nullish();

export const ImageConfig = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  variant: z.string().optional(),
  config: z
    .object({
      Entrypoint: StringList,
      Cmd: StringList,
      Env: StringList,
      WorkingDir: z.string().nullish(),
      User: z.string().nullish(),
    })
    .nullish(),
});
export type ImageConfig = z.infer<typeof ImageConfig>;

export type ClassifiedManifest =
  | { kind: "index"; mediaType: string; index: ImageIndex }
  | { kind: "image"; mediaType: string; manifest: ImageManifest };

// Content types that say nothing about the manifest, so the body decides.
const GENERIC_CONTENT_TYPES: ReadonlySet<string> = new Set(["", "application/json", "application/octet-stream", "text/plain"]);

const kindOf = (mediaType: string): "index" | "image" | undefined =>
  INDEX_MEDIA_TYPES.includes(mediaType) ? "index" : IMAGE_MEDIA_TYPES.includes(mediaType) ? "image" : undefined;

const where = (source: string | undefined): string => (source === undefined ? "" : ` for ${source}`);

const unsupported = (what: string, source: string | undefined): never => {
  throw new RunnerError("UNSUPPORTED_MEDIA_TYPE", `unsupported manifest${where(source)}: ${what}`);
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function schemaIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`);
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : "";
  return shown.join("; ") + more;
}

function decodeJson(bytes: Uint8Array, fatal = true): unknown {
  // fatal: invalid UTF-8 must not be papered over with U+FFFD.
  return JSON.parse(new TextDecoder("utf-8", { fatal }).decode(bytes));
}

/**
 * Decides what a manifest is and validates it. The media type comes from
 * Content-Type (parameters ignored), else the body's `mediaType`, else the
 * shape (`manifests` → OCI index, `config`+`layers` → OCI manifest). A body
 * `mediaType` of the other kind than the header is refused. Everything
 * unusable (schema 1, unknown types, bad JSON, schema violations) throws
 * RunnerError UNSUPPORTED_MEDIA_TYPE. `source` (e.g. the image) only feeds messages.
 */
export function classifyManifest(bytes: Uint8Array, contentType: string | undefined, source?: string): ClassifiedManifest {
  const header = normaliseMediaType(contentType ?? "");
  if (SCHEMA1_MEDIA_TYPES.includes(header)) unsupported(`Docker schema 1 (${header}) is not supported; push the image with schema 2 or OCI`, source);

  let json: unknown;
  try {
    json = decodeJson(bytes);
  } catch {
    return unsupported("body is not valid JSON", source);
  }
  if (!isRecord(json)) return unsupported("body is not a JSON object", source);

  const rawBodyType = typeof json.mediaType === "string" ? normaliseMediaType(json.mediaType) : "";
  const bodyType = rawBodyType === "" ? undefined : rawBodyType;
  let mediaType: string;
  if (!GENERIC_CONTENT_TYPES.has(header)) mediaType = header;
  else if (bodyType !== undefined) mediaType = bodyType;
  else if (json.schemaVersion === 1) mediaType = DOCKER_SCHEMA1;
  else if ("manifests" in json) mediaType = OCI_INDEX;
  else if ("config" in json && "layers" in json) mediaType = OCI_MANIFEST;
  else return unsupported("no media type in Content-Type or body, and the body is neither an index nor an image manifest", source);

  if (SCHEMA1_MEDIA_TYPES.includes(mediaType)) unsupported("Docker schema 1 is not supported; push the image with schema 2 or OCI", source);
  const kind = kindOf(mediaType);
  if (kind === undefined) {
    return unsupported(`media type ${JSON.stringify(mediaType)} is not one of ${[...INDEX_MEDIA_TYPES, ...IMAGE_MEDIA_TYPES].join(", ")}`, source);
  }
  if (bodyType !== undefined && bodyType !== mediaType && kindOf(bodyType) !== kind) {
    unsupported(`Content-Type ${JSON.stringify(mediaType)} contradicts the body's mediaType ${JSON.stringify(bodyType)}`, source);
  }

  if (kind === "index") {
    const parsed = ImageIndex.safeParse(json);
    if (!parsed.success) return unsupported(`body does not match the ${mediaType} schema: ${schemaIssues(parsed.error)}`, source);
    return { kind, mediaType, index: parsed.data };
  }
  const parsed = ImageManifest.safeParse(json);
  if (!parsed.success) return unsupported(`body does not match the ${mediaType} schema: ${schemaIssues(parsed.error)}`, source);
  return { kind, mediaType, manifest: parsed.data };
}

/** Parses a config blob; throws UNSUPPORTED_MEDIA_TYPE when it is not an image config. */
export function parseImageConfig(bytes: Uint8Array, source?: string): ImageConfig {
  let json: unknown;
  try {
    // Not fatal, unlike manifests: a config is read for its entrypoint, and an
    // invalid byte in, say, a label must not make the image unresolvable (Go's
    // encoding/json, and so Porch, replaces it with U+FFFD too).
    json = decodeJson(bytes, false);
  } catch {
    throw new RunnerError("UNSUPPORTED_MEDIA_TYPE", `image config${where(source)} is not valid JSON`);
  }
  const parsed = ImageConfig.safeParse(json);
  if (!parsed.success) {
    throw new RunnerError("UNSUPPORTED_MEDIA_TYPE", `image config${where(source)} does not match the schema: ${schemaIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** Buildkit's provenance/SBOM entries: they look like manifests but are not runnable. */
export function isAttestation(d: Descriptor): boolean {
  if (d.annotations?.["vnd.docker.reference.type"] === "attestation-manifest") return true;
  return d.platform?.os === "unknown" && d.platform.architecture === "unknown";
}

/**
 * First index entry whose os and architecture match; the variant is compared
 * only when `want.variant` is given, with containerd's implied defaults
 * (arm64 → v8, arm → v7). Attestations are skipped. Throws
 * NO_MATCHING_PLATFORM naming the platforms that are there.
 */
export function selectPlatform(index: ImageIndex, want: Platform, source?: string): Descriptor {
  const w = normaliseArch(want.architecture, want.variant);
  const wantOs = want.os.toLowerCase();
  const wantVariant = w.variant === undefined || w.variant === "" ? undefined : effectiveVariant(w.architecture, w.variant);
  const candidates = index.manifests.filter((d) => !isAttestation(d));
  for (const d of candidates) {
    if (d.platform === undefined) continue;
    const have = normaliseArch(d.platform.architecture, d.platform.variant);
    if (d.platform.os.toLowerCase() !== wantOs || have.architecture !== w.architecture) continue;
    if (wantVariant !== undefined && effectiveVariant(have.architecture, have.variant) !== wantVariant) continue;
    return d;
  }
  const available = [
    ...new Set(candidates.map((d) => (d.platform === undefined ? "(no platform)" : formatPlatform(d.platform)))),
  ];
  throw new RunnerError(
    "NO_MATCHING_PLATFORM",
    `no manifest for platform ${formatPlatform(want)} in the index${where(source)}; available: ${available.length > 0 ? available.join(", ") : "none"}`,
  );
}

export interface EntrypointInfo {
  /** What the wrapper server must exec: Entrypoint, else Cmd (never both, as upstream Porch). */
  entrypoint: string[];
  configEntrypoint: string[] | null;
  configCmd: string[] | null;
}

/** Entrypoint if non-empty, else Cmd if non-empty, else NO_ENTRYPOINT (upstream crashes the wrapper instead). */
export function extractEntrypoint(config: ImageConfig, source?: string): EntrypointInfo {
  const configEntrypoint = config.config?.Entrypoint ?? null;
  const configCmd = config.config?.Cmd ?? null;
  const chosen =
    configEntrypoint !== null && configEntrypoint.length > 0 ? configEntrypoint : configCmd !== null && configCmd.length > 0 ? configCmd : undefined;
  if (chosen === undefined) {
    throw new RunnerError("NO_ENTRYPOINT", `image config${where(source)} has neither Entrypoint nor Cmd, so there is nothing to run`);
  }
  return {
    entrypoint: [...chosen],
    configEntrypoint: configEntrypoint === null ? null : [...configEntrypoint],
    configCmd: configCmd === null ? null : [...configCmd],
  };
}
