import type { Style } from "./help.ts";

/** Colour only on a terminal, never with NO_COLOR set (https://no-color.org) or TERM=dumb. */
export function useColour(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb";
}

export function styleFor(colour: boolean): Style & { red(s: string): string } {
  if (!colour) return { bold: (s) => s, red: (s) => s };
  return { bold: (s) => `\x1b[1m${s}\x1b[22m`, red: (s) => `\x1b[31m${s}\x1b[39m` };
}
