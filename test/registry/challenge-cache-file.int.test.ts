// The challenge cache file on disk (src/registry/challenge-cache-file.ts): where it lives, which
// files are trusted, and atomic replacement that merges with what another process wrote.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CHALLENGE_CACHE_MAX_BYTES, type CachedChallenge } from "../../src/registry/challenge-cache.ts";
import { challengeCachePath, readChallengeCache, writeChallengeCache } from "../../src/registry/challenge-cache-file.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), "fr-cc-"));
  dirs.push(d);
  return d;
};
const NOW = Date.now();
const bearer = (realm: string, learnedAt = NOW): CachedChallenge => ({ scheme: "bearer", realm, service: "svc", learnedAt });

describe("challengeCachePath", () => {
  test("$XDG_CACHE_HOME when absolute, else ~/.cache, else none", () => {
    expect(challengeCachePath({ XDG_CACHE_HOME: "/x/cache" }, "/home/u")).toBe("/x/cache/function-runner/challenges.json");
    expect(challengeCachePath({ XDG_CACHE_HOME: "relative/cache" }, "/home/u")).toBe("/home/u/.cache/function-runner/challenges.json");
    expect(challengeCachePath({}, "/home/u")).toBe("/home/u/.cache/function-runner/challenges.json");
    expect(challengeCachePath({}, undefined)).toBeUndefined();
    expect(challengeCachePath({}, "")).toBeUndefined();
  });
});

describe("writeChallengeCache and readChallengeCache", () => {
  test("written atomically with mode 0600 in a 0700 directory, no temporary file left, read back", async () => {
    const path = join(scratch(), "function-runner", "challenges.json");
    expect(await writeChallengeCache(path, new Map([["reg:5000", bearer("https://auth/t")]]), [], NOW)).toBeUndefined();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, "..")).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(path, ".."))).toEqual(["challenges.json"]);
    const read = await readChallengeCache(path, NOW);
    expect(read.problem).toBeUndefined();
    expect([...read.cache]).toEqual([["reg:5000", bearer("https://auth/t")]]);
  });

  test("what another process wrote meanwhile is kept; a stale entry is dropped", async () => {
    const path = join(scratch(), "challenges.json");
    await writeChallengeCache(path, new Map([["a", bearer("https://a/t")], ["b", bearer("https://b/t")]]), [], NOW);
    await writeChallengeCache(path, new Map([["c", bearer("https://c/t")]]), ["a"], NOW);
    expect([...(await readChallengeCache(path, NOW)).cache.keys()].sort()).toEqual(["b", "c"]);
  });

  test("files not to trust are ignored, saying why", async () => {
    const dir = scratch();
    const good = JSON.stringify({ version: 1, registries: { r: bearer("https://a/t") } });
    const path = join(dir, "c.json");
    writeFileSync(path, good, { mode: 0o600 });
    expect((await readChallengeCache(path, NOW)).cache.size).toBe(1);

    chmodSync(path, 0o620);
    expect(await readChallengeCache(path, NOW)).toEqual({ cache: new Map(), problem: "writable by group or others" });
    chmodSync(path, 0o602);
    expect((await readChallengeCache(path, NOW)).problem).toBe("writable by group or others");

    mkdirSync(join(dir, "d"));
    expect((await readChallengeCache(join(dir, "d"), NOW)).problem).toBe("not a regular file");

    const big = join(dir, "big.json");
    writeFileSync(big, " ".repeat(CHALLENGE_CACHE_MAX_BYTES + 1), { mode: 0o600 });
    expect((await readChallengeCache(big, NOW)).problem).toContain("larger than");

    expect((await readChallengeCache(join(dir, "missing.json"), NOW)).problem).toBe("no cache file yet");
  });

  test("a directory that cannot be created is reported, never thrown", async () => {
    const dir = scratch();
    writeFileSync(join(dir, "file"), "");
    const problem = await writeChallengeCache(join(dir, "file", "sub", "challenges.json"), new Map([["r", bearer("https://a/t")]]), [], NOW);
    expect(problem).toContain("cannot write");
    expect(readFileSync(join(dir, "file"), "utf8")).toBe("");
  });
});
