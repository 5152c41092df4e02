/**
 * `function-runner podspec IMAGE`: the Pod (and its Service) that would run
 * an image, and what would be done about the pull Secret, without writing
 * anything. Without a cluster the inline template is used, and the output
 * says so.
 *
 * The text form is valid multi-document YAML (facts as `#` comments), so it
 * can be piped to `kubectl apply --dry-run=server -f -`.
 */
import { stringify } from "yaml";
import type { PodSpecAnswer } from "../kube/pod-planner.ts";
import type { Output } from "../config/schema.ts";
import type { Runner } from "../runner.ts";
import { render } from "./output.ts";

export function formatPodSpec(a: PodSpecAnswer, kube: { available: boolean; reason: string }): string {
  const secret = a.secret.name === null ? a.secret.action : `Secret ${a.secret.name}: ${a.secret.action}`;
  const template = `${a.template.name} (${a.template.source}, version ${a.template.version})${a.template.note ? `: ${a.template.note}` : ""}`;
  const comments = [
    `image:       ${a.image} -> ${a.pod.spec?.containers.find((c) => c.name === "function")?.image ?? "?"}`,
    `auth:        ${a.auth.strategy} (${a.auth.reason})`,
    `pull secret: ${secret}`,
    `template:    ${template}`,
    `kubernetes:  ${kube.available ? kube.reason : `unavailable (${kube.reason})`}`,
    `pod id:      ${a.podId}`,
  ].map((l) => `# ${l}`);
  return `${comments.join("\n")}\n${stringify(a.pod, { lineWidth: 0 })}---\n${stringify(a.service, { lineWidth: 0 })}`.trimEnd();
}

/** `-o json|yaml`: the answer plus the Kubernetes status; the default text is commented YAML for kubectl. */
export async function podspecCommand(runner: Runner, image: string, output: Output): Promise<string> {
  const answer = await runner.planner.podSpec(image, { allowInline: true });
  const status = runner.kube.status();
  return render(output, { ...answer, kubernetes: status }, () => formatPodSpec(answer, status));
}
