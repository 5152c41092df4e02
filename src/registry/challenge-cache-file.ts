/**
 * The challenge cache file (docs/registry.md), imperative part: where it
 * lives, reading it (only a regular file of ours that no one else can
 * write) and replacing it atomically (a temporary file renamed over it).
 * Never throws: a cache that cannot be read or written is only a slower start.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import process from "node:process";
import {
  CHALLENGE_CACHE_MAX_BYTES,
  mergeChallengeCache,
  parseChallengeCache,
  serializeChallengeCache,
  type ChallengeCache,
} from "./challenge-cache.ts";

/** `$XDG_CACHE_HOME/function-runner/challenges.json`, else under `~/.cache`; undefined without either. */
export function challengeCachePath(env: Record<string, string | undefined>, home: string | undefined): string | undefined {
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec: a relative XDG_CACHE_HOME is invalid and ignored.
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : home !== undefined && isAbsolute(home) ? join(home, ".cache") : undefined;
  return base === undefined ? undefined : join(base, "function-runner", "challenges.json");
}

export type CacheRead = { cache: ChallengeCache; problem?: undefined } | { cache: ChallengeCache; problem: string };

const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String(e);

/**
 * The usable entries of the file at `path`. A file that is missing, not a
 * regular file, someone else's, writable by group or others, or too large
 * gives an empty cache and says why (for a debug line).
 */
export async function readChallengeCache(path: string, now: number): Promise<CacheRead> {
  // Synchronous: one small file, read once by a one-shot command before anything else can run
  // (and node:fs/promises' first use costs more than the read).
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    return { cache: new Map(), problem: errno(e) === "ENOENT" ? "no cache file yet" : `cannot open: ${errno(e)}` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { cache: new Map(), problem: "not a regular file" };
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return { cache: new Map(), problem: "owned by another user" };
    if ((st.mode & 0o022) !== 0) return { cache: new Map(), problem: "writable by group or others" };
    if (st.size > CHALLENGE_CACHE_MAX_BYTES) return { cache: new Map(), problem: `larger than ${CHALLENGE_CACHE_MAX_BYTES} bytes` };
    return { cache: parseChallengeCache(readFileSync(fd, "utf8"), now) };
  } catch (e) {
    return { cache: new Map(), problem: `cannot read: ${errno(e)}` };
  } finally {
    closeSync(fd);
  }
}

/**
 * Merges what this process learned (and drops what it found stale) into the
 * file as it is now, then replaces it atomically: a concurrent reader sees
 * the old file or the new one, never a mix. Returns a problem, or undefined.
 */
export async function writeChallengeCache(path: string, learned: ChallengeCache, stale: readonly string[], now: number): Promise<string | undefined> {
  const onDisk = (await readChallengeCache(path, now)).cache;
  const next = mergeChallengeCache(onDisk, learned, stale, now);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(serializeChallengeCache(next));
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    return undefined;
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    return `cannot write: ${errno(e)}`;
  }
}
