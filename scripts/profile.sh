#!/usr/bin/env bash
# Instructions per recorded call, counted by callgrind: stable where timings are not (a shared
# 2-core machine). For each workload of benches/profile.rs, runs it twice (N1 and N2 calls)
# and divides the difference of the instruction counts by N2 - N1, which leaves out setup and
# teardown: "caller" is the thread making the calls, "background" every other thread (the
# writer, the payload thread, the peers' exporters).
#
#   scripts/profile.sh [workload ...]     (default: all but e2e_untraced and e2e_traced)
#
# Needs valgrind (apt-get install valgrind). Set CARGO_TARGET_DIR as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-5000}
N2=${N2:-25000}
workloads=("$@")
if [ ${#workloads[@]} -eq 0 ]; then
  workloads=(bare manual annotated_manual traced_client traced_client_payloads tracing_json otel
             otel_openai macro_sync_plain macro_sync_annotated macro_sync_floor macro_async_plain
             macro_async_annotated macro_async_floor)
fi
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
bin=$(cargo bench --bench profile --no-run --message-format=json 2>/dev/null | python3 -c \
  'import json, sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][-1])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Sum of the `totals:` lines of the callgrind files matching a glob.
totals() { cat "$@" 2>/dev/null | awk '/^totals:/ {s += $2} END {printf "%.0f\n", s}'; }

run() { # workload calls tag
  LLM_TRACE_PROFILE=$1 LLM_TRACE_PROFILE_CALLS=$2 valgrind --tool=callgrind --separate-threads=yes \
    --callgrind-out-file="$out/$3.%p" "$bin" >/dev/null 2>"$out/$3.log"
  local main others
  main=$(totals "$out"/"$3".*-01)
  others=$(awk -v a="$(totals "$out"/"$3".*-*)" -v b="$main" 'BEGIN { printf "%.0f", a - b }')
  echo "$main $others"
}

printf '%-26s %14s %14s\n' workload caller/call background/call
for w in "${workloads[@]}"; do
  read -r m1 o1 < <(run "$w" "$N1" "$w-a")
  read -r m2 o2 < <(run "$w" "$N2" "$w-b")
  awk -v w="$w" -v m1="$m1" -v m2="$m2" -v o1="$o1" -v o2="$o2" -v n="$((N2 - N1))" \
    'BEGIN { printf "%-26s %14.0f %14.0f\n", w, (m2 - m1) / n, (o2 - o1) / n }'
done
