#!/usr/bin/env bash
# run.sh - the first of README's two commands: installs what is missing, builds, starts a local
# mosquitto on 127.0.0.1:1883 when nothing listens there, and runs the gateway in the
# foreground with conf/gateway.conf (or the file given with -c; other arguments are passed on).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target lwm2m-mqtt-gateway

if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  mkdir -p run
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\n' > run/mosquitto.conf
  mosquitto -c run/mosquitto.conf -d
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.1; done
  echo "run: started mosquitto on 127.0.0.1:1883" >&2
fi

# The example configuration keeps its store under /var/lib, as an installed gateway would; a
# gateway started from the source tree keeps it here instead (unless told otherwise).
mkdir -p run
export LWM2M_GW_STORE_PATH=${LWM2M_GW_STORE_PATH:-$PWD/run/state.db}

args=("$@")
if [[ " $* " != *" -c "* && " $* " != *" --config "* ]]; then
  args=(-c conf/gateway.conf "${args[@]}")
fi
exec build/lwm2m-mqtt-gateway "${args[@]}"
