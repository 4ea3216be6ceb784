#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (not part of CI).
#
#   scripts/fuzz.sh                 # each target for 60 s
#   FUZZ_SECONDS=600 scripts/fuzz.sh redaction price_file
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly compiler, or a stable one told to
# accept nightly flags: RUSTC_BOOTSTRAP=1 is set below, so the stable toolchain works.
# Crashes are kept in fuzz/artifacts/<target>/; turn each into a regression test.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"

# Seeds: the repository's own price files and a few hand-made inputs.
mkdir -p corpus/price_file
cp ../llm-trace-core/prices/builtin.json corpus/price_file/builtin.json
cp ../llm-trace-core/src/pricing/testdata/litellm_excerpt.json corpus/price_file/litellm.json
for seeds in seeds/*/; do
    target="$(basename "$seeds")"
    mkdir -p "corpus/$target"
    cp "$seeds"* "corpus/$target/"
done

failed=()
for target in "${targets[@]}"; do
    echo "== $target: ${seconds} s"
    if ! cargo fuzz run "$target" -- -max_total_time="$seconds" -max_len=65536 \
        -timeout=10 -rss_limit_mb=4096; then
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashes in: ${failed[*]} (see fuzz/artifacts/)" >&2
    exit 1
fi
echo "no crash in ${#targets[@]} targets"
