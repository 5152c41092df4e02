/**
 * Platforms (`os/architecture[/variant]`): parsing, containerd's
 * normalisation and matching, so one platform has one spelling in cache
 * keys, answers and messages.
 */
import { RunnerError } from "../errors.ts";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

// containerd's normalisation, so "linux/x86_64" and "linux/aarch64" mean what users expect.
export function normaliseArch(architecture: string, variant: string | undefined): { architecture: string; variant: string | undefined } {
  const arch = architecture.toLowerCase();
  let v = variant?.toLowerCase();
  if (v !== undefined && /^[0-9]+$/.test(v)) v = `v${v}`;
  switch (arch) {
    case "i386":
      return { architecture: "386", variant: undefined };
    case "x86_64":
    case "x86-64":
      return { architecture: "amd64", variant: v };
    case "aarch64":
      return { architecture: "arm64", variant: v };
    case "armhf":
      return { architecture: "arm", variant: "v7" };
    case "armel":
      return { architecture: "arm", variant: "v6" };
    default:
      return { architecture: arch, variant: v };
  }
}

// The variant a platform without one implies (containerd: arm64 → v8, arm → v7, amd64 → v1).
export function effectiveVariant(architecture: string, variant: string | undefined): string | undefined {
  if (variant !== undefined && variant !== "") return variant;
  return architecture === "arm64" ? "v8" : architecture === "arm" ? "v7" : architecture === "amd64" ? "v1" : undefined;
}

const PLATFORM_PART = /^[a-z0-9][a-z0-9._-]*$/;
/** Longest platform string accepted: real ones are under 30 characters (`linux/arm64/v8`, `windows/amd64`). */
export const PLATFORM_MAX = 64;

/**
 * containerd's normalisation (platforms.Normalize), so one platform has one
 * spelling for cache keys and answers: `linux/arm64/v8` → `linux/arm64`
 * (v8 is arm64's default), `linux/amd64/v1` → `linux/amd64`, `linux/arm` →
 * `linux/arm/v7`, `x86_64` → `amd64`, `aarch64` → `arm64`, `macos` → `darwin`.
 */
export function normalisePlatform(p: Platform): Platform {
  const lower = p.os.toLowerCase();
  const os = lower === "macos" ? "darwin" : lower;
  let arch = p.architecture.toLowerCase();
  let v = p.variant === undefined || p.variant === "" ? undefined : p.variant.toLowerCase();
  switch (arch) {
    case "i386":
      arch = "386";
      v = undefined;
      break;
    case "x86_64":
    case "x86-64":
    case "amd64":
      arch = "amd64";
      if (v === "v1" || v === "1") v = undefined;
      break;
    case "aarch64":
    case "arm64":
      arch = "arm64";
      if (v === "8" || v === "v8" || v === "v8.0") v = undefined;
      else if (v === "9" || v === "9.0" || v === "v9.0") v = "v9";
      else if (v === "8.1") v = "v8.1";
      break;
    case "armhf":
      arch = "arm";
      v = "v7";
      break;
    case "armel":
      arch = "arm";
      v = "v6";
      break;
    case "arm":
      if (v === undefined || v === "7") v = "v7";
      else if (v === "5" || v === "6" || v === "8") v = `v${v}`;
      break;
  }
  return v === undefined ? { os, architecture: arch } : { os, architecture: arch, variant: v };
}

/** `os/arch[/variant]`, bounded and normalised (normalisePlatform). Throws INVALID_ARGUMENT. */
export function parsePlatform(input: string): Platform {
  const bad = (why: string) =>
    new RunnerError("INVALID_ARGUMENT", `invalid platform ${JSON.stringify(input.length > PLATFORM_MAX ? `${input.slice(0, PLATFORM_MAX)}…` : input)}: ${why}`);
  if (input.length > PLATFORM_MAX) throw bad(`longer than ${PLATFORM_MAX} characters`);
  const parts = input.toLowerCase().split("/");
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => PLATFORM_PART.test(p))) {
    throw bad("expected os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8");
  }
  const [os = "", architecture = "", variant] = parts;
  return normalisePlatform(variant === undefined ? { os, architecture } : { os, architecture, variant });
}

/** The one spelling of a platform (normalised): cache keys, answers and messages all use it. */
export function formatPlatform(p: Platform): string {
  const n = normalisePlatform(p);
  return n.variant !== undefined ? `${n.os}/${n.architecture}/${n.variant}` : `${n.os}/${n.architecture}`;
}

/**
 * Whether an image built for `have` (its config) serves a request for `want`:
 * same os and architecture after normalisation; the variant counts only when
 * `want` names one other than the architecture's default.
 */
export function platformServes(want: Platform, have: Platform): boolean {
  const w = normalisePlatform(want);
  const h = normalisePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  return w.variant === undefined || w.variant === h.variant;
}
