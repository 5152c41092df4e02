/**
 * Porch v4's file-based configuration flags, as the runtimes take them
 * (src/config/config.ts parses the flags): `--config` (the exec runtime's
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

/** Porch v4.1.2's default `--pod-cache-config`. */
export const DEFAULT_POD_CACHE_CONFIG = "/pod-cache-config/pod-cache-config.yaml";

/** The flags as src/config/config.ts names them (each may be absent from an older flag set). */
export interface PorchFileFlags {
  config?: string;
  "pod-cache-config"?: string;
  "warm-up-pod-cache"?: boolean;
  "function-pod-template"?: string;
}

/** The runtimes' options from the parsed flags; Porch's defaults where a flag is absent (warm-up on). */
export function porchOptionsFrom(flags: PorchFileFlags): PorchRuntimeOptions {
  const execConfigFile = flags.config;
  const functionPodTemplate = flags["function-pod-template"];
  return {
    warmUp: flags["warm-up-pod-cache"] ?? true,
    podCacheConfig: flags["pod-cache-config"] ?? DEFAULT_POD_CACHE_CONFIG,
    ...(execConfigFile === undefined || execConfigFile === "" ? {} : { execConfigFile }),
    ...(functionPodTemplate === undefined || functionPodTemplate === "" ? {} : { functionPodTemplate }),
  };
}
