/**
 * Credential providers backed by files and helpers (design.md §1 item 4).
 *
 * Thin shell: stat/read files, run helpers; all matching and decoding is in
 * docker-config.ts. `source` strings name where a credential came from,
 * never what it is.
 */
import { open } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { RunnerError } from "../errors.ts";
import { anonymous, type Credential, type CredentialProvider, type ResolvedCredential } from "./credential.ts";
import { getFromCredentialHelper } from "./credential-helper.ts";
import {
  credentialFromConfig,
  credentialHelperSource,
  displayKey,
  helperServerURL,
  parseDockerConfig,
  type DockerConfig,
} from "./docker-config.ts";

/** Docker configs are a few KiB; a huge one is a mistake, not something to load. */
const MAX_CONFIG_BYTES = 4 << 20;

/**
 * A Docker config file re-read only when it changes. The identity is taken
 * with fstat on the opened file (so it matches the bytes read) and follows
 * symlinks: Kubernetes swaps mounted secrets by re-pointing `..data`, which
 * gives the path a new inode. mtime+ctime+size+ino+dev covers rewrites in place
 * and renames over the file.
 */
export class WatchedConfigFile {
  private stamp: string | undefined;
  private config: DockerConfig | undefined;

  constructor(readonly path: string) {}

  /** The parsed config, or `undefined` when the file does not exist. Parse errors are thrown, never cached. */
  async read(): Promise<DockerConfig | undefined> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.path, "r");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        this.stamp = undefined;
        this.config = undefined;
        return undefined;
      }
      throw new RunnerError("AUTH_CONFIG_INVALID", `cannot read Docker config ${this.path} (${code ?? "error"})`, { cause: e });
    }
    try {
      const st = await fh.stat();
      const stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      if (stamp === this.stamp && this.config !== undefined) return this.config;
      if (!st.isFile()) throw new RunnerError("AUTH_CONFIG_INVALID", `Docker config ${this.path} is not a regular file`);
      if (st.size > MAX_CONFIG_BYTES) {
        throw new RunnerError("AUTH_CONFIG_INVALID", `Docker config ${this.path} is larger than ${MAX_CONFIG_BYTES} bytes`);
      }
      const text = await fh.readFile({ encoding: "utf8" });
      const config = parseDockerConfig(text, this.path);
      this.stamp = stamp;
      this.config = config;
      return config;
    } finally {
      await fh.close();
    }
  }
}

/** Pull secrets of the runner's own service account (wired by the Kubernetes code). */
export interface ServiceAccountPullSecrets {
  dockerConfigs(): Promise<Array<{ name: string; config: DockerConfig }>>;
}

/** Runs a credential helper; injectable so callers can stub the process. */
export type HelperRunner = (name: string, serverURL: string) => Promise<Credential | undefined>;

export interface DefaultKeychainOptions {
  /** Environment read for DOCKER_CONFIG, REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR and PATH. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Home directory for `~/.docker/config.json`. Default: os.homedir() (skipped when empty). */
  homeDir?: string;
  serviceAccount?: ServiceAccountPullSecrets;
  /** Credential helper timeout (ms), default 5 s. */
  helperTimeoutMs?: number;
  /** Replaces the real `docker-credential-NAME get` call. */
  runHelper?: HelperRunner;
}

interface FileSource {
  kind: "docker-config" | "registry-auth-file" | "containers-auth";
  file: WatchedConfigFile;
}

const nonEmpty = (s: string | undefined): s is string => s !== undefined && s !== "";

/**
 * The default keychain. For a registry, in order:
 *  1. Docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
 *     an explicit `credHelpers` entry for the registry first (Docker lets it
 *     override `auths`), then its `auths`;
 *  2. `$REGISTRY_AUTH_FILE`;
 *  3. `$XDG_RUNTIME_DIR/containers/auth.json`;
 *  4. the Docker config's `credsStore`;
 *  5. the service account's image pull secrets, in the order given;
 *  6. anonymous.
 * Missing files are skipped; broken ones and failing helpers are errors.
 * An `auths` entry with nothing usable (Docker's `{}` marker) falls through.
 */
export class DefaultKeychain implements CredentialProvider {
  private readonly files: FileSource[];
  private readonly dockerConfig: WatchedConfigFile | undefined;
  private readonly runHelper: HelperRunner;
  private readonly serviceAccount: ServiceAccountPullSecrets | undefined;

