// Label selectors as k8s.io/apimachinery/pkg/labels parses them: the runner
// lists its pods by `fn.kpt.dev/image` (exists) and `fn.kpt.dev/image=ID`.
import { badRequest } from "./status.ts";

export interface LabelRequirement {
  key: string;
  operator: "=" | "!=" | "in" | "notin" | "exists" | "!";
  values: string[];
}

export type LabelSelector = LabelRequirement[];

const KEY = String.raw`([A-Za-z0-9][-A-Za-z0-9_./]*)`;
const VALUE = String.raw`([-A-Za-z0-9_.]*)`;

/** Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k`; an empty string matches everything. A malformed one is 400. */
export function parseLabelSelector(input: string): LabelSelector {
  if (input.trim() === "") return [];
  // Commas inside parentheses belong to a set.
  const parts = input.split(/,(?![^(]*\))/).map((p) => p.trim());
  return parts.map((part): LabelRequirement => {
    let m: RegExpMatchArray | null;
    if ((m = part.match(new RegExp(`^!\\s*${KEY}$`)))) return { key: m[1] ?? "", operator: "!", values: [] };
    if ((m = part.match(new RegExp(`^${KEY}\\s+(in|notin)\\s*\\(([^()]*)\\)$`)))) {
      const values = (m[3] ?? "").split(",").map((v) => v.trim());
      return { key: m[1] ?? "", operator: m[2] === "in" ? "in" : "notin", values };
    }
    if ((m = part.match(new RegExp(`^${KEY}\\s*(==|=|!=)\\s*${VALUE}$`)))) {
      return { key: m[1] ?? "", operator: m[2] === "!=" ? "!=" : "=", values: [m[3] ?? ""] };
    }
    if ((m = part.match(new RegExp(`^${KEY}$`)))) return { key: m[1] ?? "", operator: "exists", values: [] };
    throw badRequest(`unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=`);
  });
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector.every(({ key, operator, values }) => {
    const value = Object.hasOwn(l, key) ? l[key] : undefined;
    switch (operator) {
      case "=":
      case "in":
        return value !== undefined && values.includes(value);
      case "!=":
      case "notin":
        return value === undefined || !values.includes(value);
      case "exists":
        return value !== undefined;
      case "!":
        return value === undefined;
    }
  });
}
