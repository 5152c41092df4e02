// The README walkthrough's local registry: a real Debian `docker-registry` on
// 127.0.0.1 (plain HTTP, no auth; the test harness in test/support/registry.ts)
// holding one function image, pushed over the registry API. It prints the
// line to paste into another shell, then runs until Ctrl-C (or SIGTERM) and
// deletes its storage on the way out.
//
//   ./node_modules/.bin/bun test/docs/local-registry.ts
import { pushIndex } from "../support/push.ts";
import { startRegistry } from "../support/registry.ts";

const REPOSITORY = "kpt-fn/set-namespace";
const TAG = "v0.4.1";

const reg = await startRegistry({ mode: "http" });
const pushed = await pushIndex(
  reg,
  REPOSITORY,
  TAG,
  [
    { platform: { os: "linux", architecture: "amd64" } },
    { platform: { os: "linux", architecture: "arm64", variant: "v8" } },
  ],
  { format: "oci" },
);

console.log(`registry ${reg.host} (plain HTTP, no auth), storage in ${reg.dir}`);
console.log(`pushed   ${reg.host}/${REPOSITORY}:${TAG} (index ${pushed.digest}: linux/amd64, linux/arm64/v8)`);
console.log("paste this line into the shell you run the next steps in:");
console.log(`export REGISTRY=${reg.host}`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await reg.stop();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
// Keep the event loop alive until a signal arrives.
setInterval(() => {}, 1 << 30);