  constructor(opts: DefaultKeychainOptions = {}) {
    const env = opts.env ?? process.env;
    const home = opts.homeDir ?? safeHomedir();
    const dockerPath = nonEmpty(env.DOCKER_CONFIG)
      ? join(env.DOCKER_CONFIG, "config.json")
      : nonEmpty(home)
        ? join(home, ".docker", "config.json")
        : undefined;
    this.dockerConfig = dockerPath === undefined ? undefined : new WatchedConfigFile(dockerPath);
    this.files = [];
    if (this.dockerConfig !== undefined) this.files.push({ kind: "docker-config", file: this.dockerConfig });
    if (nonEmpty(env.REGISTRY_AUTH_FILE)) {
      this.files.push({ kind: "registry-auth-file", file: new WatchedConfigFile(env.REGISTRY_AUTH_FILE) });
    }
    if (nonEmpty(env.XDG_RUNTIME_DIR)) {
      this.files.push({
        kind: "containers-auth",
        file: new WatchedConfigFile(join(env.XDG_RUNTIME_DIR, "containers", "auth.json")),
      });
    }
    const timeoutMs = opts.helperTimeoutMs;
    this.runHelper =
      opts.runHelper ?? ((name, serverURL) => getFromCredentialHelper(name, serverURL, { env, timeoutMs }));
    this.serviceAccount = opts.serviceAccount;
  }

  /** The files consulted, in order (for `explain`). */
  describeSources(): string[] {
    return this.files.map((f) => `${f.kind}:${f.file.path}`);
  }

  async forRegistry(registry: string): Promise<ResolvedCredential> {
    const dockerConfig = await this.dockerConfig?.read();
    const helper = dockerConfig === undefined ? undefined : credentialHelperSource(dockerConfig, registry);

    for (const { kind, file } of this.files) {
      const config = kind === "docker-config" ? dockerConfig : await file.read();
      if (config === undefined) continue;
      if (kind === "docker-config" && helper?.from === "credHelpers") {
        const fromHelper = await this.helper(helper.name, registry, "credHelper");
        if (fromHelper !== undefined) return fromHelper;
      }
      const found = credentialFromConfig(config, registry, file.path);
      if (found !== undefined) return { credential: found.credential, source: `default:${kind}:${file.path}#${displayKey(found.key)}` };
    }

    if (helper?.from === "credsStore") {
      const fromStore = await this.helper(helper.name, registry, "credsStore");
      if (fromStore !== undefined) return fromStore;
    }

    if (this.serviceAccount !== undefined) {
      for (const { name, config } of await this.serviceAccount.dockerConfigs()) {
        const found = credentialFromConfig(config, registry, `service account pull secret ${name}`);
        if (found !== undefined) return { credential: found.credential, source: `default:serviceaccount:${name}#${displayKey(found.key)}` };
      }
    }
    return anonymous;
  }

  private async helper(name: string, registry: string, label: "credHelper" | "credsStore"): Promise<ResolvedCredential | undefined> {
    const credential = await this.runHelper(name, helperServerURL(registry));
    return credential === undefined ? undefined : { credential, source: `default:${label}:${name}` };
  }
}

const safeHomedir = (): string | undefined => {
  try {
    return homedir();
  } catch {
    return undefined;
  }
};

export interface FileCredentialsOptions {
  /** Start of `source`; default `custom`, giving `custom:PATH#KEY`. */
  sourcePrefix?: string;
}

/**
 * Credentials from one Docker config file: `--docker-config PATH` or the
 * custom-auth secret at `--registry-auth-secret-path`. Only `auths` is used:
 * the same file becomes the function pods' pull secret, and the kubelet
 * ignores credential helpers. A missing file is an error here (it was asked
 * for); a registry without an entry gets anonymous.
 */
export class FileCredentials implements CredentialProvider {
  private readonly file: WatchedConfigFile;
  private readonly prefix: string;

  constructor(readonly path: string, opts: FileCredentialsOptions = {}) {
    this.file = new WatchedConfigFile(path);
    this.prefix = opts.sourcePrefix ?? "custom";
  }

  async forRegistry(registry: string): Promise<ResolvedCredential> {
    const config = await this.file.read();
    if (config === undefined) throw new RunnerError("AUTH_CONFIG_INVALID", `Docker config ${this.path} does not exist`);
    const found = credentialFromConfig(config, registry, this.path);
    return found === undefined ? anonymous : { credential: found.credential, source: `${this.prefix}:${this.path}#${displayKey(found.key)}` };
  }
}
