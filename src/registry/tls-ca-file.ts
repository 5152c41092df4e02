/**
 * The mounted registry CA, imperative part: finds `ca.crt` (else `ca.pem`)
 * under `--tls-secret-path` and re-reads it only when the file behind the
 * path changes. Kubernetes updates a mounted secret by re-pointing the
 * `..data` symlink, so the identity is taken with fstat on the opened file
 * (it follows the symlinks and matches the bytes read).
 */
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { RunnerError } from "../errors.ts";
import { CA_FILE_NAMES, fileStamp, MAX_CA_BYTES, parseCaBundle, type CaBundle } from "./tls-ca.ts";

/** The outcome of one look at the directory; `stamp` changes exactly when the outcome may. */
export type CaLoad = { stamp: string; bundle: CaBundle; error?: undefined } | { stamp: string; bundle?: undefined; error: RunnerError };

const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? "error";

export class MountedCaFile {
  private last: CaLoad | undefined;

  constructor(readonly dir: string) {}

  /** Never throws: a missing or broken CA is an outcome, so the transport can report it as step 1's cause. */
  async load(): Promise<CaLoad> {
    try {
      return await this.read();
    } catch (e) {
      const error = e instanceof RunnerError ? e : new RunnerError("TLS", `TLS configuration: cannot read the CA in ${this.dir}: ${String(e)}`, { cause: e });
      return { stamp: `error|${error.message}`, error };
    }
  }

  private async read(): Promise<CaLoad> {
    for (const name of CA_FILE_NAMES) {
      const path = join(this.dir, name);
      let fh: Awaited<ReturnType<typeof open>>;
      try {
        fh = await open(path, "r");
      } catch (e) {
        // Only absence moves on to ca.pem; an unreadable ca.crt is the operator's file and an error.
        if (errno(e) === "ENOENT") continue;
        if (errno(e) === "ENOTDIR") break;
        throw new RunnerError("TLS", `TLS configuration: cannot read CA file ${path} (${errno(e)})`, { cause: e });
      }
      try {
        const st = await fh.stat();
        const stamp = fileStamp(st, path);
        if (this.last?.stamp === stamp) return this.last;
        let load: CaLoad;
        if (!st.isFile()) {
          load = { stamp, error: new RunnerError("TLS", `TLS configuration: CA file ${path} is not a regular file`) };
        } else if (st.size > MAX_CA_BYTES) {
          load = { stamp, error: new RunnerError("TLS", `TLS configuration: CA file ${path} is larger than ${MAX_CA_BYTES} bytes`) };
        } else {
          const bytes = new Uint8Array(await fh.readFile());
          try {
            load = { stamp, bundle: parseCaBundle(bytes, path) };
          } catch (e) {
            if (!(e instanceof RunnerError)) throw e;
            load = { stamp, error: e };
          }
        }
        this.last = load;
        return load;
      } catch (e) {
        if (e instanceof RunnerError) throw e;
        throw new RunnerError("TLS", `TLS configuration: cannot read CA file ${path} (${errno(e)})`, { cause: e });
      } finally {
        await fh.close();
      }
    }
    throw await this.absent();
  }

  /** Says whether the directory or only the files are missing: the fixes differ. */
  private async absent(): Promise<RunnerError> {
    const names = CA_FILE_NAMES.join(" or ");
    try {
      const st = await stat(this.dir);
      if (!st.isDirectory()) return new RunnerError("TLS", `TLS configuration: --tls-secret-path ${this.dir} is not a directory`);
    } catch (e) {
      return new RunnerError("TLS", `TLS configuration: --tls-secret-path ${this.dir} does not exist (${errno(e)}); mount the TLS secret holding ${names} there`, { cause: e });
    }
    return new RunnerError("TLS", `TLS configuration: no ${names} in --tls-secret-path ${this.dir}`);
  }
}
