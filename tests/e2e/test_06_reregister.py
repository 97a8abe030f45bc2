"""06 reregister: a Register for an endpoint that is already registered replaces the old
registration (SPEC 5): a new location, one new `registered` event, the device never shown
offline in between, and the old location answers 4.04."""
import pytest

from conftest import check_register_messages, now_ms, retained, summarize

DEFAULT_OBJECTS = ["/1/0", "/3/0", "/3303/0"]


def test_register_again_from_the_same_device(gateway, mqtt, devsim, coap, broker, prefix):
    gw = gateway()
    before = now_ms()
    r = devsim(gw.server, "register", "register", ep="twice", lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    first, second = r.ops("register")
    assert first["code"] == second["code"] == "2.01", r
    assert first["location"] != second["location"], r
    mqtt.wait_count(lambda m: m.topic == f"{prefix}/twice/event", 2)
    mqtt.settle()
    msgs = mqtt.messages_for("twice")
    assert len(msgs) == 6, summarize(msgs)
    check_register_messages(mqtt, gw, "twice", first["location"], before=before, after=after,
                            lifetime=300, lwm2m="1.1", binding="U", queue=False,
                            objects=DEFAULT_OBJECTS, ct="110", exact=False)
    check_register_messages(mqtt, gw, "twice", second["location"], before=before,
                            after=after, since=mqtt.all().index(msgs[3]), lifetime=300,
                            lwm2m="1.1", binding="U", queue=False, objects=DEFAULT_OBJECTS,
                            ct="110")
    statuses = [m.payload for m in msgs if m.topic.endswith("/status")]
    assert statuses == [b"online", b"online"], statuses
    events = [m.json()["event"] for m in msgs if m.topic.endswith("/event")]
    assert events == ["registered", "registered"], events
    assert gw.log_lines(rf" replaced ep=twice id={first['location'].rsplit('/', 1)[-1]}$")

    # The old location is gone, the new one answers.
    mark = mqtt.mark()
    a = coap(gw.port, "post", first["location"])
    assert a.code == "4.04", a
    mqtt.settle()
    assert mqtt.all()[mark:] == [], summarize(mqtt.all()[mark:])
    held = retained(broker, f"{prefix}/twice/#")
    assert held[f"{prefix}/twice/status"] == b"online"
    assert held[f"{prefix}/twice/registration"] == msgs[4].payload


def test_register_again_from_a_rebooted_device(gateway, mqtt, devsim, coap, prefix):
    """The device restarts (a new source port) and registers with the same name: the new
    registration replaces the old, which can no longer be updated nor de-registered."""
    gw = gateway()
    old = devsim(gw.server, "register", ep="reboot", lwm2m="1.0", lifetime=300)
    assert old.rc == 0, old
    mqtt.wait_for(f"{prefix}/reboot/event")
    mqtt.settle()
    mark = mqtt.mark()
    before = now_ms()
    new = devsim(gw.server, "register", ep="reboot", lwm2m="1.1", lifetime=600,
                 objects="</3/0>")
    after = now_ms()
    assert new.rc == 0, new
    old_loc, new_loc = old.one("register")["location"], new.one("register")["location"]
    assert old_loc != new_loc
    reg = check_register_messages(mqtt, gw, "reboot", new_loc, before=before, after=after,
                                  since=mark, lifetime=600, lwm2m="1.1", binding="U",
                                  queue=False, objects=["/3/0"], ct="110")
    first_reg = mqtt.on(f"{prefix}/reboot/registration")[0].json()
    assert reg["address"] != first_reg["address"]
    mark = mqtt.mark()
    assert coap(gw.port, "post", old_loc).code == "4.04"
    assert coap(gw.port, "delete", old_loc).code == "4.04"
    mqtt.settle()
    assert mqtt.all()[mark:] == [], summarize(mqtt.all()[mark:])


def test_a_replaced_registration_does_not_expire_later(gateway, mqtt, devsim, prefix):
    """The old registration's lifetime (1 s) must not end the new one (lt=30)."""
    gw = gateway(lifetime_min=1)
    r1 = devsim(gw.server, "register", "silent", ep="phoenix", lifetime=1)
    assert r1.rc == 0, r1
    r2 = devsim(gw.server, "register", "silent", ep="phoenix", lifetime=30)
    assert r2.rc == 0, r2
    mqtt.wait_count(lambda m: m.topic == f"{prefix}/phoenix/event", 2)
    mqtt.settle(quiet=2.0, timeout=3.0)  # well past the first registration's lifetime
    events = [m.json()["event"] for m in mqtt.on(f"{prefix}/phoenix/event")]
    assert events == ["registered", "registered"], events
    assert not gw.log_lines(r" expired ep=phoenix "), gw.log()


def test_register_after_deregister(gateway, mqtt, devsim, prefix):
    gw = gateway()
    r = devsim(gw.server, "register", "deregister", "register", ep="again", lifetime=300)
    assert r.rc == 0, r
    first, second = r.ops("register")
    assert first["location"] != second["location"]
    mqtt.wait_count(lambda m: m.topic == f"{prefix}/again/event", 3)
    mqtt.settle()
    msgs = mqtt.messages_for("again")
    assert [(m.topic.rsplit("/", 1)[-1], m.payload if not m.topic.endswith("event")
             else m.json()["event"]) for m in msgs] == [
        ("status", b"online"), ("registration", msgs[1].payload), ("event", "registered"),
        ("status", b"offline"), ("registration", b""), ("event", "deregistered"),
        ("status", b"online"), ("registration", msgs[7].payload), ("event", "registered"),
    ], summarize(msgs)
    assert msgs[7].json()["location"] == second["location"]


def test_a_retransmitted_register_is_processed_once(gateway, mqtt, coap_socket, prefix):
    """The device's Register arrived but the 2.01 was lost, so the device sends the same
    Confirmable message again (same Message ID and token, RFC 7252 4.2). It must get the
    same answer, and the gateway must not register it a second time (RFC 7252 4.5)."""
    from conftest import COAP_ACK, register_datagram
    gw = gateway()
    sock = coap_socket(gw.port)
    datagram = register_datagram(0x4a4b, b"\x01\x02\x03\x04", ["ep=retry", "lt=300"],
                                 "</1/0>,</3/0>")
    first = sock.exchange(datagram)
    assert (first.mtype, first.code, first.mid) == (COAP_ACK, "2.01", 0x4a4b), first
    mqtt.wait_for(f"{prefix}/retry/event")
    second = sock.exchange(datagram)
    assert (second.mtype, second.code, second.mid) == (COAP_ACK, "2.01", 0x4a4b), second
    assert second.location == first.location, (first, second)
    mqtt.settle()
    events = [m.json()["event"] for m in mqtt.on(f"{prefix}/retry/event")]
    assert events == ["registered"], events
    assert len(gw.log_lines(r" registered ep=retry ")) == 1, gw.log()


def test_two_devices_reusing_message_ids_and_tokens(gateway, mqtt, coap_socket, prefix):
    """Two devices started in the same second pick the same Message ID and token: they are
    two different requests (different source ports), and both get registered."""
    from conftest import register_datagram
    gw = gateway()
    a, b = coap_socket(gw.port), coap_socket(gw.port)
    ra = a.exchange(register_datagram(7, b"\x00", ["ep=twin-a", "lt=300"], "</3/0>"))
    rb = b.exchange(register_datagram(7, b"\x00", ["ep=twin-b", "lt=300"], "</3/0>"))
    assert ra.code == rb.code == "2.01", (ra, rb)
    assert ra.location != rb.location
    mqtt.wait_for(f"{prefix}/twin-a/event")
    mqtt.wait_for(f"{prefix}/twin-b/event")


def test_a_retransmitted_deregister_gets_the_same_answer(gateway, mqtt, coap_socket, prefix):
    from conftest import COAP_ACK, COAP_CON, OPT_URI_PATH, coap_encode, register_datagram
    gw = gateway()
    sock = coap_socket(gw.port)
    reg = sock.exchange(register_datagram(0x100, b"\x09", ["ep=bye", "lt=300"], "</3/0>"))
    assert reg.code == "2.01", reg
    rid = reg.location.rsplit("/", 1)[-1].encode()
    delete = coap_encode(COAP_CON, "0.04", 0x101, b"\x0a",
                         [(OPT_URI_PATH, b"rd"), (OPT_URI_PATH, rid)])
    first = sock.exchange(delete)
    assert (first.mtype, first.code) == (COAP_ACK, "2.02"), first
    second = sock.exchange(delete)
    assert (second.mtype, second.code, second.mid) == (COAP_ACK, "2.02", 0x101), second
    mqtt.wait_for(f"{prefix}/bye/event", lambda m: m.json()["event"] == "deregistered")
    mqtt.settle()
    events = [m.json()["event"] for m in mqtt.on(f"{prefix}/bye/event")]
    assert events == ["registered", "deregistered"], events
