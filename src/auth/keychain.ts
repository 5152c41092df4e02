/**
 * Credential providers backed by files and helpers (docs/auth.md).
 *
 * Thin shell: stat/read files, run helpers; all matching and decoding is in
 * docker-config.ts. `source` strings name where a credential came from,
 * never what it is.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { isRunnerError, RunnerError } from "../errors.ts";
import { type FileRead, WatchedFile } from "../files/watched-file.ts";
import { type Logger, silentLogger } from "../log.ts";
import { anonymous, type Credential, type CredentialProvider, type ResolvedCredential } from "../registry/credential.ts";
import { getFromCredentialHelper } from "./credential-helper.ts";
import { secrets } from "../registry/secrets.ts";
import {
  credentialFromConfig,
  credentialHelperSource,
  displayKey,
  entryToCredential,
  helperServerURL,
  parseDockerConfig,
  type DockerConfig,
} from "./docker-config.ts";

/** Docker configs are a few KiB; a huge one is a mistake, not something to load. */
export const MAX_DOCKER_CONFIG_BYTES = 4 << 20;

/** A Docker config file, parsed again only when it changes (../files/watched-file.ts). */
export class WatchedConfigFile {
  private stamp: string | undefined;
  private config: DockerConfig | undefined;
  /** The error the file at `stamp` gave: a broken file is not re-read and re-parsed on every lookup. */
  private failure: RunnerError | undefined;
  private readonly file: WatchedFile;

  /** A path, or a file another reader watches too (the custom-auth secret is also the pull Secret). */
  constructor(source: string | WatchedFile) {
    this.file = typeof source === "string" ? new WatchedFile(source, MAX_DOCKER_CONFIG_BYTES) : source;
  }

  get path(): string {
    return this.file.path;
  }

  /**
   * The parsed config, or `undefined` when the file does not exist. A broken
   * file throws AUTH_CONFIG_INVALID; the same error object again until the file changes.
   */
  async read(): Promise<DockerConfig | undefined> {
    let got: FileRead;
    try {
      got = await this.file.read();
    } catch (e) {
      this.forget();
      throw e;
    }
    if (got.kind === "open-failed") {
      const code = got.code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        this.forget();
        return undefined;
      }
      // Out of descriptors or memory says nothing about the file: retryable, and never a reason to skip it.
      if (code === "EMFILE" || code === "ENFILE" || code === "ENOMEM" || code === "EAGAIN") {
        throw new RunnerError("INTERNAL", `cannot open Docker config ${this.path} now (${code})`, { cause: got.error, retryable: true });
      }
      throw new RunnerError("AUTH_CONFIG_INVALID", `cannot read Docker config ${this.path} (${code})`, { cause: got.error });
    }
    if (got.stamp === this.stamp) {
      if (this.failure !== undefined) throw this.failure;
      if (this.config !== undefined) return this.config;
    }
    this.forget();
    this.stamp = got.stamp;
    try {
      if (got.kind === "not-a-file") throw new RunnerError("AUTH_CONFIG_INVALID", `Docker config ${this.path} is not a regular file`);
      if (got.kind === "too-large" || got.size > MAX_DOCKER_CONFIG_BYTES) {
        throw new RunnerError("AUTH_CONFIG_INVALID", `Docker config ${this.path} is larger than ${MAX_DOCKER_CONFIG_BYTES} bytes`);
      }
      this.config = parseDockerConfig(got.bytes.toString("utf8"), this.path);
      rememberSecrets(this.config);
      return this.config;
    } catch (e) {
      if (e instanceof RunnerError) this.failure = e;
      else this.stamp = undefined;
      throw e;
    }
  }

  private forget(): void {
    this.stamp = undefined;
    this.config = undefined;
    this.failure = undefined;
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
  /** Where a skipped broken file is reported. Default: nowhere. */
  logger?: Logger;
}

