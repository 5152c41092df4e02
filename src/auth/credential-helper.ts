/**
 * The Docker credential helper protocol: `docker-credential-NAME get`, the
 * server URL on stdin, `{"ServerURL","Username","Secret"}` on stdout.
 *
 * Thin shell around node:child_process (works under Bun and Deno); the output
 * parsing and message sanitising are pure and exported for tests.
 */
import { spawn } from "node:child_process";
import { z } from "zod";
import { RunnerError } from "../errors.ts";
import { secrets } from "../registry/secrets.ts";
import type { Credential } from "../registry/credential.ts";

export const DEFAULT_HELPER_TIMEOUT_MS = 5_000;
/** Helpers answer with a few hundred bytes; more is a broken helper, not a credential. */
const MAX_OUTPUT_BYTES = 1 << 20;
/** What docker-credential-helpers print (on stdout) when they have nothing for the server. */
const NOT_FOUND = "credentials not found in native keychain";

const HelperOutput = z.looseObject({
  ServerURL: z.string().optional(),
  Username: z.string(),
  Secret: z.string(),
});

/** A helper name becomes part of a program name: keep it to what Docker's helpers use. */
const VALID_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const helperProgram = (name: string): string => `docker-credential-${name}`;

/**
 * Parses a helper's `get` answer. Username `<token>` means Secret is an
 * identity token; an empty Username and Secret means "nothing" (→ undefined).
 */
export function parseHelperOutput(stdout: string, name: string): Credential | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    throw new RunnerError("AUTH_CONFIG_INVALID", `credential helper ${helperProgram(name)} returned output that is not JSON`);
  }
  const parsed = HelperOutput.safeParse(raw);
  if (!parsed.success) {
    throw new RunnerError(
      "AUTH_CONFIG_INVALID",
      `credential helper ${helperProgram(name)} returned JSON without string Username and Secret`,
    );
  }
  const { Username, Secret } = parsed.data;
  if (Username === "" && Secret === "") return undefined;
  if (Username === "<token>") return { kind: "identityToken", token: Secret };
  return { kind: "basic", username: Username, password: Secret };
}

/**
 * One line of helper output fit for an error message: first non-empty line,
 * nothing JSON-looking (it may carry Secret), long token-like runs redacted,
 * control characters dropped, at most 200 characters.
 */
export function sanitiseHelperMessage(text: string): string {
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== "") ?? "";
  if (line === "" || /[{}]/.test(line) || (/secret|password|token/i.test(line) && /[:=]/.test(line))) return "";
  const clean = line
    .replace(/[\u0000-\u001f\u007f]/g, "")
    .replace(/[A-Za-z0-9+/=_]{20,}/g, "[redacted]");
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

export interface HelperRunOptions {
  /** Environment of the helper; its PATH is where the helper is looked up. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns the helper, feeds stdin, collects output; kills it (and its process group) on timeout. */
function run(program: string, input: string, env: Record<string, string | undefined>, timeoutMs: number, name: string): Promise<RunResult> {
  return new Promise<RunResult>((resolve, reject) => {
    const cleanEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) cleanEnv[k] = v;
    // detached: own process group, so a timeout kills a shell script's children too.
    const child = spawn(program, ["get"], { env: cleanEnv, stdio: ["pipe", "pipe", "pipe"], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let settled = false;

    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      finish(() => {
        kill();
        reject(new RunnerError("TIMEOUT", `credential helper ${program} did not answer within ${timeoutMs} ms`));
      });
    }, timeoutMs);

    const collect = (into: Buffer[]) => (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) {
        finish(() => {
          kill();
          reject(new RunnerError("AUTH_CONFIG_INVALID", `credential helper ${program} wrote more than ${MAX_OUTPUT_BYTES} bytes`));
        });
        return;
      }
      into.push(chunk);
    };
    child.stdout?.on("data", collect(out));
    child.stderr?.on("data", collect(err));
    child.on("error", (e: NodeJS.ErrnoException) => {
      finish(() => {
        reject(
          e.code === "ENOENT"
            ? new RunnerError(
                "AUTH_CONFIG_INVALID",
                `credential helper ${program} (configured as "${name}" in the Docker config) was not found on PATH`,
              )
            : new RunnerError("AUTH_CONFIG_INVALID", `credential helper ${program} could not be started (${e.code ?? "error"})`),
        );
      });
    });
    child.on("close", (code, signal) => {
      finish(() =>
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
        }),
      );
    });
    // A helper that exits without reading stdin makes the write fail with EPIPE: harmless.
    child.stdin?.on("error", () => {});
    child.stdin?.end(input);
  });
}

/**
 * Asks helper `name` for the credential of `serverURL`. Resolves `undefined`
 * when the helper has none ("credentials not found"); rejects with
 * AUTH_CONFIG_INVALID when it is missing, fails or answers garbage, and with
 * TIMEOUT when it does not answer in time. Messages never carry helper stdout
 * beyond a sanitised line, so a secret cannot leak through them.
 */
export async function getFromCredentialHelper(
  name: string,
  serverURL: string,
  opts: HelperRunOptions = {},
): Promise<Credential | undefined> {
  if (!VALID_NAME.test(name)) {
    throw new RunnerError("AUTH_CONFIG_INVALID", "credential helper name in the Docker config is not a plain program suffix");
  }
  const program = helperProgram(name);
  const res = await run(program, `${serverURL}\n`, opts.env ?? process.env, opts.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS, name);
  if (res.code === 0) {
    const credential = parseHelperOutput(res.stdout, name);
    if (credential !== undefined) secrets.addCredential(credential);
    return credential;
  }
  // docker-credential-helpers report errors on stdout; others use stderr.
  if (res.stdout.includes(NOT_FOUND) || res.stderr.includes(NOT_FOUND)) return undefined;
  // Scrubbed of every credential we hold before the sanitiser's own rules (a helper may echo one).
  const detail = sanitiseHelperMessage(secrets.scrub(res.stderr)) || sanitiseHelperMessage(secrets.scrub(res.stdout));
  const status = res.code === null ? `was killed by ${res.signal ?? "a signal"}` : `exited with code ${res.code}`;
  throw new RunnerError("AUTH_CONFIG_INVALID", `credential helper ${program} ${status}${detail === "" ? "" : `: ${detail}`}`);
}
