import { describe, expect, test } from "../support/testing.ts";
import { changedAtMs, fileStamp, type StatFields } from "../../src/files/file-stamp.ts";

const base: StatFields = { dev: 2049, ino: 131, size: 512, mtimeMs: 1_700_000_000_123.5, ctimeMs: 1_700_000_000_456.25 };

describe("fileStamp", () => {
  test("the same stat gives the same stamp", () => {
    expect(fileStamp({ ...base })).toBe(fileStamp(base));
  });

  test.each([
    ["another device", { dev: 2050 }],
    ["another inode (a symlink swap, a rename over the file)", { ino: 132 }],
    ["another size", { size: 513 }],
    ["another mtime, even by a fraction of a millisecond", { mtimeMs: base.mtimeMs + 0.25 }],
    ["another ctime (a chmod, a rename)", { ctimeMs: base.ctimeMs + 1 }],
  ] as const)("%s changes it", (_name, change) => {
    expect(fileStamp({ ...base, ...change })).not.toBe(fileStamp(base));
  });

  test("fields cannot run into each other", () => {
    expect(fileStamp({ ...base, dev: 1, ino: 23 })).not.toBe(fileStamp({ ...base, dev: 12, ino: 3 }));
  });
});

describe("changedAtMs", () => {
  test("the later of mtime and ctime", () => {
    expect(changedAtMs(base)).toBe(base.ctimeMs);
    expect(changedAtMs({ ...base, mtimeMs: base.ctimeMs + 10 })).toBe(base.ctimeMs + 10);
  });
});
