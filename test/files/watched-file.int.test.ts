// WatchedFile against real files in a temp directory: what it reports, when it reads again.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WatchedFile } from "../../src/files/watched-file.ts";

const dir = mkdtempSync(join(tmpdir(), "watched-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(dir, `f${++n}`);

describe("WatchedFile", () => {
  test("a missing path, or one under a regular file, is an open failure with its code", async () => {
    expect(await new WatchedFile(join(dir, "absent"), 100).read()).toMatchObject({ kind: "open-failed", code: "ENOENT" });
    const file = fresh();
    writeFileSync(file, "x");
    expect(await new WatchedFile(join(file, "below"), 100).read()).toMatchObject({ kind: "open-failed", code: "ENOTDIR" });
  });

  test("a directory is not a file; a file over the bound is not read", async () => {
    const sub = fresh();
    mkdirSync(sub);
    expect((await new WatchedFile(sub, 100).read()).kind).toBe("not-a-file");
    const big = fresh();
    writeFileSync(big, "x".repeat(101));
    const got = await new WatchedFile(big, 100).read();
    expect(got).toMatchObject({ kind: "too-large", size: 101 });
    expect("bytes" in got).toBe(false);
  });

  test("an unchanged file answers the same read again; every reader sharing it gets that one read", async () => {
    const path = fresh();
    writeFileSync(path, '{"auths":{}}');
    const file = new WatchedFile(path, 100);
    const first = await file.read();
    expect(first.kind).toBe("read");
    if (first.kind !== "read") return;
    expect(first.bytes.toString("utf8")).toBe('{"auths":{}}');
    expect(first.size).toBe(12);
    expect(await file.read()).toBe(first);
    expect(await file.read()).toBe(first);
  });

  test("an edit in place is read again, even at the same size when the times move", async () => {
    const path = fresh();
    writeFileSync(path, "one");
    const file = new WatchedFile(path, 100);
    const first = await file.read();
    writeFileSync(path, "two");
    const at = statSync(path).mtimeMs / 1000 + 5;
    utimesSync(path, at, at);
    const second = await file.read();
    expect(second).not.toBe(first);
    expect(second.kind === "read" && second.bytes.toString("utf8")).toBe("two");
  });

  test("a Kubernetes-style symlink swap is seen: the path now leads to another inode", async () => {
    const mount = fresh();
    mkdirSync(mount);
    for (const [version, text] of [["v1", "aaaa"], ["v2", "bbbb"]] as const) {
      mkdirSync(join(mount, version));
      writeFileSync(join(mount, version, "config.json"), text);
    }
    // Same size and same times in both versions: only the inode tells them apart.
    utimesSync(join(mount, "v1", "config.json"), 1_700_000_000, 1_700_000_000);
    utimesSync(join(mount, "v2", "config.json"), 1_700_000_000, 1_700_000_000);
    symlinkSync("v1", join(mount, "..data"));
    symlinkSync(join("..data", "config.json"), join(mount, "config.json"));
    const file = new WatchedFile(join(mount, "config.json"), 100);
    const before = await file.read();
    expect(before.kind === "read" && before.bytes.toString("utf8")).toBe("aaaa");
    symlinkSync("v2", join(mount, "..data_tmp"));
    renameSync(join(mount, "..data_tmp"), join(mount, "..data"));
    const after = await file.read();
    expect(after.kind === "read" && after.bytes.toString("utf8")).toBe("bbbb");
  });

  test("a file that comes back after going missing is read again", async () => {
    const path = fresh();
    const file = new WatchedFile(path, 100);
    expect((await file.read()).kind).toBe("open-failed");
    writeFileSync(path, "here");
    const got = await file.read();
    expect(got.kind === "read" && got.bytes.toString("utf8")).toBe("here");
  });
});
