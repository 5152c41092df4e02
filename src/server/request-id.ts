/**
 * Request ids: a caller's `x-request-id` (HTTP header or gRPC metadata) is
 * taken when it looks like an id; otherwise one is made. The id is echoed to
 * the caller, carried by every log line of the request (src/log.ts) and
 * passed on to function pods. Made ids are a per-process random prefix and a
 * counter: unique across replicas, and cheap enough for every request.
 */
import { randomBytes } from "node:crypto";

export const REQUEST_ID_HEADER = "x-request-id";

const PREFIX = randomBytes(4).toString("hex");
let counter = 0;

export const newRequestId = (): string => `${PREFIX}-${(++counter).toString(36)}`;

/** What a caller may choose: short, printable, no spaces or quotes (it is echoed and logged). */
const ACCEPTED = /^[A-Za-z0-9._:+=/-]{1,128}$/;

/** The caller's id when it is acceptable, else undefined (a new one is made). */
export function acceptRequestId(value: unknown): string | undefined {
  return typeof value === "string" && ACCEPTED.test(value) ? value : undefined;
}
