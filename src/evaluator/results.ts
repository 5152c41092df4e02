/**
 * Reading a function's output ResourceList the way Porch's wrapper server
 * does (kpt fn SDK `ParseResourceList`): it must be a `kind: ResourceList`
 * object, and its `results` are the function's structured messages. Pure.
 */
import { parse } from "yaml";
import { z } from "zod";

/** One entry of `ResourceList.results` (KRM functions spec; kpt fn SDK `Result`). */
export interface FunctionResult {
  message: string;
  severity?: string;
  resourceRef?: { apiVersion?: string; kind?: string; name?: string; namespace?: string };
  field?: { path?: string };
  file?: { path?: string; index?: number };
  tags?: Record<string, string>;
}

// Scalars are taken as text, as Go's YAML decoder does for string fields.
const text = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const ResultSchema = z.object({
  message: text.optional().default(""),
  severity: text.optional(),
  resourceRef: z
    .object({ apiVersion: text.optional(), kind: text.optional(), name: text.optional(), namespace: text.optional() })
    .nullish()
    .transform((v) => v ?? undefined),
  field: z.object({ path: text.optional() }).nullish().transform((v) => v ?? undefined),
  file: z.object({ path: text.optional(), index: z.number().int().optional() }).nullish().transform((v) => v ?? undefined),
  tags: z.record(z.string(), text).nullish().transform((v) => v ?? undefined),
});

export type ParsedOutput = { ok: true; results: FunctionResult[] } | { ok: false; error: string };

const dropUndefined = (r: z.infer<typeof ResultSchema>): FunctionResult => {
  const out: FunctionResult = { message: r.message };
  if (r.severity !== undefined) out.severity = r.severity;
  if (r.resourceRef !== undefined) out.resourceRef = r.resourceRef;
  if (r.field !== undefined) out.field = r.field;
  if (r.file !== undefined) out.file = r.file;
  if (r.tags !== undefined) out.tags = r.tags;
  return out;
};

const utf8 = new TextDecoder();

/** Parses function output (YAML or JSON); `error` says why it is not a ResourceList. */
export function parseOutputResourceList(bytes: Uint8Array): ParsedOutput {
  const source = utf8.decode(bytes);
  if (source.trim() === "") return { ok: false, error: "the output is empty, not a ResourceList" };
  let doc: unknown;
  try {
    doc = parse(source);
  } catch (e) {
    return { ok: false, error: `failed to parse the output as YAML: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    return { ok: false, error: "the output is not a YAML object, so not a ResourceList" };
  }
  const kind = (doc as Record<string, unknown>).kind;
  if (kind !== "ResourceList") return { ok: false, error: `input was of unexpected kind ${JSON.stringify(kind ?? "")}; expected ResourceList` };
  const raw = (doc as Record<string, unknown>).results;
  if (raw === undefined || raw === null) return { ok: true, results: [] };
  const parsed = z.array(ResultSchema).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `failed to decode results: results.${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}` };
  }
  return { ok: true, results: parsed.data.map(dropUndefined) };
}

/** kpt's `Result.String()`: `[severity] apiVersion/kind/namespace/name field.path: message`. */
export function formatResult(r: FunctionResult): string {
  const ref = r.resourceRef;
  const id = ref ? [ref.apiVersion, ref.kind, ref.namespace, ref.name].filter((s): s is string => s !== undefined && s !== "") : [];
  let out = `[${r.severity === undefined || r.severity === "" ? "info" : r.severity}]`;
  if (id.length > 0) out += ` ${id.join("/")}`;
  if (r.field !== undefined) out += ` ${r.field.path ?? ""}`;
  return `${out}: ${r.message}`;
}

/** kpt's `Results.Error()`: each result formatted, separated by a blank line. */
export const formatResults = (results: readonly FunctionResult[]): string => results.map(formatResult).join("\n\n");

/** kpt's `Results.ExitCode() != 0`: at least one result of severity error. */
export const hasErrorResult = (results: readonly FunctionResult[]): boolean => results.some((r) => r.severity === "error");
