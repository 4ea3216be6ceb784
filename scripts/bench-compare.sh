#!/usr/bin/env bash
# `llm-trace summary --by model` against jq and DuckDB on a generated JSON-lines log of
# 1,000,000 traces (about 800 MB): each tool computes calls, errors, prompt and completion
# tokens and cost by model. Prints the median wall time of each and the ratios. Not run in CI.
#
#   scripts/bench-compare.sh                 # 1,000,000 lines, 3 runs each
#   LINES=200000 RUNS=5 scripts/bench-compare.sh
#
# Installs jq (apt) and DuckDB (pip) when missing. Builds the CLI with --release. The log is
# written to $BENCH_DIR (default: a temporary folder, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-1000000}
RUNS=${RUNS:-3}
target=${CARGO_TARGET_DIR:-target}
work=${BENCH_DIR:-$(mktemp -d)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
log="$work/traces.jsonl"

if ! command -v jq >/dev/null; then
  echo "installing jq" >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq jq >/dev/null
fi
if ! python3 -c 'import duckdb' 2>/dev/null; then
  echo "installing duckdb" >&2
  python3 -m pip install --quiet duckdb
fi

echo "building llm-trace (release)" >&2
cargo build --quiet --release -p llm-trace-cli
cli="$target/release/llm-trace"

if [ ! -s "$log" ] || [ "$(wc -l <"$log")" -ne "$LINES" ]; then
  echo "generating $LINES lines" >&2
  "$cli" gen --lines "$LINES" --out "$log"
fi
size=$(du -m "$log" | cut -f1)

# Median of the wall times (seconds) of RUNS runs of a command.
median_time() {
  local times=()
  for _ in $(seq "$RUNS"); do
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}

run_cli() { "$cli" summary --by model --format json "$log"; }
run_jq() {
  jq -n 'reduce inputs as $t ({};
      .[$t.model] |= {
        calls: ((.calls // 0) + 1),
        errors: ((.errors // 0) + (if $t.error == null then 0 else 1 end)),
        prompt_tokens: ((.prompt_tokens // 0) + $t.prompt_tokens),
        completion_tokens: ((.completion_tokens // 0) + $t.completion_tokens),
        cost_usd: ((.cost_usd // 0) + ($t.cost_usd // 0))
      })' "$log"
}
run_duckdb() {
  python3 - "$log" <<'PY'
import sys, duckdb
rows = duckdb.sql(f"""
    select model, count(*) as calls, count(error) as errors,
           sum(prompt_tokens) as prompt_tokens, sum(completion_tokens) as completion_tokens,
           sum(cost_usd) as cost_usd
    from read_json_auto('{sys.argv[1]}', format = 'newline_delimited')
    group by model order by cost_usd desc
""").fetchall()
print(rows)
PY
}

# Same answers: the number of calls per model from each tool.
calls_cli=$(run_cli | python3 -c 'import json,sys; d=json.load(sys.stdin); g=d.get("groups", d.get("by_model", d)); print(sum(x["calls"] for x in g) if isinstance(g, list) else "?")' 2>/dev/null || echo "?")
calls_jq=$(run_jq | jq '[.[] | .calls] | add')
echo "calls counted: llm-trace $calls_cli, jq $calls_jq (lines $LINES)" >&2

echo "timing ($RUNS runs each, median)" >&2
t_cli=$(median_time run_cli)
t_duck=$(median_time run_duckdb)
t_jq=$(median_time run_jq)

printf '\n%s lines, %s MB, %s cores (%s)\n' "$LINES" "$size" "$(nproc)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '%-40s %10s %10s\n' tool "median s" "vs llm-trace"
printf '%-40s %10.2f %10s\n' "llm-trace summary --by model" "$t_cli" "1.00"
ratio() { awk -v a="$1" -v b="$t_cli" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-40s %10.2f %9sx\n' "duckdb read_json_auto (python)" "$t_duck" "$(ratio "$t_duck")"
printf '%-40s %10.2f %9sx\n' "jq reduce" "$t_jq" "$(ratio "$t_jq")"
