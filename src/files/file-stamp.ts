/**
 * The identity of the file behind a path, from its stat: device, inode,
 * size, modification and change times. A Kubernetes Secret or ConfigMap
 * update re-points the mount's `..data` symlink (a new inode), a rename
 * over the file gives a new inode too, and an edit in place changes the
 * size or the times. Equal stamps: the file is taken as unchanged. Pure.
 */

/** The fields of a `stat` result a stamp is made of. */
export interface StatFields {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

export const fileStamp = (st: StatFields): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

/** When the file last changed, content or metadata. */
export const changedAtMs = (st: StatFields): number => Math.max(st.mtimeMs, st.ctimeMs);
