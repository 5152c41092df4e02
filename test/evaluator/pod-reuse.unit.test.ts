import { describe, expect, test } from "../support/testing.ts";
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import { adoptable, reuseProblem } from "../../src/evaluator/pod-reuse.ts";
import { IMAGE_LABEL, TEMPLATE_VERSION_ANNOTATION } from "../../src/kube/pod-template.ts";

const target = { podUid: "uid-1", serviceName: "fn-v1-1-abcdef12" };

function pod(patch: { uid?: string; label?: string; version?: string; phase?: string; deleting?: boolean } = {}): V1Pod {
  return {
    metadata: {
      name: "fn-v1-1-abcdef12",
      uid: patch.uid ?? "uid-1",
      labels: { [IMAGE_LABEL]: patch.label ?? target.serviceName },
      annotations: { [TEMPLATE_VERSION_ANNOTATION]: patch.version ?? "7" },
      ...(patch.deleting ? { deletionTimestamp: new Date(0) } : {}),
    },
    status: { phase: patch.phase ?? "Running", podIP: "10.0.0.5", conditions: [{ type: "Ready", status: "True" }] },
  };
}
const service = (selector = target.serviceName): V1Service => ({ spec: { selector: { [IMAGE_LABEL]: selector } } });

describe("reuseProblem", () => {
  test("a healthy pod of the current template with its Service may be reused", () => {
    expect(reuseProblem(target, pod(), service(), "7")).toBeUndefined();
  });

  const cases: Array<[string, V1Pod | undefined, V1Service | undefined, string]> = [
    ["the pod is gone", undefined, service(), "7"],
    ["the pod is gone", pod({ uid: "uid-2" }), service(), "7"],
    ["the pod failed", pod({ phase: "Failed" }), service(), "7"],
    ["the pod is being deleted", pod({ deleting: true }), service(), "7"],
    ["the pod lost its label", pod({ label: "other" }), service(), "7"],
    ["the pod template changed (pod 6, now 7)", pod({ version: "6" }), service(), "7"],
    ["its service", pod(), undefined, "7"],
    ["its service", pod(), service("someone-else"), "7"],
  ];
  for (const [why, p, s, version] of cases) {
    test(why, () => {
      expect(reuseProblem(target, p, s, version)).toStartWith(why);
    });
  }
});

describe("adoptable", () => {
  test("a ready pod of the current template becomes a target with its reclaim-after", () => {
    const p = pod();
    p.metadata!.annotations!["fn.kpt.dev/reclaim-after"] = "1700000000";
    const found = adoptable(p, "7", "porch-fn-system");
    expect(found?.target).toMatchObject({ podUid: "uid-1", podIP: "10.0.0.5", serviceName: target.serviceName, namespace: "porch-fn-system", templateVersion: "7" });
    expect(found?.reclaimAfterMs).toBe(1_700_000_000_000);
  });

  test("older templates, unready, failing or unlabelled pods are not adopted", () => {
    expect(adoptable(pod({ version: "6" }), "7", "ns")).toBeUndefined();
    expect(adoptable(pod({ phase: "Pending" }), "7", "ns")).toBeUndefined();
    expect(adoptable(pod({ phase: "Failed" }), "7", "ns")).toBeUndefined();
    const unlabelled = pod();
    unlabelled.metadata!.labels = {};
    expect(adoptable(unlabelled, "7", "ns")).toBeUndefined();
  });
});
