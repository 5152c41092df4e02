/**
 * A file re-read only when it changes (./file-stamp.ts): the mounted
 * Docker configs, the custom-auth secret, the registry CA. The path is
 * opened (following symlinks) and the opened file fstat-ed, so the stamp
 * belongs to the bytes read; the bytes are read again only when the stamp
 * moves. Readers that share one WatchedFile (the custom-auth secret's
 * credentials and its pull Secret) share one read per change.
 */
import { open } from "node:fs/promises";
import { fileStamp } from "./file-stamp.ts";

export type FileRead =
  /** The path could not be opened: `code` is the errno code (ENOENT, ENOTDIR, EACCES, EMFILE, ...). */
  | { kind: "open-failed"; code: string; error: unknown }
  | { kind: "not-a-file"; stamp: string; size: number }
  /** Larger than the reader's bound: not read. */
  | { kind: "too-large"; stamp: string; size: number }
  /** The same object again while the stamp holds. */
  | { kind: "read"; stamp: string; size: number; bytes: Buffer };

export class WatchedFile {
  private last: Extract<FileRead, { kind: "read" }> | undefined;

  constructor(
    readonly path: string,
    /** Files larger than this are reported, never read. */
    readonly maxBytes: number,
  ) {}

  /** The file as it is now. A failing fstat or read throws the error as it is. */
  async read(): Promise<FileRead> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.path, "r");
    } catch (e) {
      return { kind: "open-failed", code: (e as NodeJS.ErrnoException).code ?? "error", error: e };
    }
    try {
      const st = await fh.stat();
      const stamp = fileStamp(st);
      if (this.last?.stamp === stamp) return this.last;
      if (!st.isFile()) return { kind: "not-a-file", stamp, size: st.size };
      if (st.size > this.maxBytes) return { kind: "too-large", stamp, size: st.size };
      this.last = { kind: "read", stamp, size: st.size, bytes: await fh.readFile() };
      return this.last;
    } finally {
      await fh.close();
    }
  }
}
