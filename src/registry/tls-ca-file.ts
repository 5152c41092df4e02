/**
 * The mounted registry CA, imperative part: finds `ca.crt` (else `ca.pem`)
 * under `--tls-secret-path` and re-reads it only when the file behind the
 * path changes (../files/watched-file.ts: a Kubernetes secret update
 * re-points the `..data` symlink, which the stamp sees).
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { RunnerError } from "../errors.ts";
import { type FileRead, WatchedFile } from "../files/watched-file.ts";
import { CA_FILE_NAMES, MAX_CA_BYTES, parseCaBundle, type CaBundle } from "./tls-ca.ts";

/** The outcome of one look at the directory; `stamp` changes exactly when the outcome may. */
export type CaLoad = { stamp: string; bundle: CaBundle; error?: undefined } | { stamp: string; bundle?: undefined; error: RunnerError };

const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? "error";

export class MountedCaFile {
  private last: CaLoad | undefined;
  private readonly files: readonly WatchedFile[];

  constructor(readonly dir: string) {
    this.files = CA_FILE_NAMES.map((name) => new WatchedFile(join(dir, name), MAX_CA_BYTES));
  }

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
    for (const file of this.files) {
      const path = file.path;
      try {
        const got: FileRead = await file.read();
        if (got.kind === "open-failed") {
          // Only absence moves on to ca.pem; an unreadable ca.crt is the operator's file and an error.
          if (got.code === "ENOENT") continue;
          if (got.code === "ENOTDIR") break;
          throw new RunnerError("TLS", `TLS configuration: cannot read CA file ${path} (${got.code})`, { cause: got.error });
        }
        // The path is part of the stamp: ca.crt appearing next to ca.pem changes the outcome.
        const stamp = `${path}|${got.stamp}`;
        if (this.last?.stamp === stamp) return this.last;
        let load: CaLoad;
        if (got.kind === "not-a-file") {
          load = { stamp, error: new RunnerError("TLS", `TLS configuration: CA file ${path} is not a regular file`) };
        } else if (got.kind === "too-large") {
          load = { stamp, error: new RunnerError("TLS", `TLS configuration: CA file ${path} is larger than ${MAX_CA_BYTES} bytes`) };
        } else {
          try {
            load = { stamp, bundle: parseCaBundle(new Uint8Array(got.bytes), path) };
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
