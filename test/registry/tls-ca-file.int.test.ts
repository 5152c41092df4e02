import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { userInfo } from "node:os";
import { RunnerError } from "../../src/errors.ts";
import { MountedCaFile } from "../../src/registry/tls-ca-file.ts";
import { parseCaBundle } from "../../src/registry/tls-ca.ts";
import { chainOrder, TlsChainTransport } from "../../src/registry/tls.ts";
import { DefaultTransport, isTlsPortAnswer } from "../../src/registry/transport.ts";
import { kubeSecretDir, registryAccess, scratch, secretDir, strayCA } from "./tls-helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const caA = strayCA("CA A");
const caB = strayCA("CA B");

describe("parseCaBundle (pure)", () => {
  test("one certificate", () => {
    const b = parseCaBundle(enc(caA.certPem), "/s/ca.crt");
    expect(b.pems).toHaveLength(1);
    expect(b.subjects[0]).toContain("CN=CA A");
  });

  test("a bundle of several certificates, with text around them", () => {
    const b = parseCaBundle(enc(`# corporate roots\n${caA.certPem}\nsome comment\n${caB.certPem}`), "/s/ca.crt");
    expect(b.pems).toHaveLength(2);
    expect(b.subjects.map((s) => s.replace(/.*CN=/, ""))).toEqual(["CA A", "CA B"]);
  });

  test("garbage: a TLS configuration error naming the file", () => {
    const e = (() => {
      try {
        parseCaBundle(enc("not a certificate\n"), "/s/ca.crt");
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(RunnerError);
    expect((e as RunnerError).code).toBe("TLS");
    expect((e as RunnerError).message).toContain("/s/ca.crt");
    expect((e as RunnerError).message).toContain("no PEM certificate");
  });

  test("PEM armour around bytes that are not a certificate", () => {
    const bad = "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n";
    expect(() => parseCaBundle(enc(`${caA.certPem}${bad}`), "/s/ca.crt")).toThrow(/CA file \/s\/ca.crt has a certificate that does not parse \(#2 of 2\)/);
  });

  test("DER instead of PEM is named as such", () => {
    const der = execFileSync("openssl", ["x509", "-in", caA.certFile, "-outform", "der"]);
    expect(() => parseCaBundle(new Uint8Array(der), "/s/ca.crt")).toThrow(/is DER, not PEM/);
  });

  test("an empty file", () => {
    expect(() => parseCaBundle(new Uint8Array(), "/s/ca.pem")).toThrow(/CA file \/s\/ca.pem holds no PEM certificate/);
  });
});

describe("MountedCaFile", () => {
  test("ca.crt is preferred over ca.pem", async () => {
    const dir = secretDir({ "ca.crt": caA.certPem, "ca.pem": caB.certPem });
    const load = await new MountedCaFile(dir).load();
    expect(load.bundle?.file).toBe(join(dir, "ca.crt"));
    expect(load.bundle?.subjects[0]).toContain("CA A");
  });

  test("ca.pem when ca.crt is absent", async () => {
    const dir = secretDir({ "ca.pem": caB.certPem });
    const load = await new MountedCaFile(dir).load();
    expect(load.bundle?.file).toBe(join(dir, "ca.pem"));
  });

  test("a missing directory says so and names the flag", async () => {
    const load = await new MountedCaFile("/nonexistent/tls-secret").load();
    expect(load.error?.code).toBe("TLS");
    expect(load.error?.message).toContain("--tls-secret-path /nonexistent/tls-secret does not exist");
  });

  test("a directory without either file", async () => {
    const dir = secretDir({ "tls.crt": caA.certPem });
    const load = await new MountedCaFile(dir).load();
    expect(load.error?.message).toContain(`no ca.crt or ca.pem in --tls-secret-path ${dir}`);
  });

  test("a path that is a file, not a directory", async () => {
    const dir = secretDir({ "ca.crt": caA.certPem });
    const load = await new MountedCaFile(join(dir, "ca.crt")).load();
    expect(load.error?.message).toContain("is not a directory");
  });

  test("garbage ca.crt is an error even when ca.pem is fine (the operator's file wins)", async () => {
    const dir = secretDir({ "ca.crt": "garbage", "ca.pem": caB.certPem });
    const load = await new MountedCaFile(dir).load();
    expect(load.error?.message).toContain(join(dir, "ca.crt"));
  });

  test("ca.crt that is a directory: not a regular file", async () => {
    const dir = secretDir({});
    mkdirSync(join(dir, "ca.crt"));
    const load = await new MountedCaFile(dir).load();
    expect(load.error?.message).toContain(`CA file ${join(dir, "ca.crt")} is not a regular file`);
  });

  // Root reads any file, so this runs only as an ordinary user.
  test.skipIf(userInfo().uid === 0)("an unreadable ca.crt names the file and the errno", async () => {
    const dir = secretDir({ "ca.crt": caA.certPem });
    chmodSync(join(dir, "ca.crt"), 0o000);
    const load = await new MountedCaFile(dir).load();
    expect(load.error?.message).toContain(`cannot read CA file ${join(dir, "ca.crt")} (EACCES)`);
  });

  test("re-read only when the file changes: same outcome object until then", async () => {
    const dir = secretDir({ "ca.crt": caA.certPem });
    const f = new MountedCaFile(dir);
    const first = await f.load();
    expect(await f.load()).toBe(first);
    writeFileSync(join(dir, "ca.crt"), `${caA.certPem}${caB.certPem}`);
    const second = await f.load();
    expect(second).not.toBe(first);
    expect(second.bundle?.pems).toHaveLength(2);
    unlinkSync(join(dir, "ca.crt"));
    expect((await f.load()).error?.message).toContain("no ca.crt or ca.pem");
    writeFileSync(join(dir, "ca.pem"), caB.certPem);
    expect((await f.load()).bundle?.file).toBe(join(dir, "ca.pem"));
  });

  test("a Kubernetes symlink swap is picked up", async () => {
    const secret = kubeSecretDir({ "ca.crt": caA.certPem });
    const f = new MountedCaFile(secret.dir);
    expect((await f.load()).bundle?.subjects[0]).toContain("CA A");
    secret.swap({ "ca.crt": caB.certPem });
    expect(readFileSync(join(secret.dir, "ca.crt"), "utf8")).toBe(caB.certPem);
    expect((await f.load()).bundle?.subjects[0]).toContain("CA B");
  });
});

describe("chain order", () => {
  test("mounted CA, system CAs, plain HTTP", () => {
    expect(chainOrder()).toEqual(["mounted-ca", "system-ca", "plain-http"]);
  });
  test("the remembered step first, the rest behind it in order", () => {
    expect(chainOrder("plain-http")).toEqual(["plain-http", "mounted-ca", "system-ca"]);
    expect(chainOrder("system-ca")).toEqual(["system-ca", "mounted-ca", "plain-http"]);
  });
});

describe("transport selection", () => {
  const dir = scratch("sel");

  test("flags off, or only one of them: the default transport", async () => {
    for (const f of [[], ["--enable-private-registries"], ["--enable-private-registries-tls"]]) {
      const t = registryAccess([...f, `--tls-secret-path=${dir}`]);
      // No chain is built, and a would-be custom image gets the default transport.
      expect(t.transports.chain).toBeUndefined();
      expect(t.of({ registry: "registry.corp", repository: "team/fn" })).toBeInstanceOf(DefaultTransport);
      await t.close();
    }
  });

  test("both on: the chain for custom images only; default-prefix images keep the default transport", async () => {
    const t = registryAccess(["--enable-private-registries", "--enable-private-registries-tls", `--tls-secret-path=${dir}`, "--default-registries=registry.corp/shared/"]);
    expect(t.transports.chain).toBeInstanceOf(TlsChainTransport);
    const kind = async (registry: string, repository: string) => (await t.describe(registry, { registry, repository })).kind;
    expect(await kind("ghcr.io", "kptdev/krm-functions-catalog/set-labels")).toBe("default");
    expect(await kind("gcr.io", "kpt-fn/set-labels")).toBe("default");
    expect(await kind("registry.corp", "shared/fn")).toBe("default");
    expect(await kind("registry.corp", "team/fn")).toBe("private-tls");
    // Same host, other prefix: custom auth, so the chain (the documented edge case).
    expect(await kind("ghcr.io", "acme/fn")).toBe("private-tls");
    const steps = async (registry: string, repository: string) => (await t.routes(registry, { registry, repository })).map((r) => r.step);
    expect(await steps("ghcr.io", "kptdev/krm-functions-catalog/x")).toEqual(["system-ca"]);
    expect(await steps("ghcr.io", "acme/fn")).toEqual(["mounted-ca", "system-ca", "plain-http"]);
    await t.close();
  });

  test("plain HTTP carries credentials only for --insecure-registries hosts", async () => {
    const secret = secretDir({ "ca.crt": caA.certPem });
    const t = registryAccess(["--enable-private-registries", "--enable-private-registries-tls", `--tls-secret-path=${secret}`, "--insecure-registries=open.corp:5000"]);
    const creds = async (registry: string) =>
      (await t.routes(registry, { registry, repository: "team/fn" })).map((r) => `${r.step}:${r.credentials}${r.unusable ? ":unusable" : ""}`);
    expect(await creds("registry.corp")).toEqual(["mounted-ca:true", "system-ca:true", "plain-http:false"]);
    expect(await creds("open.corp:5000")).toEqual(["mounted-ca:true", "system-ca:true", "plain-http:true"]);
    await t.close();
  });

  test("an unusable CA leaves step 1 in the chain, marked with its cause", async () => {
    const t = registryAccess(["--enable-private-registries", "--enable-private-registries-tls", "--tls-secret-path=/nonexistent/tls"]);
    const [first] = await t.routes("registry.corp", { registry: "registry.corp", repository: "team/fn" });
    expect(first?.step).toBe("mounted-ca");
    expect(first?.unusable?.code).toBe("TLS");
    expect(first?.unusable?.message).toContain("/nonexistent/tls");
    await t.close();
  });
});

describe("plain HTTP to a TLS port", () => {
  test("Go's and nginx's 400 answers are a wrong scheme, not a registry answer", () => {
    expect(isTlsPortAnswer(400, enc("Client sent an HTTP request to an HTTPS server.\n"))).toBe(true);
    expect(isTlsPortAnswer(400, enc("<html><center>The plain HTTP request was sent to HTTPS port</center></html>"))).toBe(true);
    expect(isTlsPortAnswer(400, enc('{"errors":[{"code":"NAME_INVALID"}]}'))).toBe(false);
    expect(isTlsPortAnswer(404, enc("Client sent an HTTP request to an HTTPS server."))).toBe(false);
  });
});
