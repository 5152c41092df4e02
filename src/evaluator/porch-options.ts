/**
 * Porch v4's file-based configuration flags, as the runtimes take them
 * (src/runner.ts maps the flags): `--config` (the exec runtime's
 * image → binary file), `--pod-cache-config` (image → TTL, warmed at
 * start-up), `--warm-up-pod-cache`, `--function-pod-template` (a ConfigMap
 * with `template` and `serviceTemplate`).
 */
export interface PorchRuntimeOptions {
  /** `--config`: replaces `<--functions>/config.yaml`; relative binaries stay relative to `--functions`. */
  execConfigFile?: string;
  /** `--pod-cache-config`. */
  podCacheConfig?: string;
  /** `--warm-up-pod-cache`: a pod per pod-cache-config image and per FunctionConfig podExecutor at start-up. */
  warmUp: boolean;
  /** `--function-pod-template`: ConfigMap name in the runner's namespace. */
  functionPodTemplate?: string;
}
