"""15 image: the container image of docker/Dockerfile, built by tools/image.sh with buildah
(chroot isolation, no container engine, no registry), run with `buildah run`: devices register
through the gateway in the image and MQTT sees them (SPEC 1: configuration by a mounted file
and by LWM2M_GW_MQTT_URI and LWM2M_GW_LOG_LEVEL; SPEC 3: the registration messages).

Runs wherever buildah is installed (tools/deps.sh installs it) and the tests run as root, as
buildah's storage and debootstrap need; GW_IMAGE_TEST=0 skips it. The first build makes the
base image with debootstrap: about a minute on 2 cores; later runs reuse buildah's cache.

`buildah run --isolation chroot` makes no network namespace and no PID namespace: the
gateway in the image shares the host's loopback, so it reaches the test's mosquitto on
127.0.0.1 and devsim reaches its UDP port, and its process is visible (and signalled) from
here. buildah answers a SIGTERM of its own by killing the command with SIGKILL, so the
test stops the gateway by signalling the gateway's process itself, as `docker stop` would
(the entrypoint is process 1 in a container). The image's ENTRYPOINT is run as it stands
(buildah run does not apply it), read from the image's configuration.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from typing import Optional

import pytest

from conftest import (START_TIMEOUT, STOP_TIMEOUT, Gateway, check_register_messages,
                      free_tcp_port, free_udp_port, now_ms, wait_until, write_gateway_conf)

BUILDAH = shutil.which("buildah")
TAG = "e2e"
IMAGE = f"lwm2m-mqtt-gateway:{TAG}"
BUILD_TIMEOUT = 1800.0   # seconds: debootstrap, two apt-get installs and the build
CONF = "/etc/lwm2m-mqtt-gateway/gateway.conf"
STORE_DIR = "/var/lib/lwm2m-mqtt-gateway"
UID = 10001
DEFAULT_OBJECTS = ["/1/0", "/3/0", "/3303/0"]

pytestmark = [
    pytest.mark.skipif(os.environ.get("GW_IMAGE_TEST") == "0",
                       reason="GW_IMAGE_TEST=0: the image test is skipped"),
    pytest.mark.skipif(BUILDAH is None,
                       reason="buildah is not installed (apt-get install buildah debootstrap)"),
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="buildah's storage and debootstrap need root"),
]


def buildah(*args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([BUILDAH, *args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        pytest.fail(f"buildah {' '.join(args)} exited with {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture(scope="module")
def image(source_dir) -> dict:
    """Builds the image with tools/image.sh --tag e2e; returns its Docker configuration,
    with the build's duration and the size tools/image.sh printed."""
    started = time.monotonic()
    p = subprocess.run([os.path.join(source_dir, "tools", "image.sh"), "--tag", TAG],
                       cwd=source_dir, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    took = time.monotonic() - started
    if p.returncode != 0:
        pytest.fail(f"tools/image.sh exited with {p.returncode} after {took:.0f} s\n"
                    f"--- stdout (tail) ---\n{p.stdout[-6000:]}\n"
                    f"--- stderr (tail) ---\n{p.stderr[-6000:]}", pytrace=False)
    last = p.stdout.strip().splitlines()[-1]
    assert last.startswith(IMAGE + " "), last
    print(f"\nimage: built {IMAGE} in {took:.0f} s, {last.split(' ', 1)[1]}")
    out = buildah("inspect", "--type", "image", IMAGE).stdout
    config = json.loads(out)["Docker"]["config"]
    return {"config": config, "size": last.split(" ", 1)[1], "seconds": took}


@pytest.fixture
def container(image):
    """A fresh working container of the image (its own copy of the file system)."""
    name = f"gw-e2e-{uuid.uuid4().hex[:8]}"
    buildah("from", "--pull=never", "--name", name, IMAGE)
    yield name
    buildah("rm", name, check=False)


def run_in(container: str, *argv: str, volumes=(), env=None, timeout: float = 30.0
           ) -> subprocess.CompletedProcess:
    args = [BUILDAH, "run", "--isolation", "chroot"]
    for v in volumes:
        args += ["-v", v]
    for k, v in (env or {}).items():
        args += ["-e", f"{k}={v}"]
    return subprocess.run(args + [container, "--", *argv], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def descendant_named(root: int, comm: str) -> Optional[int]:
    """The pid of the first process below `root` named `comm` (the kernel keeps 15
    characters of a name)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append((int(entry), name))
    todo = [root]
    while todo:
        for pid, name in children.get(todo.pop(), []):
            if name == comm[:15]:
                return pid
            todo.append(pid)
    return None


def test_image_configuration(image, container):
    c = image["config"]
    assert c["User"] == f"{UID}:{UID}", c
    assert c["Entrypoint"] == ["/usr/local/bin/lwm2m-mqtt-gateway", "-c", CONF], c
    assert STORE_DIR in c["Volumes"], c
    assert set(c["ExposedPorts"]) == {"5683/udp", "5684/udp", "9464/tcp"}, c
    test = c["Healthcheck"]["Test"]
    assert test[:3] == ["CMD", "bash", "-c"] and "GET /health" in test[3], c
    # The shipped configuration passes, as the image's user; the objects directory is the one
    # it names; no compiler or build tool came along from the build stage.
    p = run_in(container, "sh", "-c",
               f"id -u; lwm2m-mqtt-gateway --check-config -c {CONF}; "
               f"grep -c '^  dirs = \\[ \"/etc/lwm2m-mqtt-gateway/objects\" \\];' {CONF}; "
               "test -d /etc/lwm2m-mqtt-gateway/objects && echo objects-dir; "
               "for t in gcc cc cmake ninja pkg-config; do command -v $t; done; "
               f"stat -c '%u:%g %a' {STORE_DIR}")
    assert p.returncode == 0, p
    assert p.stdout.splitlines() == [str(UID), f"{CONF}: ok", "1", "objects-dir",
                                     f"{UID}:{UID} 750"], p.stdout
    # The entrypoint takes more arguments, and the environment reaches the gateway: a bad
    # LWM2M_GW_LOG_LEVEL is bad usage.
    p = run_in(container, *c["Entrypoint"], "--check-config", env={"LWM2M_GW_LOG_LEVEL": "loud"})
    assert p.returncode == 2, p
    assert "LWM2M_GW_LOG_LEVEL: 'loud'" in p.stderr, p


def test_devices_register_through_the_image(image, container, broker, mqtt, prefix, devsim,
                                            tmp_path):
    port, http_port = free_udp_port(), free_tcp_port()
    conf = tmp_path / "gateway.conf"
    # The file's broker is one nobody listens on: the environment must win.
    write_gateway_conf(conf, port=port, mqtt_uri="tcp://127.0.0.1:1", prefix=prefix,
                       store=f"{STORE_DIR}/state.db")
    conf.chmod(0o644)
    store = tmp_path / "store"     # a volume of the host, as the image's user owns it
    store.mkdir()
    os.chown(store, UID, UID)
    log_path = tmp_path / "gateway.stderr"

    c = image["config"]
    # The store goes elsewhere, by LWM2M_GW_STORE_PATH: buildah 1.28 gives an image VOLUME an
    # anonymous volume of its own, and a -v onto the same path loses to it about every
    # other run (the order of the two mounts varies).
    argv = [BUILDAH, "run", "--isolation", "chroot",
            "-v", f"{store}:/srv/store", "-v", f"{conf}:{CONF}:ro",
            "-e", f"LWM2M_GW_MQTT_URI={broker.uri}", "-e", "LWM2M_GW_LOG_LEVEL=debug",
            "-e", "LWM2M_GW_STORE_PATH=/srv/store/state.db",
            "-e", f"LWM2M_GW_HTTP_LISTEN=http://127.0.0.1:{http_port}",
            container, "--", *c["Entrypoint"]]
    mark = mqtt.mark()
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    gw = Gateway(proc, port, prefix, str(conf), str(log_path), expect_exit=None)
    gw_pid: Optional[int] = None
    try:
        assert wait_until(lambda: " started " in gw.log() or proc.poll() is not None,
                          START_TIMEOUT * 3), f"no 'started' line\n{gw.log()}"
        assert proc.poll() is None, f"buildah run exited with {proc.returncode}\n{gw.log()}"
        mqtt.wait_for(f"{prefix}/gateway/status", lambda m: m.payload == b"online",
                      timeout=START_TIMEOUT, since=mark)
        print(f"\nimage: the gateway was online {time.monotonic() - started:.2f} s after "
              "buildah run")
        log_text = gw.log()
        assert f" mqtt={broker.uri} " in log_text, log_text        # LWM2M_GW_MQTT_URI won
        assert f"uri=coap://127.0.0.1:{port}" in log_text, log_text  # the mounted file
        assert "store-opened path=/srv/store/state.db " in log_text, log_text
        gw_pid = descendant_named(proc.pid, "lwm2m-mqtt-gateway")
        assert gw_pid, "the gateway's process was not found below buildah's"
        with open(f"/proc/{gw_pid}/status") as f:
            uids = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
        assert uids == str(UID), "the gateway does not run as the image's user"

        eps = [f"img-{i}" for i in range(3)]
        before = now_ms()
        r = devsim(gw.server, "register", count=len(eps), ep_prefix="img-", lifetime=300)
        after = now_ms()
        assert r.rc == 0, r
        for ep in eps:
            check_register_messages(mqtt, gw, ep, r.one("register", ep)["location"],
                                    before=before, after=after, since=mark, lifetime=300,
                                    lwm2m="1.1", binding="U", queue=False,
                                    objects=DEFAULT_OBJECTS, ct="110")

        # The image's health check, as the image's user (buildah makes no network namespace:
        # the gateway listens on a free port of the host's loopback, not on 9464): healthy
        # while the gateway answers GET /health.
        health = c["Healthcheck"]["Test"][3].replace("/9464", f"/{http_port}")
        p = run_in(container, "bash", "-c", health)
        assert p.returncode == 0, p

        # `docker stop`: SIGTERM to the gateway; a clean stop, `offline`, status 0 through
        # buildah, and the store on the host, written by the image's user.
        stop_mark = mqtt.mark()
        os.kill(gw_pid, signal.SIGTERM)
        rc = proc.wait(timeout=STOP_TIMEOUT)
        assert rc == 0, f"buildah run exited with {rc}\n{gw.log()}"
        mqtt.wait_for(f"{prefix}/gateway/status", lambda m: m.payload == b"offline",
                      since=stop_mark)
        assert gw.log_lines(r" stopped status=0"), gw.log()
        db = store / "state.db"
        assert db.exists(), sorted(os.listdir(store))
        assert db.stat().st_uid == UID, db.stat()
        p = run_in(container, "bash", "-c", health)
        assert p.returncode != 0, "the health check passed with the gateway gone"
    finally:
        if proc.poll() is None:
            if gw_pid:
                try:
                    os.kill(gw_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
