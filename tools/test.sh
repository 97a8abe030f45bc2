#!/usr/bin/env bash
# test.sh - the second of README's two commands: every test, twice. First a normal build with
# warnings as errors, then a build with AddressSanitizer and UndefinedBehaviorSanitizer; CTest
# runs the unit tests, the fuzz corpora and the end-to-end scenarios in each; between the two,
# every fuzz target runs briefly under libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
jobs=$(nproc)

cmake -S . -B build -G Ninja -DGW_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

# The fuzz targets, built with clang and libFuzzer, a few seconds each: they stay buildable
# and clean. (Long campaigns: tools/fuzz.sh 600.)
tools/fuzz.sh 5

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cmake -S . -B build-asan -G Ninja -DGW_WERROR=ON -DGW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ctest --output-on-failure -j "$jobs")
