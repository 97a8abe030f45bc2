#!/usr/bin/env bash
# bench.sh [--quick] [NAME...] [-- ARGS...] - the benchmark suite: builds the `benchmarks` target
# (RelWithDebInfo, no sanitizers) in build-bench and runs each benchmark in turn, printing its
# table. NAME is a benchmark without its bench_ prefix (codec); none runs them all. ARGS go to
# every benchmark (bench_codec takes the least seconds per measurement: `bench.sh codec -- 0.1`).
# --quick (GW_BENCH_QUICK=1) asks the script benchmarks for small counts and short runs.
# The script benchmarks append their main figures, each beside the baseline measured in the
# same run, to build-bench/bench-summary.md (tests/bench/benchlib.py), started here and
# printed at the end: the suite's summary table, with the machine's load average (it may be
# shared) and the suite's duration.
# A benchmark is tests/bench/bench_NAME.c registered with gw_bench() in tests/bench/CMakeLists.txt,
# or a script tests/bench/bench_NAME.sh / bench_NAME.py run with GW_BUILD_DIR and GW_SOURCE_DIR
# set; each is found here by that name, so adding one needs no change to this file.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi
names=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do names+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/bench/bench_*.c tests/bench/bench_*.sh tests/bench/bench_*.py; do
    [ -e "$f" ] || continue
    n=${f##*/bench_}; names+=("${n%.*}")
  done
fi

cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGW_SANITIZE=OFF \
  -DGW_FUZZ=OFF -DGW_WERROR=ON >/dev/null
cmake --build build-bench --target benchmarks >/dev/null

export GW_BUILD_DIR=$PWD/build-bench GW_SOURCE_DIR=$PWD
[ $quick = 1 ] && export GW_BENCH_QUICK=1
summary=build-bench/bench-summary.md
{
  echo "# Benchmark summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$([ $quick = 1 ] && echo ', --quick'), $(nproc) cores)"
  echo
  echo "| benchmark | figure | value | baseline (same run) | ratio | target |"
  echo "|---|---|---|---|---|---|"
} >"$summary"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
status=0
for n in "${names[@]}"; do
  echo "== bench_$n ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  if [ -x "build-bench/tests/bench/bench_$n" ]; then
    "build-bench/tests/bench/bench_$n" "$@" || status=1
  elif [ -f "tests/bench/bench_$n.sh" ]; then
    bash "tests/bench/bench_$n.sh" "$@" || status=1
  elif [ -f "tests/bench/bench_$n.py" ]; then
    /usr/bin/python3 "tests/bench/bench_$n.py" "$@" || status=1
  else
    echo "bench.sh: no benchmark named $n" >&2
    status=1
  fi
  echo
done
# The machine may be shared (tests, fuzzers): its load beside the figures.
{
  echo
  echo "Load average (1, 5, 15 min) at the start: $load0; at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(( $(date +%s) - t0 )) s."
} >>"$summary"
echo "== summary ($summary)"
cat "$summary"
exit $status
