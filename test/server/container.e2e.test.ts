// The Containerfile, built with buildah and run with podman+runc (no Docker
// engine): a scratch image in Porch's layout (/home/nonroot/server, the
// grpc-health-probe link, /home/nonroot/functions) holding exactly the binary,
// the libraries ldd lists, the CA bundle and uid 10001. The running container
// serves /healthz, passes Porch's readiness probe run inside it, resolves from
// the test registry, and then resolves its own image after the test pushes it
// there through the registry API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { pushBlob, pushImage, pushRawManifest, sha256 } from "../support/push.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { requireTool } from "../support/tools.ts";
import { ensureBinary, postJson, ROOT } from "./helpers.ts";
import { deploymentContainer } from "./porch-manifests.ts";
import { freePort } from "../support/free-port.ts";

// npm test installs these as root; without one, this file's tests are skipped (docs/testing.md).
const tools = requireTool("buildah", "podman", "runc", "mmdebstrap");

const STORAGE = ["--storage-driver", "vfs"];
const PODMAN = [...STORAGE, "--runtime", "runc", "--cgroup-manager", "cgroupfs"];
// Per test process: concurrent runs (other checkouts) share the image store, and `rmi -f` of a shared name removes their containers too.
const IMAGE = `localhost/function-runner:test-${process.pid}`;
const BUILD_BASE = "localhost/function-runner-build-base:bookworm";
const NAME = `function-runner-test-${process.pid}`;

let reg: TestRegistry;
let work: string;
let httpPort = 0;
let grpcPort = 0;
let bin: string;

/**
 * The environment for podman/buildah: other test files in this process point DOCKER_CONFIG,
 * REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR or HOME at temp dirs, and the container tools read them.
 */
function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const drop = /^(DOCKER_CONFIG|REGISTRY_AUTH_FILE|XDG_RUNTIME_DIR|XDG_CONFIG_HOME|CONTAINERS_.*|BUILDAH_.*|STORAGE_.*)$/;
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && v !== "undefined" && !drop.test(k)) env[k] = v;
  env.HOME = userInfo().homedir;
  return env;
}

function run(cmd: string, args: string[], timeoutMs = 240_000): string {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20, env: toolEnv() });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

/**
 * The id the container sees for a host id of its process: rootless podman (npm test as a non-root user)
 * maps the container's ids onto the user's subordinate ids, so /proc shows 165531 for the image's user.
 */
function inContainer(pid: string, map: "uid_map" | "gid_map", hostId: number): number | undefined {
  for (const line of readFileSync(`/proc/${pid}/${map}`, "utf8").trim().split("\n")) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (inside === undefined || outside === undefined || count === undefined) continue;
    if (hostId >= outside && hostId < outside + count) return hostId - outside + inside;
  }
  return undefined;
}


/** The build stage's base, made from Debian packages when it is not in local storage (no registry pull here). */
function ensureBuildBase(): void {
  if (spawnSync("podman", [...STORAGE, "image", "exists", BUILD_BASE], { env: toolEnv() }).status === 0) return;
  const tar = join(work, "base.tar");
  run("mmdebstrap", ["--variant=minbase", "--include=ca-certificates", "bookworm", tar]);
  run("podman", [...STORAGE, "import", tar, BUILD_BASE]);
  rmSync(tar);
}

/** Regular-file names in a (possibly gzipped) tar layer. */
function tarFiles(layer: Uint8Array): string[] {
  const bytes = layer[0] === 0x1f && layer[1] === 0x8b ? new Uint8Array(gunzipSync(layer)) : layer;
  const text = (b: Uint8Array) => new TextDecoder().decode(b).replace(/\0.*$/s, "");
  const names: string[] = [];
  for (let off = 0; off + 512 <= bytes.length; ) {
    const h = bytes.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const prefix = text(h.subarray(345, 500));
    const name = (prefix ? `${prefix}/` : "") + text(h.subarray(0, 100));
    const size = parseInt(text(h.subarray(124, 136)).trim() || "0", 8);
    const type = String.fromCharCode(h[156] ?? 0);
    if (type === "0" || type === "\0") names.push(name.replace(/^\.?\//, ""));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return names;
}

async function waitHealthy(): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) {
      const logs = spawnSync("podman", [...PODMAN, "logs", NAME], { encoding: "utf8", env: toolEnv() });
      throw new Error(`container never became healthy:\n${logs.stdout}\n${logs.stderr}`);
    }
    await Bun.sleep(100);
  }
}

