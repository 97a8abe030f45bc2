"""02 register: a device registers (SPEC 5) and MQTT sees it come online (SPEC 3): the
retained status and registration document and the `registered` event, exactly."""
import json

import pytest

from conftest import (ADDRESS_RX, check_register_messages, gateway_address, now_ms, retained,
                      summarize)

DEFAULT_OBJECTS = ["/1/0", "/3/0", "/3303/0"]


@pytest.mark.parametrize("version,ct", [("1.0", None), ("1.1", "110"), ("1.2", "110")])
def test_register_publishes_status_registration_and_event(gateway, mqtt, devsim, version, ct):
    gw = gateway()
    ep = f"dev-{version.replace('.', '')}"
    before = now_ms()
    r = devsim(gw.server, "register", ep=ep, lwm2m=version, lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    rec = r.one("register", ep)
    assert rec["code"] == "2.01", r
    check_register_messages(mqtt, gw, ep, rec["location"], before=before, after=after,
                            lifetime=300, lwm2m=version, binding="U", queue=False,
                            objects=DEFAULT_OBJECTS, ct=ct)
    assert gw.log_lines(rf" registered ep={ep} id=\S+ lt=300 lwm2m={version} b=U objects=3 "
                        rf"address=127\.0\.0\.1:\d+$"), gw.log()


def test_only_status_and_registration_are_retained(gateway, mqtt, devsim, broker, prefix):
    gw = gateway()
    r = devsim(gw.server, "register", ep="keeper", lifetime=300)
    assert r.rc == 0, r
    mqtt.wait_for(f"{prefix}/keeper/event")
    mqtt.settle()
    reg = mqtt.on(f"{prefix}/keeper/registration")[0]
    held = retained(broker, f"{prefix}/keeper/#")
    assert held == {f"{prefix}/keeper/status": b"online",
                    f"{prefix}/keeper/registration": reg.payload}, held


def test_queue_mode_through_the_lwm2m_1_0_binding_uq(gateway, mqtt, devsim):
    gw = gateway()
    before = now_ms()
    r = devsim(gw.server, "register", ep="sleepy-10", lwm2m="1.0", queue=True, lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    check_register_messages(mqtt, gw, "sleepy-10", r.one("register")["location"],
                            before=before, after=after, lifetime=300, lwm2m="1.0",
                            binding="UQ", queue=True, objects=DEFAULT_OBJECTS)
    assert gw.log_lines(r" registered ep=sleepy-10 .* b=UQ queue=yes "), gw.log()


def test_queue_mode_through_the_lwm2m_1_1_q_parameter(gateway, mqtt, devsim):
    gw = gateway()
    before = now_ms()
    r = devsim(gw.server, "register", ep="sleepy-11", lwm2m="1.1", queue=True, lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    check_register_messages(mqtt, gw, "sleepy-11", r.one("register")["location"],
                            before=before, after=after, lifetime=300, lwm2m="1.1",
                            binding="U", queue=True, objects=DEFAULT_OBJECTS, ct="110")


@pytest.mark.parametrize("version,ct", [("1.0", None), ("1.1", "110")])
def test_alternate_root_path(gateway, mqtt, devsim, version, ct):
    gw = gateway()
    ep = f"rooted-{version.replace('.', '')}"
    before = now_ms()
    r = devsim(gw.server, "register", ep=ep, lwm2m=version, root="/lwm2m", lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    check_register_messages(mqtt, gw, ep, r.one("register")["location"], before=before,
                            after=after, lifetime=300, lwm2m=version, binding="U",
                            queue=False, objects=DEFAULT_OBJECTS, root="/lwm2m", ct=ct)


def test_object_links_keep_their_order_and_versions(gateway, mqtt, devsim):
    gw = gateway()
    links = '</3303>;ver=1.1,</1/0>,</3/0>,</3/0/1>,</5/0>,</3303/0>,</3303/1>'
    before = now_ms()
    r = devsim(gw.server, "register", ep="versions", lwm2m="1.0", objects=links, lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    # The resource-level link </3/0/1> carries nothing the registry keeps.
    check_register_messages(mqtt, gw, "versions", r.one("register")["location"],
                            before=before, after=after, lifetime=300, lwm2m="1.0",
                            binding="U", queue=False,
                            objects=["/3303", "/1/0", "/3/0", "/5/0", "/3303/0", "/3303/1"],
                            versions={"3303": "1.1"})


def test_lifetime_is_clamped_into_the_configured_bounds(gateway, mqtt, devsim):
    gw = gateway(lifetime_min=60, lifetime_max=300)
    before = now_ms()
    long = devsim(gw.server, "register", ep="long-lived", lifetime=100000)
    short = devsim(gw.server, "register", ep="short-lived", lifetime=5)
    inside = devsim(gw.server, "register", ep="in-bounds", lifetime=120)
    after = now_ms()
    for r in (long, short, inside):
        assert r.rc == 0, r
    check_register_messages(mqtt, gw, "long-lived", long.one("register")["location"],
                            before=before, after=after, lifetime=300, lwm2m="1.1",
                            binding="U", queue=False, objects=DEFAULT_OBJECTS, ct="110")
    check_register_messages(mqtt, gw, "short-lived", short.one("register")["location"],
                            before=before, after=after, lifetime=60, lwm2m="1.1",
                            binding="U", queue=False, objects=DEFAULT_OBJECTS, ct="110")
    check_register_messages(mqtt, gw, "in-bounds", inside.one("register")["location"],
                            before=before, after=after, lifetime=120, lwm2m="1.1",
                            binding="U", queue=False, objects=DEFAULT_OBJECTS, ct="110")
    assert gw.log_lines(r" lifetime-clamped ep=long-lived requested=100000 lt=300$"), gw.log()
    assert gw.log_lines(r" lifetime-clamped ep=short-lived requested=5 lt=60$"), gw.log()
    assert not gw.log_lines(r" lifetime-clamped ep=in-bounds "), gw.log()


def test_a_register_with_only_ep_takes_the_lwm2m_defaults(gateway, mqtt, coap):
    """No lt, lwm2m or b: lifetime 86400, LwM2M 1.0, binding U (LwM2M 1.0 defaults)."""
    gw = gateway(lifetime_max=100000)
    before = now_ms()
    a = coap(gw.port, "post", "/rd", ["ep=bare"], payload="</1/0>,</3/0>", content_format=40)
    after = now_ms()
    assert a.code == "2.01", a
    check_register_messages(mqtt, gw, "bare", a.location, before=before, after=after,
                            lifetime=86400, lwm2m="1.0", binding="U", queue=False,
                            objects=["/1/0", "/3/0"])


def test_many_devices_each_get_their_own_messages(gateway, mqtt, devsim, prefix):
    gw = gateway()
    n = 200
    before = now_ms()
    r = devsim(gw.server, "register", count=n, ep_prefix="fleet-", lifetime=600,
               wall_timeout=60)
    after = now_ms()
    assert r.rc == 0, r
    assert r.summary and r.summary["ok"] == n and r.summary["failed"] == 0, r.summary
    regs = r.ops("register")
    assert sorted(x["ep"] for x in regs) == sorted(f"fleet-{i}" for i in range(n))
    assert all(x["code"] == "2.01" for x in regs), [x for x in regs if x["code"] != "2.01"]
    locations = {x["ep"]: x["location"] for x in regs}
    assert len(set(locations.values())) == n, "two devices got the same location"

    mqtt.wait_count(lambda m: m.topic.endswith("/event"), n, timeout=20)
    mqtt.settle()
    addresses = set()
    for ep, location in locations.items():
        msgs = mqtt.messages_for(ep)
        assert [(m.topic, m.retain) for m in msgs] == [
            (f"{prefix}/{ep}/status", True), (f"{prefix}/{ep}/registration", True),
            (f"{prefix}/{ep}/event", False)], (ep, summarize(msgs))
        assert msgs[0].payload == b"online"
        reg, event = msgs[1].json(), msgs[2].json()
        assert reg["ep"] == ep and reg["location"] == location, reg
        assert reg["lifetime"] == 600 and reg["objects"] == DEFAULT_OBJECTS, reg
        assert before - 1000 <= reg["registered_at"] <= after + 1000, reg
        assert event["event"] == "registered" and event["ep"] == ep, event
        assert event["address"] == reg["address"] and ADDRESS_RX.match(reg["address"]), reg
        addresses.add(reg["address"])
    assert len(addresses) == n, "each simulated device has its own source port"
    # Nothing else was published: gateway status, then 3 messages per device.
    others = [m for m in mqtt.all() if m.topic != f"{prefix}/gateway/status"]
    assert len(others) == 3 * n, len(others)
    assert gateway_address(gw, "fleet-0", locations["fleet-0"]) == \
        json.loads(mqtt.messages_for("fleet-0")[1].payload)["address"]


def test_an_endpoint_name_in_utf8(gateway, mqtt, devsim, broker, prefix):
    gw = gateway()
    ep = "capteur-été-温度"
    before = now_ms()
    r = devsim(gw.server, "register", ep=ep, lwm2m="1.0", lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    check_register_messages(mqtt, gw, ep, r.one("register")["location"], before=before,
                            after=after, lifetime=300, lwm2m="1.0", binding="U", queue=False,
                            objects=DEFAULT_OBJECTS)
    assert retained(broker, f"{prefix}/{ep}/status") == {f"{prefix}/{ep}/status": b"online"}


def test_a_register_payload_sent_in_blocks(gateway, mqtt, coap):
    """A device with many objects sends its links Block1-wise (RFC 7959): the gateway puts
    the body together and registers them all."""
    gw = gateway()
    objects = [f"/{oid}/{iid}" for oid in (3303, 3304, 3311) for iid in range(40)]
    links = ",".join(f"<{o}>" for o in objects)
    assert len(links) > 1024
    before = now_ms()
    a = coap(gw.port, "post", "/rd", ["ep=blocky", "lt=300", "lwm2m=1.0"], payload=links,
             content_format=40, block=64)
    after = now_ms()
    assert a.code == "2.01", a
    check_register_messages(mqtt, gw, "blocky", a.location, before=before, after=after,
                            lifetime=300, lwm2m="1.0", binding="U", queue=False,
                            objects=objects)


def test_the_whole_lifecycle_over_mqtt_5(gateway, mqtt, devsim, prefix):
    """mqtt.version = "5": the gateway connects with MQTT 5 and publishes the same messages."""
    gw = gateway(mqtt_conf='  version = "5";\n')
    assert gw.log_lines(r" mqtt-connecting .* version=5$")
    before = now_ms()
    r = devsim(gw.server, "register", "deregister", ep="five", lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    mqtt.wait_for(f"{prefix}/five/event", lambda m: m.json()["event"] == "deregistered")
    check_register_messages(mqtt, gw, "five", r.one("register")["location"], before=before,
                            after=after, lifetime=300, lwm2m="1.1", binding="U", queue=False,
                            objects=DEFAULT_OBJECTS, ct="110", exact=False)
    tail = [(m.topic.rsplit("/", 1)[-1], m.payload, m.retain)
            for m in mqtt.messages_for("five")[3:]]
    assert tail[0] == ("status", b"offline", True), tail
    assert tail[1] == ("registration", b"", True), tail
    assert tail[2][0] == "event" and json.loads(tail[2][1])["event"] == "deregistered", tail


def test_the_listener_has_room_for_a_burst_of_registers(gateway):
    """The CoAP listener's receive buffers are widened to 64 MiB for the port, 256 KiB for each
    of its 256 sockets (the kernel reports it doubled): a registration storm overflowed a
    socket's default 208 KiB and lost Registers until the devices retransmitted (ss shows a
    socket's buffer as skmem rb)."""
    import os
    import re
    import shutil
    import subprocess
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is not installed")
    gw = gateway()
    out = subprocess.run(["ss", "-u", "-a", "-n", "-m", "-p"], capture_output=True, text=True,
                         timeout=10).stdout
    lines = out.splitlines()
    mine = [i for i, line in enumerate(lines)
            if f"127.0.0.1:{gw.port} " in line and f"pid={gw.proc.pid}," in line]
    # the port's 256 sockets (README's "Listeners"), each with room for 256 KiB of datagrams;
    # past net.core.rmem_max only with CAP_NET_ADMIN (root here), else as much as it allows
    assert len(mine) == 256, out
    with open("/proc/sys/net/core/rmem_max") as f:
        rmem_max = int(f.read())
    want = 1 << 18 if os.geteuid() == 0 else min(1 << 18, rmem_max)
    for i in mine:
        rb = re.search(r"rb(\d+)", lines[i + 1])
        assert rb and int(rb.group(1)) >= want, lines[i:i + 2]
