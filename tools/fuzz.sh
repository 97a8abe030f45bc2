#!/usr/bin/env bash
# fuzz.sh SECONDS [TARGET...] - builds the libFuzzer targets with clang (ASan+UBSan) in
# build-fuzz and runs each for SECONDS over a scratch copy of its seed corpus, so that the seeds
# in the tree stay as committed. A crash stops the run with the reproducer's path; replay it
# with the replay build: build/tests/fuzz_NAME crash-file. CI runs it for a few seconds a
# target to keep the targets buildable and clean; real campaigns run it for many minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
shift || true

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do t=${f##*/fuzz_}; targets+=("${t%.c}"); done
fi

# Only the fuzz targets (and the libraries they link) are built: a problem elsewhere in the
# tree does not stop the fuzzing.
CC=clang cmake -S . -B build-fuzz -G Ninja -DGW_FUZZ=ON -DGW_SANITIZE=ON -DGW_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target "${targets[@]/#/fuzz_}" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "build-fuzz/crashes/$t"
  cp -r "tests/fuzz/corpus/$t/." "$work/$t/" 2>/dev/null || true
  out=$(ASAN_OPTIONS=detect_leaks=1 "build-fuzz/tests/fuzz_$t" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="build-fuzz/crashes/$t/" \
        -print_final_stats=1 "$work/$t" 2>&1) || {
    echo "$out" | tail -40
    echo "fuzz: $t FAILED; reproducer in build-fuzz/crashes/$t/" >&2
    exit 1
  }
  runs=$(echo "$out" | sed -n 's/^stat::number_of_executed_units: *//p')
  rate=$(echo "$out" | sed -n 's/^stat::average_exec_per_sec: *//p')
  cov=$(echo "$out" | grep -E '^#[0-9]+' | tail -1 | sed -n 's/.* cov: \([0-9]*\) .* corp: \([0-9]*\).*/\1 edges, corpus \2/p')
  echo "fuzz: $t ok, ${runs:-?} runs in ${seconds}s (${rate:-?} exec/s, ${cov:-? edges})"
done
