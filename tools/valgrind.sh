#!/usr/bin/env bash
# valgrind.sh [PYTEST ARGS...] - the end-to-end scenarios with every gateway they start under
# valgrind's memcheck (GW_VALGRIND=1, see tests/e2e/conftest.py): a normal build in
# build-valgrind, then pytest over tests/e2e (or the files and options given, e.g.
# tests/e2e/test_12_requests.py -k held). A memory error or a definite leak fails the test that
# started that gateway, with valgrind's report; tools/valgrind.supp silences what is known inside
# the libraries, each entry with its reason. Slow: every wait of the tests' fixtures stretches
# by GW_E2E_SLOWNESS (10 unless set), so it is not part of tools/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
cmake -S . -B build-valgrind -G Ninja -DGW_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-valgrind -j "$(nproc)" --target lwm2m-mqtt-gateway devsim >/dev/null

export GW_VALGRIND=1
export GW_BINARY=$PWD/build-valgrind/lwm2m-mqtt-gateway
export GW_DEVSIM=$PWD/build-valgrind/tests/devsim
export GW_SOURCE_DIR=$PWD
# valgrind fixes the gateway's descriptor limit at the soft one it starts with and refuses to
# raise it: the gateway needs more than 1024 with two listen URIs (README's "Listeners")
ulimit -n "$(ulimit -Hn)"
start=$(date +%s)
status=0
/usr/bin/python3 -m pytest -q -p no:cacheprovider -rfE "${@:-tests/e2e}" || status=$?
echo "valgrind: the end-to-end scenarios took $(($(date +%s) - start)) s (pytest exit $status)"
exit "$status"
