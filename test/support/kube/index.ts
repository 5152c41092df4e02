// Test Kubernetes API server: see server.ts (startKubeApiServer) and README.md.
export { startKubeApiServer } from "./server.ts";
export type { KubeApiServer, KubeApiServerOptions, KubeconfigOptions } from "./server.ts";
export type { RequestLogEntry } from "./request-log.ts";
export { FaultInjector } from "./faults.ts";
export type { FaultAction, FaultHandle, FaultMatch, FaultRule, FaultStatus } from "./faults.ts";
export { SimulatedKubelet, loopbackIPAllocator } from "./kubelet.ts";
export type { KubeletOptions, PodRunningContext, PodRunningResult } from "./kubelet.ts";
export type { AuthorizationAttributes } from "./handlers.ts";
export { generateTestPki } from "./certs.ts";
export type { TestPki } from "./certs.ts";
export type { KubeObject, Wire, WirePod, WireSecret, WireService, WireEndpoints, WireNamespace, WirePodTemplate } from "./types.ts";
export { parseLabelSelector, matchesLabels } from "./selectors.ts";
