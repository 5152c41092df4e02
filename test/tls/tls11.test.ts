// (g) A server that only speaks TLS 1.1 is refused: minimum TLS 1.2 on every registry connection.
// Served by `openssl s_server -tls1_1` (OpenSSL 3 needs @SECLEVEL=0 for TLS 1.1's SHA-1 signatures).
// A control client with minVersion TLSv1 completes the handshake, proving the server does serve
// TLS 1.1 and that our minimum is what refuses it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { connect } from "node:tls";
import { Agent, request } from "undici-real";
import { makeCA, makeServerCert, type CA } from "../support/certs.ts";
import { rejection } from "../registry/helpers.ts";
import { chainClient, scratch, secretDir } from "./helpers.ts";

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(a !== null && typeof a === "object" ? a.port : 0));
    });
  });

/** The protocol a handshake with `minVersion` negotiates, or the error code. */
function handshake(port: number, ca: string, minVersion: "TLSv1" | "TLSv1.2"): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port, ca, minVersion }, () => {
      resolve(s.getProtocol() ?? "unknown");
      s.destroy();
    });
    s.on("error", (e: Error & { code?: string }) => resolve(`error ${e.code ?? e.message}`));
  });
}

let ca: CA;
let server: ChildProcess | undefined;
let port = 0;
let served = "";

beforeAll(async () => {
  const dir = scratch("tls11");
  ca = makeCA(dir, "TLS 1.1 CA");
  const cert = makeServerCert(ca, dir);
  port = await freePort();
  server = spawn(
    "openssl",
    ["s_server", "-quiet", "-accept", `127.0.0.1:${port}`, "-cert", cert.certFile, "-key", cert.keyFile, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-www"],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 100; i++) {
    served = await handshake(port, ca.certPem, "TLSv1");
    if (served === "TLSv1.1") break;
    await new Promise((r) => setTimeout(r, 30));
  }
});
afterAll(() => {
  server?.kill("SIGKILL");
});

describe("(g) TLS 1.1-only server", () => {
  test("control: this machine's OpenSSL serves TLS 1.1 and a TLSv1-minimum client gets it", async () => {
    expect(served).toBe("TLSv1.1");
    const lax = new Agent({ connect: { ca: ca.certPem, minVersion: "TLSv1" } });
    const res = await request(`https://127.0.0.1:${port}/`, { dispatcher: lax });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    await lax.close();
    expect(await handshake(port, ca.certPem, "TLSv1.2")).toContain("PROTOCOL_VERSION");
  });

  test("the chain refuses it at both https steps, with the server's CA mounted", async () => {
    expect(served).toBe("TLSv1.1");
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": ca.certPem }) });
    const err = await rejection(c.resolver.resolve(`127.0.0.1:${port}/team/fn:v1`));
    expect(err.message).toMatch(/\(1\) mounted-ca \(https\): TLS handshake failed \([A-Z0-9_]*PROTOCOL_VERSION\)/);
    expect(err.message).toMatch(/\(2\) system-ca \(https\): TLS handshake failed \([A-Z0-9_]*PROTOCOL_VERSION\)/);
    expect(err.message).toContain("(3) plain-http (http)");
    await c.close();
  });
});