beforeAll(async () => {
  if (!tools.ok) return;
  bin = ensureBinary();
  work = mkdtempSync(join(tmpdir(), "fr-container-"));
  reg = await startRegistry({ mode: "http" });
  ensureBuildBase();
  run("buildah", [...STORAGE, "bud", "--isolation", "chroot", "--pull=false", "--build-arg", `BUILD_BASE=${BUILD_BASE}`, "-t", IMAGE, "-f", "Containerfile", "."]);
  httpPort = await freePort();
  grpcPort = await freePort();
  spawnSync("podman", [...PODMAN, "rm", "-f", NAME], { env: toolEnv() });
  run("podman", [
    ...PODMAN, "run", "-d", "--name", NAME, "--network", "host",
    "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
    IMAGE, "--functions=/home/nonroot/functions", "--http-port", String(httpPort), "--port", String(grpcPort), "--listen-address", "127.0.0.1",
  ]);
  await waitHealthy();
}, 300_000);

afterAll(async () => {
  if (!tools.ok) return;
  spawnSync("podman", [...PODMAN, "rm", "-f", "-t", "0", NAME], { env: toolEnv() });
  // vfs storage keeps full copies: drop the image, keep only the cached build base.
  spawnSync("podman", [...STORAGE, "rmi", "-f", IMAGE], { env: toolEnv() });
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!tools.ok)(tools.ok ? "container image" : `container image (skipped: ${tools.reason})`, () => {
  test("the image holds exactly the binary, the ldd libraries, the CA bundle and the user files; runs as 10001", () => {
    const ociDir = join(work, "oci");
    run("buildah", [...STORAGE, "push", IMAGE, `oci:${ociDir}:test`]);
    const blob = (digest: string) => readFileSync(join(ociDir, "blobs", ...digest.split(":")));
    const index = JSON.parse(readFileSync(join(ociDir, "index.json"), "utf8")) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(blob(index.manifests[0]?.digest ?? "").toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
    const config = JSON.parse(blob(manifest.config.digest).toString()) as { config: { User?: string; Entrypoint?: string[]; Cmd?: string[] } };
    expect(config.config.User).toBe("10001:10001");
    expect(config.config.Entrypoint).toEqual(["/home/nonroot/server"]);
    expect(config.config.Cmd).toEqual(["--functions=/home/nonroot/functions"]);

    const files = manifest.layers.flatMap((l) => tarFiles(new Uint8Array(blob(l.digest)))).sort();
    const libs = execFileSync("ldd", [bin], { encoding: "utf8" })
      .split("\n")
      .flatMap((l) => /(\/\S+)/.exec(l)?.[1] ?? [])
      .map((p) => p.replace(/^\//, ""));
    expect(libs.length).toBeGreaterThan(0);
    const expected = ["home/nonroot/server", "config.yaml", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt", ...libs].sort();
    expect(files).toEqual([...new Set(expected)].sort());

    const pid = run("podman", [...PODMAN, "inspect", "--format", "{{.State.Pid}}", NAME]).trim();
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(inContainer(pid, "uid_map", Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]))).toBe(10001);
    expect(inContainer(pid, "gid_map", Number(/^Gid:\s+(\d+)/m.exec(status)?.[1]))).toBe(10001);
  }, 120_000);

  test("Porch's readiness probe, run inside the container, passes; the links and the functions directory are there", () => {
    const probe = spawnSync("podman", [...PODMAN, "exec", NAME, "/home/nonroot/grpc-health-probe", "-addr", `localhost:${grpcPort}`], {
      encoding: "utf8",
      env: toolEnv(),
    });
    expect({ code: probe.status, stderr: probe.stderr }).toEqual({ code: 0, stderr: "status: SERVING\n" });
    const unknown = spawnSync("podman", [...PODMAN, "exec", NAME, "/home/nonroot/grpc-health-probe", "-addr", `localhost:${grpcPort}`, "-service", "nope"], {
      encoding: "utf8",
      env: toolEnv(),
    });
    expect({ code: unknown.status, stderr: unknown.stderr }).toEqual({ code: 3, stderr: 'error: health rpc failed: rpc error: code = NotFound desc = unknown service "nope"\n' });
    // The default CMD's functions directory is read (empty: no config.yaml) and logged.
    // The container's stderr (the JSON log) comes back on podman's stderr.
    const logs = spawnSync("podman", [...PODMAN, "logs", NAME], { encoding: "utf8", env: toolEnv() }).stderr;
    expect(logs).toContain("/home/nonroot/functions/config.yaml");
    expect(run("podman", [...PODMAN, "exec", NAME, "/function-runner", "version"])).toStartWith("function-runner ");
    // Porch v4.1.2's paths: its probe and server at the root.
    const v4probe = spawnSync("podman", [...PODMAN, "exec", NAME, "/grpc-health-probe", "-addr", `localhost:${grpcPort}`], { encoding: "utf8", env: toolEnv() });
    expect(v4probe.status).toBe(0);
    expect(run("podman", [...PODMAN, "exec", NAME, "/server", "version"])).toStartWith("function-runner ");
  }, 60_000);

  for (const [file, probeCommand, metrics] of [
    ["head-2-function-runner.yaml", ["/home/nonroot/grpc-health-probe", "-addr", "localhost:9445"], true],
    ["v4.1.2-2-function-runner.yaml", ["/grpc-health-probe", "-addr", "localhost:9445"], false],
  ] as const) {
    test(`Porch's Deployment (${file}): its command, environment and user, in a network of its own; the readiness probe as written passes inside`, () => {
      const c = deploymentContainer(file);
      const [entry, ...flags] = c.command ?? [];
      const env = (c.env ?? []).flatMap((e) => ["-e", `${e.name}=${e.value ?? ""}`]);
      const name = `${NAME}-porch`;
      spawnSync("podman", [...PODMAN, "rm", "-f", name], { env: toolEnv() });
      // --network none: only a loopback of its own, so Porch's fixed ports 9445 and 9464 are free.
      run("podman", [
        ...PODMAN, "run", "-d", "--name", name, "--network", "none", "--user", "10001:10001",
        "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
        "--entrypoint", entry ?? "", ...env, IMAGE, ...flags,
      ]);
      try {
        const probe = c.readinessProbe?.exec?.command ?? [];
        expect(probe).toEqual([...probeCommand]);
        let last: { status: number | null; stderr: string } = { status: null, stderr: "" };
        for (let i = 0; i < 50 && last.status !== 0; i++) {
          last = spawnSync("podman", [...PODMAN, "exec", name, ...probe], { encoding: "utf8", env: toolEnv() });
          if (last.status !== 0) spawnSync("sleep", ["0.2"]);
        }
        const logs = spawnSync("podman", [...PODMAN, "logs", name], { encoding: "utf8", env: toolEnv() }).stderr;
        expect({ code: last.status, stderr: last.stderr, logs: last.status === 0 ? "" : logs }).toEqual({ code: 0, stderr: "status: SERVING\n", logs: "" });
        if (metrics) {
          // The OTel exporter listens where the Deployment says, named as it says.
          expect(logs).toContain('"metricsPort":9464');
          expect(logs).toContain('"serviceName":"porch-function-runner"');
        }
        run("podman", [...PODMAN, "stop", "-t", "15", name], 60_000);
        expect(run("podman", [...PODMAN, "inspect", "--format", "{{.State.ExitCode}}", name]).trim()).toBe("0");
      } finally {
        spawnSync("podman", [...PODMAN, "rm", "-f", "-t", "0", name], { env: toolEnv() });
      }
    }, 120_000);
  }

  test("serves /healthz, /readyz and a resolve against the test registry", async () => {
    expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
    const pushed = await pushImage(reg, "fn/in-container", "v1", { format: "docker", entrypoint: ["/fn"] });
    const res = await postJson(`http://127.0.0.1:${httpPort}/v1/images/resolve`, { image: `${reg.host}/fn/in-container:v1` });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ digest: pushed.digest, entrypoint: ["/fn"], cached: false });
  });

  test("pushed into the registry, the image resolves to its own metadata: entrypoint = the binary", async () => {
    const ociDir = join(work, "oci-push");
    run("buildah", [...STORAGE, "push", IMAGE, `oci:${ociDir}:test`]);
    const blob = (digest: string) => new Uint8Array(readFileSync(join(ociDir, "blobs", ...digest.split(":"))));
    const index = JSON.parse(readFileSync(join(ociDir, "index.json"), "utf8")) as { manifests: Array<{ digest: string; mediaType: string }> };
    const top = index.manifests[0];
    if (!top) throw new Error("empty OCI layout");
    const manifestBytes = blob(top.digest);
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as { mediaType?: string; config: { digest: string }; layers: Array<{ digest: string }> };
    for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) await pushBlob(reg, "function-runner", blob(d));
    const digest = await pushRawManifest(reg, "function-runner", "test", manifestBytes, manifest.mediaType ?? top.mediaType);
    expect(digest).toBe(sha256(manifestBytes));

    const res = await postJson(`http://127.0.0.1:${httpPort}/v1/images/resolve`, { image: `${reg.host}/function-runner:test` });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      registry: reg.host,
      repository: "function-runner",
      digest,
      entrypoint: ["/home/nonroot/server"],
      platform: "linux/amd64",
    });
  }, 120_000);

  test("podman stop (SIGTERM) ends the container with exit code 0", () => {
    run("podman", [...PODMAN, "stop", "-t", "15", NAME], 60_000);
    expect(run("podman", [...PODMAN, "inspect", "--format", "{{.State.ExitCode}}", NAME]).trim()).toBe("0");
  }, 60_000);
});
