// Test Kubernetes API server: see server.ts (startKubeApiServer) and README.md.
export { startKubeApiServer } from "./server.ts";
export type { KubeApiServer, KubeApiServerOptions, KubeconfigOptions } from "./server.ts";
export type { RequestLogEntry } from "./request-log.ts";
export type { FaultAction, FaultHandle, FaultMatch, FaultRule } from "./faults.ts";
export { NODE_NAME, loopbackIPAllocator } from "./kubelet.ts";
export type { KubeletOptions, PodRunningContext, PodRunningResult } from "./kubelet.ts";
export type { AuthorizationAttributes } from "./handlers.ts";
export type { KubeObject, Wire, WireEndpoints, WirePod, WirePodTemplate, WireSecret, WireService } from "./types.ts";
