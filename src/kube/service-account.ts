/**
 * The default keychain's last source (docs/kubernetes.md): the
 * `imagePullSecrets` of the runner's own ServiceAccount, as the kubelet
 * would use them for the runner's pod (go-containerregistry's k8schain does
 * the same). Only in a cluster: elsewhere there is no "own" ServiceAccount
 * and the source is empty.
 *
 * Cached for a short TTL so a resolve burst costs no API calls; a failing
 * API keeps the last good answer (or none) and is logged, never thrown: this
 * source is a fallback, and images that need none of its credentials must
 * not fail because the API server is briefly away.
 */
import { isKubeApiError } from "./errors.ts";
import { Buffer } from "node:buffer";
import type { V1Secret } from "@kubernetes/client-node";
import { type DockerConfig, parseDockerConfig } from "../auth/docker-config.ts";
import type { ServiceAccountPullSecrets } from "../auth/keychain.ts";
import type { Logger } from "../log.ts";
import type { KubeClient } from "./client.ts";

const DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson";
const DOCKER_CFG = "kubernetes.io/dockercfg";

/**
 * A pull secret's Docker config: `.dockerconfigjson` as it is, the legacy
 * `.dockercfg` (a bare registry map) wrapped as `{auths}`. Undefined for
 * other types or a missing key. Throws AUTH_CONFIG_INVALID (naming the
 * secret, not its content) when the content is not a Docker config. Pure.
 */
export function dockerConfigFromSecret(secret: V1Secret): DockerConfig | undefined {
  const label = `Secret ${secret.metadata?.namespace ?? ""}/${secret.metadata?.name ?? ""}`;
  const decode = (key: string): string | undefined => {
    const v = secret.data?.[key];
    return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
  };
  if (secret.type === DOCKER_CONFIG_JSON) {
    const text = decode(".dockerconfigjson");
    return text === undefined ? undefined : parseDockerConfig(text, label);
  }
  if (secret.type === DOCKER_CFG) {
    const text = decode(".dockercfg");
    if (text === undefined) return undefined;
    return parseDockerConfig(`{"auths":${text.trim() === "" ? "{}" : text}}`, label);
  }
  return undefined;
}

export interface ServiceAccountSourceOptions {
  /** The client when running in a cluster, else undefined (the source is then empty). */
  client: () => Promise<KubeClient | undefined>;
  logger?: Logger;
  /** How long an answer is reused (default 60 s). */
  ttlMs?: number;
  /** How long a failure is reused before the API is asked again (default 10 s). */
  failureTtlMs?: number;
  now?: () => number;
}

type Entry = Array<{ name: string; config: DockerConfig }>;

/** After a Forbidden answer, how long before asking again (a Role change needs no restart). */
const FORBIDDEN_TTL_MS = 5 * 60_000;

export class ServiceAccountPullSecretSource implements ServiceAccountPullSecrets {
  private cached: { value: Entry; until: number } | undefined;
  private lastGood: Entry = [];
  private forbiddenSaid = false;
  private inflight: Promise<Entry> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: ServiceAccountSourceOptions) {
    this.now = opts.now ?? Date.now;
  }

  dockerConfigs(): Promise<Entry> {
    const c = this.cached;
    if (c !== undefined && this.now() < c.until) return Promise.resolve(c.value);
    if (this.inflight !== undefined) return this.inflight;
    const p = this.load().finally(() => {
      this.inflight = undefined;
    });
    this.inflight = p;
    return p;
  }

  private async load(): Promise<Entry> {
    try {
      const value = await this.fetch();
      this.lastGood = value;
      this.cached = { value, until: this.now() + (this.opts.ttlMs ?? 60_000) };
      this.forbiddenSaid = false;
      return value;
    } catch (e) {
      // Porch's Roles grant nothing in the runner's own namespace: a lasting answer, said once, asked again rarely.
      if (isKubeApiError(e) && e.reason === "Forbidden") {
        if (!this.forbiddenSaid) {
          this.forbiddenSaid = true;
          this.opts.logger?.warn("cannot read the service account's image pull secrets (no permission); using the last known ones", {
            error: e.message,
            kept: this.lastGood.map((s) => s.name),
          });
        }
        this.cached = { value: this.lastGood, until: this.now() + FORBIDDEN_TTL_MS };
        return this.lastGood;
      }
      this.opts.logger?.warn("cannot read the service account's image pull secrets; using the last known ones", {
        error: e instanceof Error ? e.message : String(e),
        kept: this.lastGood.map((s) => s.name),
      });
      this.cached = { value: this.lastGood, until: this.now() + (this.opts.failureTtlMs ?? 10_000) };
      return this.lastGood;
    }
  }

  private async fetch(): Promise<Entry> {
    const client = await this.opts.client();
    if (client === undefined) return [];
    const sa = client.serviceAccount;
    if (sa === undefined) {
      this.opts.logger?.debug("the in-cluster token names no service account; no image pull secrets", {});
      return [];
    }
    const account = await client.find({ verb: "get", resource: "serviceaccounts", namespace: sa.namespace, name: sa.name }, (core) =>
      core.readNamespacedServiceAccount({ name: sa.name, namespace: sa.namespace }),
    );
    const out: Entry = [];
    for (const ref of account?.imagePullSecrets ?? []) {
      const name = ref.name;
      if (name === undefined || name === "") continue;
      // As the kubelet: a listed secret that does not exist is skipped.
      const secret = await client.find({ verb: "get", resource: "secrets", namespace: sa.namespace, name }, (core) =>
        core.readNamespacedSecret({ name, namespace: sa.namespace }),
      );
      if (secret === undefined) continue;
      try {
        const config = dockerConfigFromSecret(secret);
        if (config !== undefined) out.push({ name: `${sa.namespace}/${name}`, config });
      } catch (e) {
        this.opts.logger?.warn("skipping an image pull secret that is not a Docker config", {
          secret: `${sa.namespace}/${name}`,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    return out;
  }
}
