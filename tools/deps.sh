#!/usr/bin/env bash
# deps.sh - installs the Debian 12 packages the gateway needs to build, run and be tested,
# skipping apt entirely when all of them are already there. The one list of dependencies:
# README.md ("Dependencies") says why each is there.
set -euo pipefail

packages=(
  # build
  cmake ninja-build gcc pkg-config
  libcoap3-dev libpaho-mqtt-dev libssl-dev libconfig-dev libjansson-dev libsqlite3-dev
  libcbor-dev libexpat1-dev libmicrohttpd-dev
  uthash-dev
  # run: a local broker for the two-command start
  mosquitto
  # tests: unit tests, raw CoAP client, the end-to-end scenarios
  libcmocka-dev libcoap3-bin clang libclang-rt-14-dev mosquitto-clients python3 python3-pytest python3-paho-mqtt
  # tests: the end-to-end scenarios under memcheck (tools/valgrind.sh)
  valgrind
  # tests: the container image, built and run without a container engine (test_15_image.py)
  buildah debootstrap
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
