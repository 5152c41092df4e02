// Byte caps on status messages and stderr excerpts: sizes, UTF-8 boundaries, markers.
import { describe, expect, test } from "../support/testing.ts";
import { Buffer } from "node:buffer";
import { capStatusMessage, MAX_STATUS_MESSAGE_BYTES, tailByBytes } from "../../src/protocol/status-message.ts";

const bytes = (s: string): number => Buffer.byteLength(s, "utf8");

describe("capStatusMessage", () => {
  test("a message within the cap is returned as is", () => {
    const m = "日".repeat(100);
    expect(capStatusMessage(m, 300)).toBe(m);
    expect(capStatusMessage("short")).toBe("short");
  });

  test("a long message keeps its start and end, within the cap, naming the bytes cut", () => {
    const m = `START ${"x".repeat(100_000)} END`;
    const cut = capStatusMessage(m);
    expect(bytes(cut)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    expect(bytes(cut)).toBeGreaterThan(MAX_STATUS_MESSAGE_BYTES - 64);
    expect(cut).toStartWith("START ");
    expect(cut).toEndWith(" END");
    const n = Number(/\[… (\d+) bytes of this message omitted …\]/.exec(cut)?.[1]);
    expect(bytes(cut.replace(/\[… \d+ bytes of this message omitted …\]/, "")) + n).toBe(bytes(m));
  });

  test("multi-byte characters are never split, whatever the cap", () => {
    const m = "é日😀".repeat(5_000);
    for (const cap of [100, 101, 102, 103, 1000, 4097]) {
      const cut = capStatusMessage(m, cap);
      expect(bytes(cut)).toBeLessThanOrEqual(cap);
      expect(cut.includes("\uFFFD")).toBe(false);
      const [head = "", tail = ""] = cut.split(/\[… \d+ bytes of this message omitted …\]/);
      expect(m.startsWith(head)).toBe(true);
      expect(m.endsWith(tail)).toBe(true);
    }
  });
});

describe("tailByBytes", () => {
  test("keeps the last bytes on a character boundary and says how many earlier bytes went", () => {
    const text = `${"日".repeat(1000)}LAST`;
    const cut = tailByBytes(text, 100, "stderr");
    const kept = cut.slice(cut.indexOf("]") + 1);
    expect(kept).toEndWith("LAST");
    expect(bytes(kept)).toBeLessThanOrEqual(100);
    expect(text.endsWith(kept)).toBe(true);
    expect(cut).toStartWith(`[… ${bytes(text) - bytes(kept)} earlier bytes of stderr omitted]`);
  });

  test("text within the limit is unchanged", () => {
    expect(tailByBytes("日日", 6, "stderr")).toBe("日日");
  });
});
