import { describe, expect, test } from "../support/testing.ts";
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import {
  alive,
  formatReclaimAfter,
  functionImageOf,
  labelOf,
  parseReclaimAfter,
  podFacts,
  reclaimAfterOfPod,
  selects,
  templateVersionOfPod,
} from "../../src/evaluator/pod-facts.ts";
import { FUNCTION_CONTAINER_NAME, IMAGE_LABEL, RECLAIM_AFTER_ANNOTATION, TEMPLATE_VERSION_ANNOTATION } from "../../src/kube/pod-template.ts";

const ready = [{ type: "Ready", status: "True" }];

function pod(over: { label?: string; version?: string; reclaim?: string; phase?: string; deleting?: boolean; ready?: boolean } = {}): V1Pod {
  const annotations: Record<string, string> = {};
  if (over.version !== undefined) annotations[TEMPLATE_VERSION_ANNOTATION] = over.version;
  if (over.reclaim !== undefined) annotations[RECLAIM_AFTER_ANNOTATION] = over.reclaim;
  return {
    metadata: {
      name: "fn-v1-1-abcdef12",
      ...(over.label === undefined ? {} : { labels: { [IMAGE_LABEL]: over.label, other: "x" } }),
      annotations,
      ...(over.deleting === true ? { deletionTimestamp: new Date(0) } : {}),
    },
    spec: {
      initContainers: [{ name: "copy-wrapper-server", image: "wrapper:1" }],
      containers: [
        { name: "sidecar", image: "sidecar:1" },
        { name: FUNCTION_CONTAINER_NAME, image: "registry.test/fn@sha256:aa" },
      ],
    },
    status: { phase: over.phase ?? "Running", podIP: "10.0.0.5", conditions: over.ready === false ? [] : ready },
  };
}

describe("labels and annotations", () => {
  test("the pod id label and the template version, or undefined", () => {
    expect(labelOf(pod({ label: "fn-v1-1-abcdef12" }))).toBe("fn-v1-1-abcdef12");
    expect(labelOf(pod())).toBeUndefined();
    expect(labelOf({})).toBeUndefined();
    expect(templateVersionOfPod(pod({ version: "7" }))).toBe("7");
    expect(templateVersionOfPod(pod())).toBeUndefined();
  });

  test("a Service selects the pods of one pod id only", () => {
    const svc = (selector: Record<string, string> | undefined): V1Service => ({ spec: selector === undefined ? {} : { selector } });
    expect(selects(svc({ [IMAGE_LABEL]: "fn-1" }), "fn-1")).toBe(true);
    expect(selects(svc({ [IMAGE_LABEL]: "fn-1" }), "fn-2")).toBe(false);
    expect(selects(svc({ app: "fn-1" }), "fn-1")).toBe(false);
    expect(selects(svc(undefined), "fn-1")).toBe(false);
  });

  test("the function container's image, not another container's", () => {
    expect(functionImageOf(pod())).toBe("registry.test/fn@sha256:aa");
    expect(functionImageOf({ spec: { containers: [{ name: "sidecar", image: "sidecar:1" }] } })).toBeUndefined();
  });
});

describe("alive", () => {
  test.each([
    ["ready", {}, true],
    ["running, not ready", { ready: false }, true],
    ["pending", { phase: "Pending", ready: false }, true],
    ["failed", { phase: "Failed" }, false],
    ["succeeded", { phase: "Succeeded" }, false],
    ["terminating", { deleting: true }, false],
  ] as const)("%s", (_name, over, want) => {
    expect(alive(pod(over))).toBe(want);
  });
});

describe("reclaim-after", () => {
  test("unix seconds ↔ ms; anything else is unreadable", () => {
    expect(parseReclaimAfter("1700000000")).toBe(1_700_000_000_000);
    expect(parseReclaimAfter(" 1700000000 ")).toBe(1_700_000_000_000);
    for (const bad of [undefined, "", "-5", "1.5", "17e8", "abc", "1".repeat(13)]) expect(parseReclaimAfter(bad)).toBeUndefined();
    expect(formatReclaimAfter(1_700_000_000_999)).toBe("1700000000");
    expect(parseReclaimAfter(formatReclaimAfter(1_700_000_000_000))).toBe(1_700_000_000_000);
  });

  test("read off the pod's annotation", () => {
    expect(reclaimAfterOfPod(pod({ reclaim: "1700000000" }))).toBe(1_700_000_000_000);
    expect(reclaimAfterOfPod(pod({ reclaim: "soon" }))).toBeUndefined();
    expect(reclaimAfterOfPod(pod())).toBeUndefined();
  });
});

describe("podFacts", () => {
  test("what garbage collection judges a pod by", () => {
    expect(podFacts(pod({ version: "7", reclaim: "1700000000", phase: "Running" }))).toEqual({
      phase: "Running",
      deleting: false,
      reclaimAfterMs: 1_700_000_000_000,
      templateVersion: "7",
    });
    expect(podFacts(pod({ phase: "Failed", deleting: true }))).toEqual({ phase: "Failed", deleting: true });
  });
});
