// deploy/: Porch's manifests (deployments/porch layout) with our image, built
// by kustomize as `kubectl apply -k deploy/` would. The Role is exactly
// Porch's (the one test/evaluator/pod-rbac.int.test.ts runs the runner under).
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { parseCommandLine } from "../../src/config/config.ts";

const ROOT = join(import.meta.dir, "..", "..");
const DEPLOY = join(ROOT, "deploy");

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

const docsOf = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);

/** `kubectl kustomize deploy/` when kubectl is there, else the listed files with the image replaced by hand. */
function build(): Obj[] {
  const r = spawnSync("kubectl", ["kustomize", DEPLOY], { encoding: "utf8" });
  if (r.status === 0) return docsOf(r.stdout);
  const k = parse(readFileSync(join(DEPLOY, "kustomization.yaml"), "utf8")) as { resources: string[]; images: Array<{ name: string; newName: string; newTag: string }> };
  const img = k.images[0];
  let text = k.resources.map((f) => readFileSync(join(DEPLOY, f), "utf8")).join("\n---\n");
  if (img !== undefined) text = text.replaceAll(`image: ${img.name}:latest`, `image: ${img.newName}:${img.newTag}`);
  return docsOf(text);
}

describe("deploy/", () => {
  const objects = build();
  const find = (kind: string, name: string): Obj | undefined => objects.find((o) => o.kind === kind && o.metadata.name === name);

  test("Porch's function runner Deployment, command and flags as Porch's, with our image", () => {
    const d = find("Deployment", "function-runner") as Obj & {
      spec: { template: { spec: { serviceAccountName: string; containers: Array<{ image: string; command: string[]; readinessProbe: unknown }> } } };
    };
    const c = d.spec.template.spec.containers[0];
    expect(c?.image).toBe("localhost/function-runner:latest");
    expect(c?.command[0]).toBe("/home/nonroot/server");
    expect(c?.command).toContain("--warm-up-pod-cache=true");
    expect(c?.readinessProbe).toEqual({ exec: { command: ["/home/nonroot/grpc-health-probe", "-addr", "localhost:9445"] } });
    expect(d.spec.template.spec.serviceAccountName).toBe("porch-fn-runner");
    // Its flags are ours too.
    const parsed = parseCommandLine(c?.command.slice(1) ?? [], { exists: () => false });
    expect(parsed.config["warm-up-pod-cache"]).toBe(true);
    expect(parsed.config.functions).toBe("/home/nonroot/functions");
  });

  test("the Role is exactly Porch HEAD's porch-function-executor, bound to porch-fn-runner", () => {
    const porch = docsOf(readFileSync(join(ROOT, "test", "fixtures", "porch", "head-5-rbac.yaml"), "utf8")).find(
      (o) => o.kind === "Role" && o.metadata.name === "porch-function-executor",
    );
    const ours = find("Role", "porch-function-executor");
    expect(ours?.metadata.namespace).toBe("porch-fn-system");
    expect(ours?.rules).toEqual(porch?.rules);
    const binding = find("RoleBinding", "porch-function-executor") as Obj & { subjects: unknown[] };
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "porch-fn-runner", namespace: "porch-system" }]);
  });

  test("CRDs, namespaces, templates and FunctionConfigs are there", () => {
    expect(find("CustomResourceDefinition", "functionconfigs.config.porch.kpt.dev")).toBeDefined();
    expect(find("CustomResourceDefinition", "servicetemplates.config.porch.kpt.dev")).toBeDefined();
    for (const ns of ["porch-system", "porch-fn-system"]) expect(find("Namespace", ns)).toBeDefined();
    expect(find("PodTemplate", "base-pod-template")?.metadata.namespace).toBe("porch-fn-system");
    expect(find("ServiceTemplate", "base-service-template")?.metadata.namespace).toBe("porch-fn-system");
    expect(objects.filter((o) => o.kind === "FunctionConfig").length).toBeGreaterThan(10);
  });
});
