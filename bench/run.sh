#!/usr/bin/env bash
# `npm run bench`: every benchmark, one after the other, in one run. Prints
# when, where and with what, then each part's lines; target lines end in
# [met] or [NOT met]. See bench/README.md for how to read them.
set -uo pipefail
cd "$(dirname "$0")/.."
BUN=./node_modules/.bin/bun

# wrk and skopeo are the peers' tools: installed when missing and we may (root, apt).
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/bin/skopeo ] || missing+=(skopeo)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; }
  else
    echo "bench: missing ${missing[*]} (install them, e.g. apt-get install ${missing[*]})"
  fi
fi

echo "function-runner benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo), $(uname -sr); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: Bun $($BUN --version), $(/usr/bin/skopeo --version 2>/dev/null || echo 'skopeo missing'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo

status=0
for b in http eval pod scale resolve; do
  $BUN "bench/$b.ts" || status=1
  echo
done
exit $status
