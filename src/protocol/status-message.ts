/**
 * Bounds on text that leaves the process in a gRPC status (trailer
 * `grpc-message`) or in an error message. A trailer travels in one HTTP/2
 * header block, percent-encoded (up to 3 wire bytes per byte); a block over
 * the peer's header-list limit (64 KiB in Node and Bun) is never delivered and
 * takes the connection with it. So every status message is cut by bytes,
 * at a UTF-8 boundary, saying how much was cut. Pure.
 */
import { Buffer } from "node:buffer";

/** Largest status message in UTF-8 bytes (≤ 48 KiB on the wire, under every peer's 64 KiB header limit). */
export const MAX_STATUS_MESSAGE_BYTES = 16 * 1024;

/** Continuation bytes of a UTF-8 sequence look like 10xxxxxx. */
const isContinuation = (b: number | undefined): boolean => b !== undefined && (b & 0xc0) === 0x80;

/** The first at most `max` bytes of `buf`, ending on a character boundary. */
function headBytes(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let end = max;
  while (end > 0 && isContinuation(buf[end])) end--;
  return buf.subarray(0, end);
}

/** The last at most `max` bytes of `buf`, starting on a character boundary. */
function tailBytes(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let start = buf.length - max;
  while (start < buf.length && isContinuation(buf[start])) start++;
  return buf.subarray(start);
}

/**
 * The last `maxBytes` bytes of `text` (where a process's stderr explains its
 * failure), prefixed with how many earlier bytes were left out.
 */
export function tailByBytes(text: string, maxBytes: number, what: string): string {
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short text needs no encoding to know it fits.
  if (text.length * 3 <= maxBytes) return text;
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= maxBytes) return text;
  const tail = tailBytes(buf, maxBytes);
  return `[… ${buf.length - tail.length} earlier bytes of ${what} omitted]${tail.toString("utf8")}`;
}

/**
 * `message` within `maxBytes` UTF-8 bytes: the start (what failed, which
 * image) and the end (usually stderr's last words) kept, the middle replaced
 * by a marker naming how many bytes were cut.
 */
export function capStatusMessage(message: string, maxBytes: number = MAX_STATUS_MESSAGE_BYTES): string {
  if (message.length * 3 <= maxBytes) return message;
  const buf = Buffer.from(message, "utf8");
  if (buf.length <= maxBytes) return message;
  // The marker's own length depends on the number in it; reserve room for the longest.
  const reserve = Buffer.byteLength(`[… ${buf.length} bytes of this message omitted …]`);
  const room = Math.max(0, maxBytes - reserve);
  const head = headBytes(buf, Math.floor((room * 3) / 4));
  const tail = tailBytes(buf, room - head.length);
  const cut = buf.length - head.length - tail.length;
  return `${head.toString("utf8")}[… ${cut} bytes of this message omitted …]${tail.toString("utf8")}`;
}
