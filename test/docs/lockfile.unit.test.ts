// The committed package-lock.json must let `npm ci` install Bun and Deno on
// every platform we support, not only on the machine that wrote it: each
// platform package the bun and deno packages list as optional must be locked,
// at the same version, with an integrity hash.
import { readFileSync } from "node:fs";
import { describe, expect, test } from "../support/testing.ts";

interface LockEntry {
  version?: string;
  integrity?: string;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  optionalDependencies?: Record<string, string>;
}
const lock = JSON.parse(readFileSync(new URL("../../package-lock.json", import.meta.url), "utf8")) as { packages: Record<string, LockEntry> };

/** The platforms the README promises: [os, cpu]. */
const PLATFORMS: Array<[string, string]> = [
  ["linux", "x64"],
  ["linux", "arm64"],
  ["darwin", "x64"],
  ["darwin", "arm64"],
];

describe("package-lock.json", () => {
  for (const runtime of ["bun", "deno"]) {
    test(`every optional platform package of ${runtime} is locked with an integrity hash`, () => {
      const optional = lock.packages[`node_modules/${runtime}`]?.optionalDependencies ?? {};
      expect(Object.keys(optional).length).toBeGreaterThan(0);
      for (const [name, version] of Object.entries(optional)) {
        const entry = lock.packages[`node_modules/${name}`];
        expect({ name, version: entry?.version, integrity: entry?.integrity?.startsWith("sha512-") }).toEqual({ name, version, integrity: true });
      }
    });

    test(`${runtime} has a locked binary for linux and macOS on x64 and arm64`, () => {
      const optional = Object.keys(lock.packages[`node_modules/${runtime}`]?.optionalDependencies ?? {});
      for (const [os, cpu] of PLATFORMS) {
        const found = optional.filter((name) => {
          const e = lock.packages[`node_modules/${name}`];
          return e?.os?.includes(os) === true && e.cpu?.includes(cpu) === true && e.integrity !== undefined;
        });
        expect({ os, cpu, found: found.length > 0 }).toEqual({ os, cpu, found: true });
      }
    });
  }
});
