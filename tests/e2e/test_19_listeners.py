"""19 listeners: one listen URI is a group of 256 UDP sockets on its port (SO_REUSEPORT), and the
kernel gives each device address to one of them. Whichever socket a device lands on, it
registers, is observed, notifies and answers requests, and what the gateway sends it comes from
the port it registered at. A port another program holds still stops the start (test_01), and so
does one another gateway holds. The sockets and the 256 libcoap contexts take more descriptors
than a soft limit of 1024: the gateway raises it, and a hard limit too low stops the start with
the reason."""
import json
import os
import re
import resource
import subprocess

import pytest
from conftest import (SANITIZER_MARKERS, VALGRIND, WAIT_TIMEOUT, free_udp_port, run_gateway,
                      wait_until, write_gateway_conf)

SHARDS = 256  # SHARDS in gateway/lwm2m/server.c; README's "Listeners"
FD_MARGIN = 256  # FD_MARGIN there
N = 200
OBSERVE_CONF = 'observe = ( { path = "/3303/0/5700"; } );\n'


def udp_sockets_on(pid: int, port: int) -> int:
    """How many of the process's UDP sockets are bound to `port` (its /proc/PID/net/udp rows whose
    socket inode is one of its descriptors)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    n = 0
    for table in ("udp", "udp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            next(f)
            for row in f:
                cols = row.split()
                if int(cols[1].split(":")[1], 16) == port and cols[9] in inodes:
                    n += 1
    return n


def test_the_port_is_a_group_of_sockets(gateway):
    gw = gateway()
    assert udp_sockets_on(gw.proc.pid, gw.port) == SHARDS


def test_a_second_gateway_on_the_same_port_does_not_start(gateway, gw_binary, broker, prefix,
                                                          tmp_path):
    # libcoap's sockets allow SO_REUSEADDR binds, and these SO_REUSEPORT ones: a second
    # gateway must not take some of the devices of the first
    gw = gateway()
    conf = tmp_path / "second.conf"
    write_gateway_conf(conf, port=gw.port, mqtt_uri=broker.uri, prefix=f"{prefix}-2",
                       store=str(tmp_path / "second.db"))
    p = run_gateway(gw_binary, "-c", str(conf), timeout=15)
    assert p.returncode == 3, p
    assert re.search(rf"listen-failed uri=coap://127\.0\.0\.1:{gw.port}\b", p.stderr), p.stderr
    assert udp_sockets_on(gw.proc.pid, gw.port) == SHARDS


def test_an_ipv4_and_an_ipv6_listener_share_a_port(gateway, devsim, mqtt, prefix):
    # two listeners of one gateway on one port are not taken for a stranger holding it
    port = free_udp_port()
    gw = gateway(port=port, listen=[f"coap://0.0.0.0:{port}", f"coap://[::]:{port}"])
    assert udp_sockets_on(gw.proc.pid, port) == 2 * SHARDS
    mark = mqtt.mark()
    for ep, host in (("v4-1", "127.0.0.1"), ("v6-1", "[::1]")):
        r = devsim(f"coap://{host}:{port}", "register", ep=ep)
        assert r.rc == 0 and r.summary["ok"] == 1, r
        mqtt.wait_for(f"{prefix}/{ep}/event", lambda m: m.json()["event"] == "registered",
                      since=mark)


def test_devices_on_every_socket_register_notify_and_answer(gateway, devsim, mqtt, prefix, req):
    gw = gateway(extra_conf=OBSERVE_CONF)
    mark = mqtt.mark()
    p = devsim.start(gw.server, "register", "serve:60", count=N, ep_prefix="shard-",
                     lifetime=600, rate=2, quiet=True)
    eps = [f"shard-{i}" for i in range(N)]
    # registered, and observed: a value from each (the answer to the Observe, then changes)
    for ep in eps:
        mqtt.wait_for(f"{prefix}/{ep}/event", lambda m: m.json()["event"] == "registered",
                      since=mark, timeout=3 * WAIT_TIMEOUT)
    for ep in eps:
        mqtt.wait_for(f"{prefix}/{ep}/data/3303/0/5700", since=mark, timeout=3 * WAIT_TIMEOUT)
    # notifications after the first value, from every device
    later = mqtt.mark()
    for ep in eps:
        mqtt.wait_for(f"{prefix}/{ep}/data/3303/0/5700", since=later, timeout=3 * WAIT_TIMEOUT)

    # a request to each: it reaches the device from the socket its address belongs to (a
    # device's libcoap session drops a datagram from another port), and the answer comes back
    r = req(eps[0])
    for i, ep in enumerate(eps):
        r.send({"id": f"r{i}", "op": "read", "path": "/3/0/0"},
               topic=f"{prefix}/{ep}/request")

    def finals():
        got = {}
        for ep in eps:
            for m in mqtt.on(f"{prefix}/{ep}/response", mark):
                doc = m.json()
                if doc["status"] != "held":
                    got[ep] = doc
        return got
    assert wait_until(lambda: len(finals()) == N, 3 * WAIT_TIMEOUT), \
        sorted(set(eps) - set(finals()))
    bad = {ep: a for ep, a in finals().items() if a["status"] != "ok" or a["code"] != "2.05"}
    assert not bad, json.dumps(bad)[:2000]
    p.kill()


def open_files_limit(pid: int):
    """The (soft, hard) RLIMIT_NOFILE of process `pid`."""
    with open(f"/proc/{pid}/limits") as f:
        row = next(l for l in f if l.startswith("Max open files"))
    soft, hard = row.split()[3:5]
    return int(soft), int(hard)


def test_a_soft_descriptor_limit_of_1024_is_raised(gateway):
    # two URIs need 2 * 256 sockets and 2 * 256 descriptors for the contexts: past the soft
    # limit many systems give a process; the gateway raises it to the hard one
    if VALGRIND:
        pytest.skip("valgrind keeps the gateway at the soft limit it starts with")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = SHARDS * 4 + FD_MARGIN
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"this machine's hard limit of open files is {hard}, below {need}")
    port = free_udp_port()
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        gw = gateway(port=port, listen=[f"coap://0.0.0.0:{port}", f"coap://[::]:{port}"])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert udp_sockets_on(gw.proc.pid, port) == 2 * SHARDS
    got_soft, got_hard = open_files_limit(gw.proc.pid)
    assert got_soft == got_hard and got_soft >= need, (got_soft, got_hard)


def test_a_hard_descriptor_limit_too_low_stops_the_start_with_a_clear_reason(
        gw_binary, broker, prefix, tmp_path):
    conf = tmp_path / "few.conf"
    write_gateway_conf(conf, port=free_udp_port(), mqtt_uri=broker.uri, prefix=prefix,
                       store=str(tmp_path / "few.db"))
    limit = SHARDS * 2  # one URI needs SHARDS * 3 + FD_MARGIN

    def few():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    p = subprocess.run([gw_binary, "-c", str(conf)], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL, preexec_fn=few)
    assert not any(m in p.stderr for m in SANITIZER_MARKERS), p.stderr
    assert p.returncode == 3, p
    need = SHARDS * 3 + FD_MARGIN
    assert re.search(rf'startup-failed reason="{need} file descriptors are needed .*'
                     rf'ulimit -Hn\) is {limit}"', p.stderr), p.stderr