interface FileSource {
  kind: "docker-config" | "registry-auth-file" | "containers-auth";
  file: WatchedConfigFile;
  /** Problems already reported for the file's current content: each is logged once, not per lookup. */
  warned: Set<string>;
  /** What `warned` is about: the parsed config, or the message of the fault that stops the whole file. */
  version?: DockerConfig | string;
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
 * Missing files are skipped. These files are ambient (whatever the machine
 * has), so a broken one (unreadable, not JSON, wrong shape, an entry that
 * does not decode) must not stop anonymous pulls of public images: it is
 * logged once as a warning naming the file and the problem, and skipped (the
 * whole file, or the broken entry). Failing credential helpers are errors.
 * Files named explicitly (FileCredentials) stay errors when broken.
 * An `auths` entry with nothing usable (Docker's `{}` marker) falls through.
 */
export class DefaultKeychain implements CredentialProvider {
  private readonly files: FileSource[];
  private readonly dockerConfig: FileSource | undefined;
  private readonly runHelper: HelperRunner;
  private readonly serviceAccount: ServiceAccountPullSecrets | undefined;
  private readonly logger: Logger;

  constructor(opts: DefaultKeychainOptions = {}) {
    const env = opts.env ?? process.env;
    const home = opts.homeDir ?? safeHomedir();
    const dockerPath = nonEmpty(env.DOCKER_CONFIG)
      ? join(env.DOCKER_CONFIG, "config.json")
      : nonEmpty(home)
        ? join(home, ".docker", "config.json")
        : undefined;
    const source = (kind: FileSource["kind"], path: string): FileSource => ({ kind, file: new WatchedConfigFile(path), warned: new Set() });
    this.dockerConfig = dockerPath === undefined ? undefined : source("docker-config", dockerPath);
    this.files = [];
    if (this.dockerConfig !== undefined) this.files.push(this.dockerConfig);
    if (nonEmpty(env.REGISTRY_AUTH_FILE)) this.files.push(source("registry-auth-file", env.REGISTRY_AUTH_FILE));
    if (nonEmpty(env.XDG_RUNTIME_DIR)) this.files.push(source("containers-auth", join(env.XDG_RUNTIME_DIR, "containers", "auth.json")));
    this.logger = opts.logger ?? silentLogger;
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
    const dockerConfig = this.dockerConfig === undefined ? undefined : await this.read(this.dockerConfig);
    const helper = dockerConfig === undefined ? undefined : credentialHelperSource(dockerConfig, registry);

    for (const source of this.files) {
      const { kind, file } = source;
      const config = source === this.dockerConfig ? dockerConfig : await this.read(source);
      if (config === undefined) continue;
      if (kind === "docker-config" && helper?.from === "credHelpers") {
        const fromHelper = await this.helper(helper.name, registry, "credHelper");
        if (fromHelper !== undefined) return fromHelper;
      }
      const found = this.skipBroken(source, () => credentialFromConfig(config, registry, file.path));
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

  /** The file's config; `undefined` when it is missing or broken (reported once, then skipped). */
  private async read(source: FileSource): Promise<DockerConfig | undefined> {
    let config: DockerConfig | undefined;
    let broken: RunnerError | undefined;
    try {
      config = await source.file.read();
    } catch (e) {
      if (!isRunnerError(e) || e.code !== "AUTH_CONFIG_INVALID") throw e;
      broken = e;
    }
    // A new content (or a new fault) of the file: what was reported about the old one no longer applies.
    const version = broken?.message ?? config;
    if (version !== source.version) {
      source.version = version;
      source.warned.clear();
    }
    if (broken !== undefined) this.warnOnce(source, broken);
    return config;
  }

  /** Runs `f`; AUTH_CONFIG_INVALID from it (an entry that does not decode) is reported once and becomes `undefined`. */
  private skipBroken<T>(source: FileSource, f: () => T): T | undefined {
    try {
      return f();
    } catch (e) {
      if (!isRunnerError(e) || e.code !== "AUTH_CONFIG_INVALID") throw e;
      this.warnOnce(source, e);
      return undefined;
    }
  }

  private warnOnce(source: FileSource, e: RunnerError): void {
    if (source.warned.has(e.message)) return;
    source.warned.add(e.message);
    // The message names the file and the fault, never a value (docker-config.ts).
    this.logger.warn("Docker config skipped: credentials from it are not used", { file: source.file.path, code: e.code, error: e.message });
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
  readonly path: string;

  /** A path, or a file another reader watches too (../files/watched-file.ts). */
  constructor(source: string | WatchedFile, opts: FileCredentialsOptions = {}) {
    this.file = new WatchedConfigFile(source);
    this.path = this.file.path;
    this.prefix = opts.sourcePrefix ?? "custom";
  }

  async forRegistry(registry: string): Promise<ResolvedCredential> {
    const config = await this.file.read();
    if (config === undefined) throw new RunnerError("AUTH_CONFIG_INVALID", `Docker config ${this.path} does not exist`);
    const found = credentialFromConfig(config, registry, this.path);
    return found === undefined ? anonymous : { credential: found.credential, source: `${this.prefix}:${this.path}#${displayKey(found.key)}` };
  }
}

/**
 * Every secret in a Docker config, remembered for scrubbing upstream text
 * (a registry or credential helper may echo one we hold for another host).
 */
function rememberSecrets(config: DockerConfig): void {
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    for (const v of [entry.auth, entry.password, entry.identitytoken, entry.registrytoken]) secrets.add(v ?? undefined);
    try {
      const c = entryToCredential(entry, "", key);
      if (c !== undefined) secrets.addCredential(c);
    } catch {
      // a broken entry is reported when it is used
    }
  }
}
