/**
 * Every credential value the runner holds (passwords, tokens, the base64
 * user:password pair, identity tokens), so upstream text (registry error
 * messages, credential-helper output) can be scrubbed of them before it
 * reaches an answer or a log. A registry that echoes our Authorization
 * header back must not get it into an error message.
 */
import { Buffer } from "node:buffer";
import type { Credential } from "./credential.ts";

/** Values shorter than this are not scrubbed: they would blank ordinary words and say little. */
const MIN_LENGTH = 4;
/** Most values remembered; the oldest (rotated tokens) are forgotten first. */
const MAX_VALUES = 2048;
const REDACTED = "[redacted]";

export class SecretScrubber {
  private readonly values = new Set<string>();

  /** Remembers `value` (and nothing shorter than 4 characters). */
  add(value: string | undefined): void {
    if (value === undefined || value.length < MIN_LENGTH || this.values.has(value)) return;
    this.values.add(value);
    if (this.values.size > MAX_VALUES) {
      const oldest = this.values.values().next().value;
      if (oldest !== undefined) this.values.delete(oldest);
    }
  }

  /** Remembers every secret form of a credential, including the Basic header's base64 pair. */
  addCredential(c: Credential): void {
    switch (c.kind) {
      case "basic":
        this.add(c.password);
        this.add(`${c.username}:${c.password}`);
        this.add(Buffer.from(`${c.username}:${c.password}`, "utf8").toString("base64"));
        break;
      case "identityToken":
      case "registryToken":
        this.add(c.token);
        break;
      case "anonymous":
        break;
    }
  }

  /** `text` with every remembered value replaced by `[redacted]`, longest first. */
  scrub(text: string): string {
    if (this.values.size === 0 || text.length < MIN_LENGTH) return text;
    let out = text;
    for (const v of [...this.values].sort((a, b) => b.length - a.length)) {
      if (out.includes(v)) out = out.split(v).join(REDACTED);
    }
    return out;
  }
}

/** The process's one scrubber: credential sources add to it, error and log paths read it. */
export const secrets = new SecretScrubber();
