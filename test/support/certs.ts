// Test certificates made with the `openssl` CLI (EC P-256 for CA/TLS, RSA 2048 for JWT signing).
// Everything is written under a caller-provided directory; nothing here cleans up.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A certificate authority: `certFile`/`keyFile` are paths, `certPem`/`keyPem` their contents. */
export interface CA {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  dir: string;
}

/** A leaf certificate signed by a CA (TLS server or JWT signing). */
export interface LeafCert {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  /** DER of the certificate, base64 (standard alphabet) — what goes into a JWT `x5c` header. */
  certDerBase64: string;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function pemToDerBase64(pem: string): string {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!m?.[1]) throw new Error("no certificate in PEM");
  return m[1].replace(/\s+/g, "");
}

/** Self-signed CA; files `ca.crt` and `ca.key` in `dir` (so `dir` works as a certs.d-style CA dir). */
export function makeCA(dir: string, cn = "Test CA"): CA {
  const certFile = join(dir, "ca.crt");
  const keyFile = join(dir, "ca.key");
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile]);
  openssl([
    "req", "-x509", "-new", "-key", keyFile, "-sha256", "-days", "3",
    "-subj", `/CN=${cn}`,
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-out", certFile,
  ]);
  return { certFile, keyFile, certPem: readFileSync(certFile, "utf8"), keyPem: readFileSync(keyFile, "utf8"), dir };
}

function signLeaf(ca: CA, dir: string, name: string, keyArgs: string[], cn: string, ext: string): LeafCert {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  const certFile = join(dir, `${name}.crt`);
  openssl([...keyArgs, "-out", keyFile]);
  openssl(["req", "-new", "-key", keyFile, "-subj", `/CN=${cn}`, "-out", csrFile]);
  writeFileSync(extFile, ext);
  openssl([
    "x509", "-req", "-in", csrFile, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial",
    "-days", "2", "-sha256", "-extfile", extFile, "-out", certFile,
  ]);
  const certPem = readFileSync(certFile, "utf8");
  return { certFile, keyFile, certPem, keyPem: readFileSync(keyFile, "utf8"), certDerBase64: pemToDerBase64(certPem) };
}

/** TLS server certificate for `hosts` (IP literals become IP SANs, others DNS SANs); files `server.crt/.key`. */
export function makeServerCert(
  ca: CA,
  dir: string,
  hosts: string[] = ["127.0.0.1", "localhost", "::1"],
  name = "server",
): LeafCert {
  const san = hosts.map((h) => (/^[\d.]+$/.test(h) || h.includes(":") ? `IP:${h}` : `DNS:${h}`)).join(",");
  const ext = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
    `subjectAltName=${san}`,
    "",
  ].join("\n");
  return signLeaf(ca, dir, name, ["ecparam", "-name", "prime256v1", "-genkey", "-noout"], hosts[0] ?? "server", ext);
}

/** RSA key + certificate (signed by `ca`) for signing registry JWTs (RS256, `x5c` = [cert]). */
export function makeSigningCert(ca: CA, dir: string, name = "token-signing"): LeafCert {
  const ext = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", ""].join("\n");
  return signLeaf(ca, dir, name, ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "token signer", ext);
}
