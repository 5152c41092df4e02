// The custom-auth secret has two readers, the credentials (FileCredentials) and the pull-Secret sync:
// sharing one WatchedFile, they read the file once per change between them.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileCredentials, MAX_DOCKER_CONFIG_BYTES } from "../../src/auth/keychain.ts";
import { type FileRead, WatchedFile } from "../../src/files/watched-file.ts";
import { PullSecretSync } from "../../src/kube/pull-secret.ts";

const dir = mkdtempSync(join(tmpdir(), "auth-secret-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Counts calls, and the distinct reads of the bytes behind them. */
class CountingFile extends WatchedFile {
  calls = 0;
  readonly reads = new Set<FileRead>();
  override async read(): Promise<FileRead> {
    this.calls++;
    const got = await super.read();
    if (got.kind === "read") this.reads.add(got);
    return got;
  }
}

const config = (user: string): string => JSON.stringify({ auths: { "registry.test": { auth: Buffer.from(`${user}:pa55`).toString("base64") } } });
const noCluster = async (): Promise<never> => {
  throw new Error("no cluster here");
};

describe("the custom-auth secret", () => {
  test("credentials and pull Secret share one read per change", async () => {
    const path = join(dir, "config.json");
    writeFileSync(path, config("ann"));
    const file = new CountingFile(path, MAX_DOCKER_CONFIG_BYTES);
    const credentials = new FileCredentials(file, { sourcePrefix: "custom" });
    const sync = new PullSecretSync({ client: noCluster, namespace: "ns", name: "auth", path, file });

    expect((await credentials.forRegistry("registry.test")).credential).toMatchObject({ kind: "basic", username: "ann" });
    expect(await sync.intent()).toBe("unknown: no cluster here");
    expect(file.calls).toBe(2);
    expect(file.reads.size).toBe(1);

    writeFileSync(path, config("bob-the-second"));
    expect(await sync.intent()).toBe("unknown: no cluster here");
    expect((await credentials.forRegistry("registry.test")).credential).toMatchObject({ kind: "basic", username: "bob-the-second" });
    expect(file.calls).toBe(4);
    expect(file.reads.size).toBe(2);
  });

  test("a sync of another path keeps its own reader", async () => {
    const shared = join(dir, "shared.json");
    const other = join(dir, "other.json");
    writeFileSync(shared, config("ann"));
    writeFileSync(other, "not json");
    const file = new CountingFile(shared, MAX_DOCKER_CONFIG_BYTES);
    const sync = new PullSecretSync({ client: noCluster, namespace: "ns", name: "auth", path: other, file });
    expect(await sync.intent()).toContain("it is not valid JSON");
    expect(file.calls).toBe(0);
  });
});
