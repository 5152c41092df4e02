#!/usr/bin/env bash
# The project's one test command (`npm test`): installs what the tests need
# when missing, builds the binary, runs every test, and ends with
# "N passed, N failed".
#
# `bash test/run.sh unit|int|e2e` (npm run test:unit, test:int, test:e2e) runs one tier, named by the
# test files' suffix (docs/testing.md): unit (*.unit.test.ts: no sockets, no processes; also under
# Deno), int (*.int.test.ts: the real registry, the test Kubernetes API server, processes), e2e
# (*.e2e.test.ts: the compiled binary, the container, Porch's manifests). Without an argument: all of
# them plus the type checks.
set -uo pipefail
cd "$(dirname "$0")/.."
# Logs go to .tmp/ (TEST_LOG_DIR elsewhere: test/docs/test-tiers.e2e.test.ts runs a tier inside the suite).
logs=${TEST_LOG_DIR:-.tmp}
mkdir -p "$logs"
tier=${1:-all}
case "$tier" in all|unit|int|e2e) ;; *) echo "usage: test/run.sh [unit|int|e2e]"; echo "0 passed, 1 failed"; exit 2 ;; esac

# What the tests need from the system: the registry harness (docker-registry, openssl, htpasswd) and the
# container test (buildah builds the Containerfile, podman+runc run it, mmdebstrap makes the build stage's
# Debian base offline); the README walkthrough (test/docs/readme.e2e.test.ts) calls curl and jq. As root (CI on a fresh machine) missing ones are installed with apt-get; otherwise
# the tests that need a missing tool are skipped with the reason and the rest run (docs/testing.md).
# The bench's tools (wrk, skopeo) are bench/run.sh's business, not the tests'.
need=()
[ "$tier" = unit ] || for tool in docker-registry openssl htpasswd buildah podman runc mmdebstrap curl jq; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  packages=("${need[@]/#htpasswd/apache2-utils}")
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${packages[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}") >"$logs"/apt.log 2>&1 \
      || { tail -20 "$logs"/apt.log; echo "0 passed, 1 failed"; exit 1; }
  else
    echo "missing ${need[*]} (not root: not installed); the tests that need them are skipped (Debian: apt-get install ${packages[*]})"
  fi
fi
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm ci: exactly the lock (which holds every platform's Bun and Deno package), never rewriting it.
  npm ci --no-audit --no-fund >"$logs"/npm.log 2>&1 || { tail -20 "$logs"/npm.log; echo "0 passed, 1 failed"; exit 1; }
fi
export PATH="$PWD/node_modules/.bin:$PATH"
# resolve's challenge cache file (docs/registry.md) goes to this run's scratch directory, not ~/.cache.
export XDG_CACHE_HOME="$PWD/.tmp/xdg-cache"
rm -rf "$XDG_CACHE_HOME"

if [ "$tier" = all ] || [ "$tier" = e2e ]; then
  bun run build >"$logs"/build.log 2>&1 || { tail -20 "$logs"/build.log; echo "0 passed, 1 failed"; exit 1; }
fi

passed=0; failed=0
run() {
  # bun test prints " N pass" / " N fail"; sum them over the groups.
  local log="$logs/test-$1.log"; shift
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  f=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  # A crash with no summary, or a non-zero exit with no failure counted, is one failure.
  if [ -z "$p$f" ] || { [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; }; then failed=$((failed + 1)); fi
}
[ "$tier" = all ] && run typecheck-wrap bash -c 'tsc --noEmit -p . && echo " 1 pass" || { echo " 1 fail"; exit 1; }'
# The tier's files; without the registry harness's tools, the test files that reach it (through their
# imports) are left out.
pattern='*.test.ts'; [ "$tier" = all ] || pattern="*.$tier.test.ts"
bun test/support/tools.ts harness-skips >"$logs"/harness-skips.txt || true
mapfile -t left_out < <(grep -v '^#' "$logs"/harness-skips.txt)
mapfile -t files < <(find test -name "$pattern" | sort | grep -vxF -f <(printf '%s\n' "${left_out[@]}" | grep . || echo /nothing) | sed 's|^|./|')
run all bun test --timeout 60000 "${files[@]}"
# Deno: main.ts type-checks without Bun's types, and the pure-core unit tests (the files that import
# test/support/testing.ts) pass under `deno test` too. NO_COLOR: plain logs.
[ "$tier" = all ] && run deno-check bash -c 'NO_COLOR=1 deno check main.ts && echo " 1 pass" || { echo " 1 fail"; exit 1; }'
[ "$tier" = all ] || [ "$tier" = unit ] && run deno-unit bash -c 'NO_COLOR=1 deno test --allow-read --allow-write --allow-env $(grep -rl --include="*.test.ts" "support/testing.ts" test | sort) 2>&1 \
  | sed -E "s/^(ok|FAILED) \| ([0-9]+) passed( \([0-9]+ steps?\))? \| ([0-9]+) failed.*/&\n \2 pass\n \4 fail/"; exit ${PIPESTATUS[0]}'
# Skips, with their reasons, before the final line.
if [ ${#left_out[@]} -gt 0 ]; then
  echo "skipped ${#left_out[@]} test files that use the registry harness: $(sed -n 's/^# //p' "$logs"/harness-skips.txt)"
  printf '  %s\n' "${left_out[@]}"
fi
skips=$(grep -E '^\(skip\) ' "$logs"/test-all.log | sort -u)
if [ -n "$skips" ]; then
  echo "skipped $(printf '%s\n' "$skips" | wc -l) tests:"
  printf '%s\n' "$skips" | sed 's/^/  /'
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
