#!/usr/bin/env bash
# The project's one test command (`npm test`): installs what the tests need
# when missing, builds the binary, runs every test, and ends with
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp

need=()
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
# The README walkthrough (test/docs/readme.test.ts) uses curl and jq.
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v jq >/dev/null 2>&1 || need+=(jq)
# The container test: buildah builds the Containerfile, podman+runc run it,
# mmdebstrap makes the build stage's Debian base offline; wrk and skopeo are the
# bench's load generator and peer (`npm run bench`).
for tool in buildah podman runc mmdebstrap wrk skopeo; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >.tmp/apt.log 2>&1 \
      || { tail -20 .tmp/apt.log; echo "0 passed, 1 failed"; exit 1; }
  else
    echo "missing ${need[*]}: install them (Debian: apt-get install ${need[*]})"
    echo "0 passed, 1 failed"; exit 1
  fi
fi
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund >.tmp/npm.log 2>&1 || { tail -20 .tmp/npm.log; echo "0 passed, 1 failed"; exit 1; }
fi
export PATH="$PWD/node_modules/.bin:$PATH"

bun run build >.tmp/build.log 2>&1 || { tail -20 .tmp/build.log; echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0
run() {
  # bun test prints " N pass" / " N fail"; sum them over the groups.
  local log=".tmp/test-$1.log"; shift
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  f=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  # A crash with no summary, or a non-zero exit with no failure counted, is one failure.
  if [ -z "$p$f" ] || { [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; }; then failed=$((failed + 1)); fi
}
run typecheck-wrap bash -c 'tsc --noEmit -p . && echo " 1 pass" || { echo " 1 fail"; exit 1; }'
run all bun test --timeout 60000 test/
# Deno: main.ts type-checks without Bun's types, and the pure-core unit tests (the files that import
# test/support/testing.ts) pass under `deno test` too. NO_COLOR: plain logs.
run deno-check bash -c 'NO_COLOR=1 deno check main.ts && echo " 1 pass" || { echo " 1 fail"; exit 1; }'
run deno-unit bash -c 'NO_COLOR=1 deno test --allow-read --allow-write --allow-env $(grep -rl --include="*.test.ts" "support/testing.ts" test | sort) 2>&1 \
  | sed -E "s/^(ok|FAILED) \| ([0-9]+) passed( \([0-9]+ steps?\))? \| ([0-9]+) failed.*/&\n \2 pass\n \4 fail/"; exit ${PIPESTATUS[0]}'
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
