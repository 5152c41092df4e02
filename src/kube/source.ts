/**
 * Where the Kubernetes connection comes from (docs/kubernetes.md): the
 * `--kubeconfig` flag, else the in-cluster service account, else
 * `$KUBECONFIG`, else `~/.kube/config`, else none (the pod runtime is then
 * off and the status says why). Pure: the environment and a file-existence
 * test come in, so tests can pretend to run in a cluster.
 *
 * Kept apart from client.ts so the runner can decide this without loading
 * @kubernetes/client-node (160 ms at start-up), which one-shot CLI commands
 * that never talk to Kubernetes should not pay for.
 */
import { delimiter, join } from "node:path";

/** Where kubelets mount a pod's service account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface InClusterSource {
  kind: "in-cluster";
  /** `https://HOST:PORT` from KUBERNETES_SERVICE_HOST / _PORT (IPv6 bracketed). */
  server: string;
  tokenPath: string;
  caPath: string;
  namespacePath: string;
}

export type KubeSource =
  | { kind: "flag"; path: string }
  | InClusterSource
  | { kind: "env"; paths: string[] }
  | { kind: "home"; path: string }
  | { kind: "none"; reason: string };

export interface LocateOptions {
  /** `--kubeconfig`. */
  flag?: string;
  env: Record<string, string | undefined>;
  homeDir?: string;
  /** Defaults to SERVICE_ACCOUNT_DIR. */
  serviceAccountDir?: string;
  exists(path: string): boolean;
}

const set = (s: string | undefined): s is string => s !== undefined && s.trim() !== "";

/** The in-cluster source when KUBERNETES_SERVICE_HOST/_PORT are set and the token is mounted. */
export function inClusterSource(opts: Pick<LocateOptions, "env" | "serviceAccountDir" | "exists">): InClusterSource | undefined {
  const host = opts.env.KUBERNETES_SERVICE_HOST;
  const port = opts.env.KUBERNETES_SERVICE_PORT;
  const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenPath = join(dir, "token");
  if (!set(host) || !set(port) || !opts.exists(tokenPath)) return undefined;
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return { kind: "in-cluster", server: `https://${h}:${port}`, tokenPath, caPath: join(dir, "ca.crt"), namespacePath: join(dir, "namespace") };
}

export function locateKubeconfig(opts: LocateOptions): KubeSource {
  if (set(opts.flag)) return { kind: "flag", path: opts.flag };
  const cluster = inClusterSource(opts);
  if (cluster !== undefined) return cluster;
  const listed = set(opts.env.KUBECONFIG) ? opts.env.KUBECONFIG.split(delimiter).filter((p) => p !== "") : [];
  // As kubectl: files named in $KUBECONFIG that do not exist are skipped.
  const existing = listed.filter((p) => opts.exists(p));
  if (existing.length > 0) return { kind: "env", paths: existing };
  if (set(opts.homeDir)) {
    const path = join(opts.homeDir, ".kube", "config");
    if (opts.exists(path)) return { kind: "home", path };
  }
  const why = [
    "no --kubeconfig",
    "not in a cluster (KUBERNETES_SERVICE_HOST unset or no service account token)",
    listed.length > 0 ? `no file of $KUBECONFIG exists (${listed.join(delimiter)})` : "$KUBECONFIG unset",
    set(opts.homeDir) ? `${join(opts.homeDir, ".kube", "config")} absent` : "no home directory",
  ];
  return { kind: "none", reason: `no Kubernetes configuration: ${why.join(", ")}` };
}

/** One phrase naming the source, for status and logs. */
export function describeSource(source: KubeSource): string {
  switch (source.kind) {
    case "flag":
      return `--kubeconfig ${source.path}`;
    case "in-cluster":
      return `in-cluster service account (${source.server})`;
    case "env":
      return `$KUBECONFIG ${source.paths.join(delimiter)}`;
    case "home":
      return source.path;
    case "none":
      return "none";
  }
}
