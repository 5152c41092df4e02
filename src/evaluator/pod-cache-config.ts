/**
 * Porch v4's `--pod-cache-config` file: a YAML map of function image → TTL
 * (Go duration), e.g. `gcr.io/kpt-fn/set-namespace:v0.4.1: 30m`. With
 * `--warm-up-pod-cache` each image gets a pod at start-up; its TTL is the
 * image's pod TTL (Porch v4.1.2 used it for the warm-up pod's first
 * reclaim-after only; docs/porch-differences.md). Pure parsing, plus a
 * reader that never throws: a missing or broken file is a warning, as in
 * Porch ("unable to warm up the pod cache"), and no reason to stop serving.
 */
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { parseDuration } from "../config/duration.ts";
import type { Logger } from "../log.ts";
import { imageKeys } from "./exec-config.ts";

/** Bounded: a ConfigMap holds at most 1 MiB. */
const MAX_FILE_BYTES = 1024 * 1024;

export interface PodCacheEntry {
  image: string;
  /** undefined: the TTL did not parse (`--pod-ttl` applies). */
  ttlMs?: number;
}

export interface PodCacheConfig {
  entries: PodCacheEntry[];
  warnings: string[];
  /** Normalised image → TTL (ms), for the images whose TTL parsed. */
  ttlByKey: ReadonlyMap<string, number>;
}

export const EMPTY_POD_CACHE_CONFIG: PodCacheConfig = { entries: [], warnings: [], ttlByKey: new Map() };

export function parsePodCacheConfig(source: string, file: string, defaultImagePrefix: string): { ok: true; config: PodCacheConfig } | { ok: false; error: string } {
  let doc: unknown;
  try {
    doc = parse(source);
  } catch (e) {
    return { ok: false, error: `${file}: not valid YAML: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}` };
  }
  if (doc === null || doc === undefined) return { ok: true, config: EMPTY_POD_CACHE_CONFIG };
  if (typeof doc !== "object" || Array.isArray(doc)) return { ok: false, error: `${file}: expected a map of image to TTL` };
  const entries: PodCacheEntry[] = [];
  const warnings: string[] = [];
  const ttlByKey = new Map<string, number>();
  for (const [image, value] of Object.entries(doc)) {
    const text = typeof value === "string" ? value : String(value);
    const ms = parseDuration(text);
    let keys: string[];
    try {
      keys = imageKeys(image, defaultImagePrefix);
    } catch (e) {
      warnings.push(`${file}: ${JSON.stringify(image)}: ${e instanceof Error ? e.message : String(e)}; skipped`);
      continue;
    }
    if (ms === undefined || ms <= 0) {
      warnings.push(`${file}: ${JSON.stringify(image)}: TTL ${JSON.stringify(text)} is not a duration; --pod-ttl applies`);
      entries.push({ image });
      continue;
    }
    entries.push({ image, ttlMs: ms });
    for (const k of keys) ttlByKey.set(k, ms);
  }
  return { ok: true, config: { entries, warnings, ttlByKey } };
}

/** The TTL the file gives an image, if any. */
export function podCacheTtl(config: PodCacheConfig, image: string, defaultImagePrefix: string): number | undefined {
  let keys: string[];
  try {
    keys = imageKeys(image, defaultImagePrefix);
  } catch {
    return undefined;
  }
  for (const k of keys) {
    const ms = config.ttlByKey.get(k);
    if (ms !== undefined) return ms;
  }
  return undefined;
}

/** Reads the file; problems are logged and give an empty configuration. */
export async function readPodCacheConfig(file: string, defaultImagePrefix: string, logger: Logger): Promise<PodCacheConfig> {
  let source: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_FILE_BYTES) {
      logger.warn("pod cache config is too large; ignored", { file, bytes: bytes.length, max: MAX_FILE_BYTES });
      return EMPTY_POD_CACHE_CONFIG;
    }
    source = bytes.toString("utf8");
  } catch (e) {
    // Porch's default path is set even where nobody mounts the file: absent is not worth a warning.
    const absent = (e as { code?: unknown }).code === "ENOENT";
    (absent ? logger.info : logger.warn).call(logger, absent ? "no pod cache config file" : "unable to read the pod cache config; no pods are warmed from it", {
      file,
      error: e instanceof Error ? e.message : String(e),
    });
    return EMPTY_POD_CACHE_CONFIG;
  }
  const parsed = parsePodCacheConfig(source, file, defaultImagePrefix);
  if (!parsed.ok) {
    logger.warn("unable to parse the pod cache config; no pods are warmed from it", { file, error: parsed.error });
    return EMPTY_POD_CACHE_CONFIG;
  }
  for (const w of parsed.config.warnings) logger.warn("pod cache config warning", { file, warning: w });
  return parsed.config;
}
