// (g) A server that only speaks TLS 1.1 is refused: minimum TLS 1.2 on every registry connection.
// Served by `openssl s_server -tls1_1` (OpenSSL 3 needs @SECLEVEL=0 for TLS 1.1's SHA-1 signatures).
// A control client with minVersion TLSv1 completes the handshake, proving the server does serve
// TLS 1.1 and that our minimum is what refuses it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Agent, request } from "undici-real";
import { rejection } from "./helpers.ts";
import { chainClient, handshake, secretDir, startTls11Server, type Tls11Server } from "./tls-helpers.ts";

let server: Tls11Server;
beforeAll(async () => {
  server = await startTls11Server();
});
afterAll(() => server?.stop());

describe("(g) TLS 1.1-only server", () => {
  test("control: this machine's OpenSSL serves TLS 1.1 and a TLSv1-minimum client gets it", async () => {
    expect(server.served).toBe("TLSv1.1");
    const lax = new Agent({ connect: { ca: server.ca.certPem, minVersion: "TLSv1" } });
    const res = await request(`https://127.0.0.1:${server.port}/`, { dispatcher: lax });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    await lax.close();
    expect(await handshake(server.port, server.ca.certPem, "TLSv1.2")).toContain("PROTOCOL_VERSION");
  });

  test("the chain refuses it at both https steps, with the server's CA mounted", async () => {
    expect(server.served).toBe("TLSv1.1");
    const c = chainClient({ tlsSecretPath: secretDir({ "ca.crt": server.ca.certPem }) });
    const err = await rejection(c.resolver.resolve(`127.0.0.1:${server.port}/team/fn:v1`));
    expect(err.message).toMatch(/\(1\) mounted-ca \(https\): TLS handshake failed \([A-Z0-9_]*PROTOCOL_VERSION\)/);
    expect(err.message).toMatch(/\(2\) system-ca \(https\): TLS handshake failed \([A-Z0-9_]*PROTOCOL_VERSION\)/);
    expect(err.message).toContain("(3) plain-http (http)");
    await c.close();
  });
});
