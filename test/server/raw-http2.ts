// A gRPC caller made of node:http2 and hand-written protobuf, with nothing of
// grpc-js in between: it sees exactly what the server puts on the wire (every
// trailer byte, a stream reset, a session that stops answering) and keeps one
// session for all calls, as Porch's single long-lived connection does.
import { Buffer } from "node:buffer";
import * as http2 from "node:http2";

/** Protobuf varint. */
function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A length-delimited field (wire type 2). */
const field = (num: number, bytes: Buffer): Buffer => Buffer.concat([varint((num << 3) | 2), varint(bytes.length), bytes]);

/** evaluator.EvaluateFunctionRequest: resource_list = 1, image = 2. */
export const evaluateRequest = (image: string, resourceList = ""): Buffer =>
  Buffer.concat([field(1, Buffer.from(resourceList)), field(2, Buffer.from(image))]);

/** grpc.health.v1.HealthCheckRequest: service = 1. */
export const healthRequest = (service = ""): Buffer => (service === "" ? Buffer.alloc(0) : field(1, Buffer.from(service)));

/** The 5-byte gRPC message prefix: not compressed, big-endian length. */
export function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

export interface RawAnswer {
  /** grpc-status as sent (headers of a trailers-only answer, or trailers). */
  status: number;
  /** grpc-message percent-decoded, as a gRPC client shows it. */
  message: string;
  /** grpc-message exactly as it crossed the wire (percent-encoded). */
  wireMessage: string;
  /** Response messages without their 5-byte prefixes. */
  messages: Buffer[];
  headers: http2.IncomingHttpHeaders;
}

export class RawGrpc {
  readonly session: http2.ClientHttp2Session;
  #errors: Error[] = [];

  constructor(authority: string) {
    this.session = http2.connect(authority);
    this.session.on("error", (e) => this.#errors.push(e));
  }

  /** Session-level errors seen so far (a wedged or reset connection shows up here). */
  get errors(): readonly Error[] {
    return this.#errors;
  }

  call(path: string, message: Buffer): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
      });
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      stream.on("response", (h) => (headers = h));
      stream.on("trailers", (t) => (trailers = t));
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("error", reject);
      stream.on("end", () => {
        const source = trailers ?? headers;
        const status = source["grpc-status"];
        if (status === undefined) {
          reject(new Error(`no grpc-status in ${JSON.stringify({ headers, trailers })}`));
          return;
        }
        const wire = source["grpc-message"];
        const wireMessage = typeof wire === "string" ? wire : "";
        resolve({ status: Number(status), message: decodeURIComponent(wireMessage), wireMessage, messages: unframe(Buffer.concat(chunks)), headers });
      });
      stream.end(frame(message));
    });
  }

  close(): void {
    this.session.close();
  }
}

function unframe(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 5 <= body.length) {
    const len = body.readUInt32BE(off + 1);
    out.push(body.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  return out;
}
