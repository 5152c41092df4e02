// What the docs test reads out of Markdown: fenced code blocks with their info
// string, relative links, and the anchors GitHub makes from headings. Pure.

export interface Fence {
  /** First word of the info string: `sh`, `text`, `yaml`, ... ("" for a bare fence). */
  lang: string;
  /** The other words of the info string (GitHub ignores them): `keep-running`, `pinned`, `exact`. */
  tags: string[];
  /** The block's text, ending with a newline. */
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** Fenced blocks opened by ``` at column 0, in document order. */
export function fences(markdown: string): Fence[] {
  const lines = markdown.split("\n");
  const out: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i] ?? "");
    if (!open) continue;
    const words = (open[1] ?? "").trim().split(/\s+/).filter((w) => w !== "");
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== "```"; i++) body.push(lines[i] ?? "");
    if (i >= lines.length) throw new Error(`line ${start + 1}: fence never closed`);
    out.push({ lang: words[0] ?? "", tags: words.slice(1), body: body.join("\n") + "\n", line: start + 1 });
  }
  return out;
}

/** Markdown text outside fenced blocks (links and headings inside code do not count). */
export function prose(markdown: string): string {
  return markdown.replace(/^```.*\n[\s\S]*?^```$/gm, "");
}

export interface Link {
  /** The file part of the target ("" for a link to an anchor in the same file). */
  path: string;
  /** The anchor without "#", or undefined. */
  anchor?: string;
}

/** Relative links `[text](target)`; absolute URLs and mail links are left out. */
export function relativeLinks(markdown: string): Link[] {
  const out: Link[] = [];
  for (const m of prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1] ?? "";
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const hash = target.indexOf("#");
    out.push(hash < 0 ? { path: target } : { path: target.slice(0, hash), anchor: target.slice(hash + 1) });
  }
  return out;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a document's headings (duplicates get -1, -2, ... as on GitHub). */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(markdown).matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const base = slug(m[1] ?? "");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}
