// The pure Markdown reading the README test relies on.
import { describe, expect, test } from "bun:test";
import { anchors, fences, relativeLinks, slug } from "./markdown.ts";

describe("fences", () => {
  test("reads the language, the extra words and the body", () => {
    const md = "text\n```sh keep-running\nbun x.ts\n```\n\n```\nplain\n```\n";
    expect(fences(md)).toEqual([
      { lang: "sh", tags: ["keep-running"], body: "bun x.ts\n", line: 2 },
      { lang: "", tags: [], body: "plain\n", line: 6 },
    ]);
  });

  test("an unclosed fence is an error, not a silently shorter README", () => {
    expect(() => fences("```sh\necho hi\n")).toThrow("fence never closed");
  });
});

describe("links and anchors", () => {
  test("relative links only, split at the anchor; links inside code do not count", () => {
    const md = "[a](guide/x.md) [b](https://example.com) [c](guide/y.md#the-part) [d](#top)\n```\n[e](nope.md)\n```\n";
    expect(relativeLinks(md)).toEqual([
      { path: "guide/x.md" },
      { path: "guide/y.md", anchor: "the-part" },
      { path: "", anchor: "top" },
    ]);
  });

  test("GitHub's slugs: code spans, punctuation and duplicates", () => {
    expect(slug("`explain`: which credentials, and why")).toBe("explain-which-credentials-and-why");
    expect(slug("`function-runner podspec IMAGE`")).toBe("function-runner-podspec-image");
    expect([...anchors("# Flags\n## Flags\n```\n# not a heading\n```\n")]).toEqual(["flags", "flags-1"]);
  });
});
