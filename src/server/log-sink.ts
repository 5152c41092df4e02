/**
 * A log sink that writes once per event-loop turn instead of once per line.
 * The service logs every request; one write(2) per line was the largest
 * JavaScript-side cost of a cache-hit request (bench/http.ts profile). Lines
 * keep their order; the batch is flushed synchronously at process exit.
 */
import { Buffer } from "node:buffer";
import { writeSync } from "node:fs";
import process from "node:process";

export interface LineSink {
  write(line: string): void;
  flush(): void;
}

/** Most lines per write, so a burst never builds an unbounded string. */
const MAX_BATCH = 512;

export function batchedSink(fd: number = 2): LineSink {
  let lines: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (lines.length === 0) return;
    const chunk = Buffer.from(`${lines.join("\n")}\n`);
    lines = [];
    let off = 0;
    try {
      while (off < chunk.length) off += writeSync(fd, chunk, off);
    } catch {
      // A non-blocking pipe that is full (EAGAIN): hand the rest to the stream, which queues it.
      process.stderr.write(chunk.subarray(off));
    }
  };
  process.on("exit", flush);
  return {
    write(line) {
      lines.push(line);
      if (lines.length >= MAX_BATCH) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
