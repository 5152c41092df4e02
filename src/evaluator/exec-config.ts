/**
 * The exec runtime's `config.yaml` (in the `--functions` directory), mapping
 * function images to local executables, and image matching. Pure.
 *
 *   functions:
 *     - image: set-namespace:v0.4.1          # short names get --default-image-prefix
 *       binary: set-namespace                # relative to the directory, or absolute
 *       args: ["--flag"]                     # optional
 *     - function: set-labels                 # Porch's own form is accepted too
 *       images: [ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.1.5]
 *
 * Images are compared in their full, normalised form, so `set-namespace:v0.4.1`
 * and `ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1` are one
 * entry, as are `docker.io/x/y` and `index.docker.io/x/y:latest`.
 */
import { isAbsolute, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { expandShortName, formatReference, parseReference } from "../image/reference.ts";

export interface ExecFunction {
  /** The image as written in config.yaml. */
  image: string;
  /** Its normalised form: the lookup key. */
  key: string;
  /** Absolute path of the executable. */
  binary: string;
  args: string[];
}

export interface ExecTable {
  functions: ExecFunction[];
  /** Normalised image (and `registry/repository@digest` for pinned ones) → function. */
  byKey: ReadonlyMap<string, ExecFunction>;
  /** Problems that do not make the file unusable (duplicates). */
  warnings: string[];
}

export const EMPTY_TABLE: ExecTable = { functions: [], byKey: new Map(), warnings: [] };

/**
 * Lookup keys of an image: its full form, and for a digest-pinned reference
 * also `registry/repository@digest` (the digest names the content; a tag next
 * to it does not change what runs). Throws RunnerError INVALID_REFERENCE.
 */
export function imageKeys(image: string, defaultImagePrefix: string): string[] {
  const ref = parseReference(expandShortName(image.trim(), defaultImagePrefix));
  const keys = [formatReference(ref)];
  if (ref.digest !== undefined && ref.tag !== undefined) keys.push(formatReference({ registry: ref.registry, repository: ref.repository, digest: ref.digest }));
  return keys;
}

export function lookupFunction(table: ExecTable, image: string, defaultImagePrefix: string): ExecFunction | undefined {
  for (const key of imageKeys(image, defaultImagePrefix)) {
    const fn = table.byKey.get(key);
    if (fn !== undefined) return fn;
  }
  return undefined;
}

const nonEmpty = z.string().trim().min(1, "must not be empty");
const Entry = z
  .object({
    image: nonEmpty.optional(),
    binary: nonEmpty.optional(),
    args: z.array(z.string()).optional(),
    // Porch's form.
    function: nonEmpty.optional(),
    images: z.array(nonEmpty).min(1, "must list at least one image").optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const ours = e.image !== undefined || e.binary !== undefined;
    const porch = e.function !== undefined || e.images !== undefined;
    if (ours && porch) ctx.addIssue({ code: "custom", message: "use either image+binary or Porch's function+images, not both" });
    else if (porch) {
      if (e.function === undefined) ctx.addIssue({ code: "custom", path: ["function"], message: "is required with images" });
      if (e.images === undefined) ctx.addIssue({ code: "custom", path: ["images"], message: "is required with function" });
    } else {
      if (e.image === undefined) ctx.addIssue({ code: "custom", path: ["image"], message: "is required" });
      if (e.binary === undefined) ctx.addIssue({ code: "custom", path: ["binary"], message: "is required" });
    }
  });
const ConfigFile = z.object({ functions: z.array(Entry).nullish() }).strict();

export type ParsedExecConfig = { ok: true; table: ExecTable } | { ok: false; error: string };

const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc === "" ? String(p) : `${acc}.${String(p)}`), "");

/**
 * Parses config.yaml. `error` names the file and the offending field, for the
 * start-up failure and the log. `dir` is where relative binaries live.
 */
export function parseExecConfig(source: string, opts: { file: string; dir: string; defaultImagePrefix: string }): ParsedExecConfig {
  const fail = (what: string): ParsedExecConfig => ({ ok: false, error: `${opts.file}: ${what}` });
  let doc: unknown;
  try {
    doc = parse(source);
  } catch (e) {
    // The parser's first line names the problem and its line:column; the rest is a source excerpt.
    return fail(`not valid YAML: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}`);
  }
  // An empty file configures nothing, like `functions: []`.
  if (doc === null || doc === undefined) return { ok: true, table: EMPTY_TABLE };
  const parsed = ConfigFile.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = pathText(issue?.path ?? []);
    return fail(`${where === "" ? "" : `${where}: `}${issue?.message ?? "invalid"}`);
  }

  const functions: ExecFunction[] = [];
  const byKey = new Map<string, ExecFunction>();
  const warnings: string[] = [];
  for (const [i, entry] of (parsed.data.functions ?? []).entries()) {
    const binaryPath = entry.binary ?? entry.function ?? "";
    const binary = isAbsolute(binaryPath) ? binaryPath : resolve(opts.dir, binaryPath);
    const images = entry.image !== undefined ? [{ image: entry.image, at: `functions[${i}].image` }] : (entry.images ?? []).map((image, j) => ({ image, at: `functions[${i}].images[${j}]` }));
    for (const { image, at } of images) {
      let keys: string[];
      try {
        keys = imageKeys(image, opts.defaultImagePrefix);
      } catch (e) {
        return fail(`${at}: ${e instanceof Error ? e.message : String(e)}`);
      }
      const fn: ExecFunction = { image, key: keys[0] ?? image, binary, args: entry.args ?? [] };
      const taken = byKey.get(fn.key);
      if (taken !== undefined) {
        // As Porch: the first entry wins, the repeat is reported.
        warnings.push(`${opts.file}: ${at}: ${JSON.stringify(image)} is already mapped to ${taken.binary}; ignoring this entry`);
        continue;
      }
      functions.push(fn);
      for (const key of keys) if (!byKey.has(key)) byKey.set(key, fn);
    }
  }
  return { ok: true, table: { functions, byKey, warnings } };
}
