// A throwaway PKI made with the openssl CLI: a CA, a serving certificate for
// 127.0.0.1/localhost and a client certificate (client-certificate auth).
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestPki {
  caPem: string;
  caPath: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  /** The client certificate's CN. */
  clientUser: string;
  remove(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run("openssl", args, { cwd });
  } catch (e) {
    const stderr = typeof e === "object" && e !== null && "stderr" in e ? String(e.stderr) : "";
    throw new Error(`openssl ${args[0] ?? ""} failed: ${stderr || String(e)}`);
  }
}

export async function generateTestPki(clientUser = "test-admin"): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), "kube-test-pki-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const sign = (name: string, serial: string): string[] =>
    ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", serial, "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`];
  await openssl(
    ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=kube-test-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    dir,
  );
  const leaf = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
  await writeFile(join(dir, "server.ext"), `subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n${leaf}extendedKeyUsage=serverAuth\n`);
  await writeFile(join(dir, "client.ext"), `${leaf}extendedKeyUsage=clientAuth\n`);
  await Promise.all([
    openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver"], dir),
    openssl(["req", ...ec, "-keyout", "client.key", "-out", "client.csr", "-subj", `/O=system:masters/CN=${clientUser}`], dir),
  ]);
  await openssl(sign("server", "1001"), dir);
  await openssl(sign("client", "1002"), dir);
  const read = (f: string): Promise<string> => readFile(join(dir, f), "utf8");
  const [caPem, serverCertPem, serverKeyPem, clientCertPem, clientKeyPem] = await Promise.all(["ca.crt", "server.crt", "server.key", "client.crt", "client.key"].map(read));
  return {
    caPem: caPem ?? "",
    caPath: join(dir, "ca.crt"),
    serverCertPem: serverCertPem ?? "",
    serverKeyPem: serverKeyPem ?? "",
    clientCertPem: clientCertPem ?? "",
    clientKeyPem: clientKeyPem ?? "",
    clientUser,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
