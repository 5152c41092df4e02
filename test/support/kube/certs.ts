// A throwaway PKI made with the openssl CLI: a CA, a serving certificate for
// 127.0.0.1/localhost and a client certificate (for client-certificate auth).
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestPki {
  dir: string;
  caPem: string;
  caPath: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  clientCertPath: string;
  clientKeyPath: string;
  /** The client certificate's identity (CN / O). */
  clientUser: string;
  clientGroup: string;
  remove(): Promise<void>;
}

export interface PkiOptions {
  /** Extra SANs for the serving certificate (IPs or DNS names). */
  hosts?: string[];
  /** Validity in days (default 2). */
  days?: number;
  clientUser?: string;
  clientGroup?: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run("openssl", args, { cwd });
  } catch (e) {
    const stderr = typeof e === "object" && e !== null && "stderr" in e ? String(e.stderr) : "";
    throw new Error(`openssl ${args[0] ?? ""} failed: ${stderr || String(e)}`);
  }
}

function isIP(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

export async function generateTestPki(options: PkiOptions = {}): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), "kube-test-pki-"));
  const days = String(options.days ?? 2);
  const clientUser = options.clientUser ?? "test-admin";
  const clientGroup = options.clientGroup ?? "system:masters";
  const hosts = ["127.0.0.1", "::1", "localhost", ...(options.hosts ?? [])];
  const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

  await openssl(
    [
      "req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", days,
      "-subj", "/CN=kube-test-ca",
      "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  await writeFile(
    join(dir, "server.ext"),
    `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`,
  );
  await writeFile(
    join(dir, "client.ext"),
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );
  await Promise.all([
    openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver"], dir),
    openssl(["req", ...ec, "-keyout", "client.key", "-out", "client.csr", "-subj", `/O=${clientGroup}/CN=${clientUser}`], dir),
  ]);
  await openssl(
    ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "1001", "-out", "server.crt", "-days", days, "-extfile", "server.ext"],
    dir,
  );
  await openssl(
    ["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "1002", "-out", "client.crt", "-days", days, "-extfile", "client.ext"],
    dir,
  );
  const read = (f: string): Promise<string> => readFile(join(dir, f), "utf8");
  const [caPem, serverCertPem, serverKeyPem, clientCertPem, clientKeyPem] = await Promise.all([
    read("ca.crt"),
    read("server.crt"),
    read("server.key"),
    read("client.crt"),
    read("client.key"),
  ]);
  return {
    dir,
    caPem,
    caPath: join(dir, "ca.crt"),
    serverCertPem,
    serverKeyPem,
    clientCertPem,
    clientKeyPem,
    clientCertPath: join(dir, "client.crt"),
    clientKeyPath: join(dir, "client.key"),
    clientUser,
    clientGroup,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
