/**
 * The challenge cache file around one `resolve` (docs/registry.md): the
 * registry challenges learned by earlier processes are given to the client
 * before it sends anything, so a known registry gets a token request, not a
 * 401, first; afterwards what this process learned is written back and what
 * turned out stale is dropped. A seeded challenge that fails is dropped by
 * the client itself and learned again (src/registry/auth.ts `seed`).
 */
import { homedir } from "node:os";
import process from "node:process";
import type { Logger } from "../log.ts";
import type { RegistryAuth } from "../registry/auth.ts";
import { cacheEntry, toChallenge, type ChallengeCache } from "../registry/challenge-cache.ts";
import { challengeCachePath, readChallengeCache, writeChallengeCache } from "../registry/challenge-cache-file.ts";

export interface ChallengeCacheSession {
  /** Writes back what changed (nothing when the file already knew it all). */
  save(): Promise<void>;
}

const safeHome = (): string | undefined => {
  try {
    return homedir();
  } catch {
    return undefined;
  }
};

/** Seeds `auth` from the file. `enabled` false (`--challenge-cache=false`) or no cache directory: nothing is read or written. */
export async function openChallengeCache(
  auth: RegistryAuth,
  logger: Logger,
  opts: { enabled: boolean; path?: string; now?: () => number },
): Promise<ChallengeCacheSession> {
  const path = opts.enabled ? (opts.path ?? challengeCachePath(process.env, safeHome())) : undefined;
  if (path === undefined) return { save: async () => undefined };
  const now = opts.now ?? Date.now;
  const read = await readChallengeCache(path, now());
  for (const [registry, entry] of read.cache) auth.seed(registry, toChallenge(entry));
  logger.debug("challenge cache read", { path, registries: read.cache.size, ...(read.problem === undefined ? {} : { ignored: read.problem }) });
  return {
    async save(): Promise<void> {
      const at = now();
      const { challenges, dropped } = auth.learned();
      const learned: ChallengeCache = new Map();
      for (const [registry, ch] of challenges) {
        const entry = cacheEntry(ch, at);
        const before = read.cache.get(registry);
        // An unchanged challenge is not rewritten: a warm cache costs no write.
        const same = before !== undefined && entry !== undefined && before.scheme === entry.scheme && before.realm === entry.realm && before.service === entry.service;
        if (entry !== undefined && !same) learned.set(registry, entry);
      }
      const stale = dropped.filter((r) => read.cache.has(r));
      if (learned.size === 0 && stale.length === 0) return;
      const problem = await writeChallengeCache(path, learned, stale, at);
      logger.debug(problem === undefined ? "challenge cache written" : "challenge cache not written", {
        path,
        learned: learned.size,
        dropped: stale.length,
        ...(problem === undefined ? {} : { problem }),
      });
    },
  };
}
