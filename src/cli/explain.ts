import type { Output } from "../config/schema.ts";
import { formatReference } from "../image/reference.ts";
import type { Runner } from "../runner.ts";
import { render } from "./output.ts";
import { table } from "./resolve.ts";

export interface Explanation {
  input: string;
  image: string;
  registry: string;
  repository: string;
  auth: { strategy: string; reason: string; source: string };
  pullSecret: string;
  /** TLS: which transport (and step) the image would use, and why (docs/tls.md). */
  transport: { kind: string; order: string[]; step?: string; detail: string };
}

/**
 * Which auth strategy, credential source and pull secret an image would use,
 * and why. Reads local files (and may run a credential helper) but never
 * contacts the registry, and never prints a secret.
 */
export async function explain(runner: Runner, input: string): Promise<Explanation> {
  const { ref, ...auth } = await runner.resolver.explainAuth(input);
  const { namespace, pullSecret: secret } = runner.options.kube;
  const pullSecret =
    auth.strategy === "custom"
      ? `Secret ${secret.name} (kubernetes.io/dockerconfigjson) in ${namespace}, synced from ${secret.path}, added to the function pod's imagePullSecrets`
      : "none: the node pulls with its own credentials";
  const transport = await runner.auth.choose(ref).transport.describe(ref.registry);
  return { input, image: formatReference(ref), registry: ref.registry, repository: ref.repository, auth, pullSecret, transport };
}

export async function explainCommand(runner: Runner, input: string, output: Output): Promise<string> {
  const e = await explain(runner, input);
  return render(output, e, () => table([
    ["image", e.image === e.input ? e.image : `${e.image} (from ${e.input})`],
    ["registry", e.registry],
    ["strategy", e.auth.strategy],
    ["why", e.auth.reason],
    ["credentials", e.auth.source],
    ["pull secret", e.pullSecret],
    ["transport", e.transport.detail],
  ]));
}
