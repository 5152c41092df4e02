// The runner with exactly the permissions Porch's own Roles grant its
// ServiceAccount (deployments/porch/5-rbac.yaml at HEAD and at v4.1.2, copied
// into test/fixtures/porch/): the test API server answers 403 to anything
// else, as RBAC would. Under HEAD's Role nothing is refused; under v4.1.2's
// (pods and secrets only) functions still run, in pods without Services
// from the inline template, and each missing permission is said once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { AuthorizationAttributes } from "../support/kube/index.ts";
import { decode, encode, fixture, RESOURCE_LIST, ROOT } from "./helpers.ts";
import { NS, type PodWorld, startPodWorld } from "./pod-helpers.ts";

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}
interface Role {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
}

/** The Roles of a Porch RBAC manifest that Porch binds to porch-fn-runner (6-rbac-bind.yaml: porch-function-executor). */
function porchRole(file: string): Role {
  const docs = parseAllDocuments(readFileSync(join(ROOT, "test", "fixtures", "porch", file), "utf8")).map((d) => d.toJS() as Role | null);
  const role = docs.find((d) => d?.kind === "Role" && d.metadata.name === "porch-function-executor");
  if (role == null) throw new Error(`${file}: no Role porch-function-executor`);
  return role;
}

const groupOf = (resource: string): string => (resource === "functionconfigs" || resource === "servicetemplates" ? "config.porch.kpt.dev" : "");

/** RBAC's rule evaluation for a namespaced Role. */
function allows(role: Role, a: AuthorizationAttributes): boolean {
  if (a.namespace !== role.metadata.namespace) return false;
  const resource = a.subresource === undefined ? (a.resource ?? "") : `${a.resource ?? ""}/${a.subresource}`;
  return (role.rules ?? []).some(
    (r) =>
      (r.apiGroups ?? []).includes(groupOf(a.resource ?? "")) &&
      (r.resources ?? []).includes(resource) &&
      (r.verbs ?? []).includes(a.verb ?? "") &&
      (r.resourceNames === undefined || (a.name !== undefined && r.resourceNames.includes(a.name))),
  );
}

let world: PodWorld;
let policy: (a: AuthorizationAttributes) => boolean = () => true;

beforeAll(async () => {
  world = await startPodWorld({ server: { authorize: (a) => policy(a) } });
});
afterAll(async () => {
  await world?.stop();
});

const req = (image: string) => ({ image, resourceList: encode(RESOURCE_LIST), deadline: Date.now() + 30_000 });
const forbidden = () => world.server.requests().filter((r) => r.status === 403);

describe("Porch HEAD's Role", () => {
  test("everything the runner calls is granted: FunctionConfigs watched and written, templates, Services, pods", async () => {
    const role = porchRole("head-5-rbac.yaml");
    policy = (a) => allows(role, a);
    world.server.clearRequests();
    const img = await world.push("rbac-head", "v1", [fixture("set-namespace.sh")]);
    world.server.seed(
      "functionconfigs",
      { apiVersion: "config.porch.kpt.dev/v1alpha1", kind: "FunctionConfig", metadata: { name: "rbac-head" }, spec: { image: "rbac-head", podExecutor: { tags: ["v1"] } } },
      NS,
    );
    const { runner, logger } = await world.runner([], {}, { start: true });
    try {
      await world.server.waitForObject<{ status?: { functionRunnerObservedGeneration?: number } }>(
        "functionconfigs",
        NS,
        "rbac-head",
        (o) => o.status?.functionRunnerObservedGeneration === 1,
        10_000,
      );
      const r = await runner.evaluator?.evaluate(req(img.image));
      expect(decode(r?.log ?? new Uint8Array())).toContain("namespace prod");
      expect(forbidden().map((f) => `${f.verb} ${f.resource}`)).toEqual([]);
      const used = new Set(world.server.requests().map((e) => e.resource));
      for (const resource of ["functionconfigs", "podtemplates", "servicetemplates", "services", "pods", "endpoints"]) expect(used.has(resource)).toBe(true);
      expect(logger.lines.filter((l) => l.includes('"level":"warn"'))).toEqual([]);
    } finally {
      await runner.close();
    }
  });
});

describe("Porch v4.1.2's Role (pods and secrets only)", () => {
  test("functions run in pods without Services, from the inline template; each missing permission is one warning", async () => {
    const role = porchRole("v4.1.2-5-rbac.yaml");
    policy = (a) => allows(role, a);
    const a = await world.push("rbac-v4-a", "v1", [fixture("set-namespace.sh")]);
    const b = await world.push("rbac-v4-b", "v1", [fixture("set-namespace.sh")]);
    world.server.clearRequests();
    const { runner, logger } = await world.runner([], {}, { start: true });
    try {
      for (const image of [a.image, b.image, a.image]) {
        const r = await runner.evaluator?.evaluate(req(image));
        expect(decode(r?.log ?? new Uint8Array())).toContain("namespace prod");
      }
      const created = world.server.requests().filter((e) => e.verb === "create" && e.status === 201);
      expect(created.map((e) => e.resource)).toEqual(["pods", "pods"]);
      const pods = world.server.requests().filter((e) => e.verb === "create" && e.resource === "pods");
      const body = pods[0]?.body as { metadata?: { annotations?: Record<string, string> } } | undefined;
      expect(body?.metadata?.annotations?.["fn.kpt.dev/template-version"]).toBe("inline-v1");
      const warnings = logger.lines.filter((l) => l.includes('"level":"warn"')).map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(warnings.sort()).toEqual(
        [
          "FunctionConfigs are not read: runtimes use the flags and files only",
          "base pod template: no permission on podtemplates; function pods use the inline default template",
          "base service template unavailable; function Services use the inline default template",
          "no permission on services: function pods run without a Service and are dialled by pod IP (as Porch v4.1.2)",
        ].sort(),
      );
    } finally {
      await runner.close();
    }
  });
});
