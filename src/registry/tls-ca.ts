/**
 * The mounted registry CA (docs/tls.md), pure part: which files are
 * looked for and what counts as a usable bundle. Validating here, with
 * X509Certificate, turns a broken secret into an error that names the file
 * instead of an obscure handshake failure later.
 */
import { X509Certificate } from "node:crypto";
import { RunnerError } from "../errors.ts";

/** Looked up in `--tls-secret-path` in this order, as Porch does. */
export const CA_FILE_NAMES = ["ca.crt", "ca.pem"] as const;

/** A CA bundle is a few KiB; anything huge is a mistake, not something to load. */
export const MAX_CA_BYTES = 1 << 20;

export interface CaBundle {
  file: string;
  /** One PEM per certificate, in file order; appended to the system roots. */
  pems: string[];
  /** Subjects, for logs and `explain` (certificates are public, so this is safe to show). */
  subjects: string[];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

const tlsConfig = (file: string, why: string, cause?: unknown): RunnerError =>
  new RunnerError("TLS", `TLS configuration: CA file ${file} ${why}`, cause === undefined ? {} : { cause });

/** Parses a PEM bundle of one or more certificates; throws RunnerError `TLS` naming the file. */
export function parseCaBundle(bytes: Uint8Array, file: string): CaBundle {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    if (looksLikeDer(bytes)) throw tlsConfig(file, "is DER, not PEM (convert it: openssl x509 -inform der -in FILE -out ca.crt)");
    throw tlsConfig(file, "holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)");
  }
  const pems: string[] = [];
  const subjects: string[] = [];
  for (const [i, block] of blocks.entries()) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch (e) {
      throw tlsConfig(file, `has a certificate that does not parse (#${i + 1} of ${blocks.length}): ${e instanceof Error ? e.message : String(e)}`, e);
    }
    pems.push(`${block}\n`);
    subjects.push(cert.subject.replace(/\n/g, ", "));
  }
  return { file, pems, subjects };
}

/** A DER certificate starts with a SEQUENCE tag; only used to word the error. */
function looksLikeDer(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x30) return false;
  try {
    new X509Certificate(bytes);
    return true;
  } catch {
    return false;
  }
}
