// Label selectors (k8s.io/apimachinery/pkg/labels Parse) and field selectors
// (k8s.io/apimachinery/pkg/fields ParseSelector).
import { badRequest } from "./status.ts";
import { validateLabelKey, validateLabelValue } from "./validation.ts";

export type LabelOperator = "=" | "==" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

export type LabelSelector = LabelRequirement[];

/** Splits at commas that are not inside parentheses. */
function splitTopLevel(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of input) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts;
}

function parseError(detail: string): Error {
  return badRequest(`unable to parse requirement: ${detail}`);
}

function checkKey(key: string): void {
  const problems = validateLabelKey(key);
  if (problems.length > 0) throw parseError(`key: Invalid value: ${JSON.stringify(key)}: ${problems.join("; ")}`);
}

function checkValue(value: string): void {
  const problems = validateLabelValue(value);
  if (problems.length > 0) {
    throw parseError(`values[0]: Invalid value: ${JSON.stringify(value)}: ${problems.join("; ")}`);
  }
}

/** Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>3`. Empty string matches everything. */
export function parseLabelSelector(input: string): LabelSelector {
  const requirements: LabelSelector = [];
  if (input.trim() === "") return requirements;
  for (const raw of splitTopLevel(input)) {
    const part = raw.trim();
    if (part === "") throw badRequest(`found '', expected: !, identifier, or 'end of string'`);
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^!\s*([^\s=!<>(),]+)$/))) {
      const key = m[1] ?? "";
      checkKey(key);
      requirements.push({ key, operator: "!", values: [] });
    } else if ((m = part.match(/^([^\s=!<>(),]+)\s+(in|notin)\s*\((.*)\)$/))) {
      const key = m[1] ?? "";
      checkKey(key);
      const values = (m[3] ?? "").split(",").map((v) => v.trim());
      for (const v of values) checkValue(v);
      if (values.length === 0) throw parseError(`for 'in', 'notin' operators, values set can't be empty`);
      requirements.push({ key, operator: m[2] === "in" ? "in" : "notin", values });
    } else if ((m = part.match(/^([^\s=!<>(),]+)\s*(==|=|!=|<|>)\s*([^\s=!<>(),]*)$/))) {
      const key = m[1] ?? "";
      const op = m[2] ?? "=";
      const value = m[3] ?? "";
      checkKey(key);
      if (op === "<" || op === ">") {
        if (!/^-?\d+$/.test(value)) throw parseError(`for 'Gt', 'Lt' operators, the value must be an integer`);
        requirements.push({ key, operator: op === "<" ? "lt" : "gt", values: [value] });
      } else {
        checkValue(value);
        requirements.push({ key, operator: op === "==" ? "==" : op === "!=" ? "!=" : "=", values: [value] });
      }
    } else if ((m = part.match(/^([^\s=!<>(),]+)$/))) {
      const key = m[1] ?? "";
      checkKey(key);
      requirements.push({ key, operator: "exists", values: [] });
    } else {
      throw badRequest(`unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }
  return requirements;
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const value = l[r.key];
    switch (r.operator) {
      case "=":
      case "==":
        return has && value === r.values[0];
      case "!=":
        return !has || value !== r.values[0];
      case "in":
        return has && value !== undefined && r.values.includes(value);
      case "notin":
        return !has || value === undefined || !r.values.includes(value);
      case "exists":
        return has;
      case "!":
        return !has;
      case "gt":
      case "lt": {
        if (!has || value === undefined || !/^-?\d+$/.test(value)) return false;
        const a = Number(value);
        const b = Number(r.values[0]);
        return r.operator === "gt" ? a > b : a < b;
      }
    }
  });
}

/** A Service's `spec.selector` map as a selector (all equalities). */
export function selectorFromMap(map: Record<string, string>): LabelSelector {
  return Object.entries(map).map(([key, value]) => ({ key, operator: "=", values: [value] }));
}

export interface FieldRequirement {
  field: string;
  operator: "=" | "!=";
  value: string;
}

/** Splits on unescaped `sep`, keeping escapes for the next stage. */
function splitUnescaped(input: string, sep: string): string[] {
  const out: string[] = [];
  let current = "";
  for (let i = 0; i < input.length; i++) {
    const ch = input[i] ?? "";
    if (ch === "\\" && i + 1 < input.length) {
      current += ch + (input[i + 1] ?? "");
      i++;
      continue;
    }
    if (ch === sep) {
      out.push(current);
      current = "";
      continue;
    }
    current += ch;
  }
  out.push(current);
  return out;
}

function unescapeFieldValue(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] ?? "";
    if (ch === "\\") {
      const next = value[i + 1];
      if (next === "\\" || next === "," || next === "=") {
        out += next;
        i++;
        continue;
      }
      throw badRequest(`invalid field selector: invalid escape sequence: \\${next ?? ""}`);
    }
    out += ch;
  }
  return out;
}

/** Parses `metadata.name=x,status.phase!=Running` (fields.ParseSelector). */
export function parseFieldSelector(input: string, supported: readonly string[]): FieldRequirement[] {
  const requirements: FieldRequirement[] = [];
  if (input.trim() === "") return requirements;
  for (const part of splitUnescaped(input, ",")) {
    const m = part.match(/^([^=!]+?)(==|!=|=)(.*)$/s);
    if (!m) throw badRequest(`invalid selector: '${input}'; can't understand '${part}'`);
    const field = (m[1] ?? "").trim();
    if (!supported.includes(field)) throw badRequest(`field label not supported: ${field}`);
    requirements.push({ field, operator: m[2] === "!=" ? "!=" : "=", value: unescapeFieldValue(m[3] ?? "") });
  }
  return requirements;
}

export function matchesFields(requirements: readonly FieldRequirement[], fields: Record<string, string>): boolean {
  return requirements.every((r) => {
    const actual = fields[r.field] ?? "";
    return r.operator === "=" ? actual === r.value : actual !== r.value;
  });
}
