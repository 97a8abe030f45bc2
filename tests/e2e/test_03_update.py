"""03 update: Update (POST /rd/{id}) answers 2.04, re-publishes the registration document and
publishes an `updated` event that names what changed; an unknown location answers 4.04 so
that the device registers again (SPEC 3, 5)."""
import pytest

from conftest import assert_recent, check_register_messages, now_ms, summarize

DEFAULT_OBJECTS = ["/1/0", "/3/0", "/3303/0"]


def register_then(gateway, mqtt, devsim, ep, *actions, lwm2m="1.1", lifetime=300, **options):
    """Registers `ep` and runs `actions` in the same devsim (same session, same address).
    Returns (gateway, devsim result, registration document, index of the first message after
    the registration's three)."""
    gw = gateway()
    before = now_ms()
    r = devsim(gw.server, "register", *actions, ep=ep, lwm2m=lwm2m, lifetime=lifetime,
               **options)
    after = now_ms()
    assert r.rc == 0, r
    mqtt.wait_for(mqtt.topic(ep, "event"), lambda m: m.json()["event"] == "registered")
    ct = None if lwm2m == "1.0" else "110"
    reg = check_register_messages(
        mqtt, gw, ep, r.one("register")["location"], before=before, after=after,
        lifetime=lifetime, lwm2m=lwm2m, binding=options.get("binding", "U"),
        queue=options.get("queue", False), objects=DEFAULT_OBJECTS, ct=ct, exact=False)
    return gw, r, reg, before, after


def updates(mqtt, ep, count=1):
    """The messages after the Register's three, once `count` updated events arrived."""
    mqtt.wait_count(lambda m: m.topic == mqtt.topic(ep, "event") and
                    m.json()["event"] == "updated", count)
    mqtt.settle()
    return mqtt.messages_for(ep)[3:]


def split_update(mqtt, ep, msgs):
    assert [(m.topic, m.retain) for m in msgs] == [
        (mqtt.topic(ep, "registration"), True), (mqtt.topic(ep, "event"), False)
    ], summarize(msgs)
    return msgs[0].json(), msgs[1].json()


def test_an_update_without_changes_refreshes_the_registration(gateway, mqtt, devsim):
    gw, r, reg, before, after = register_then(gateway, mqtt, devsim, "plain", "wait:0.05",
                                              "update")
    up = r.one("update")
    assert up["code"] == "2.04", r
    doc, event = split_update(mqtt, "plain", updates(mqtt, "plain"))
    assert_recent(event["ts"], before, now_ms())
    assert event == {"event": "updated", "ep": "plain", "ts": event["ts"]}
    assert doc["updated_at"] >= reg["updated_at"], (doc, reg)
    assert_recent(doc["updated_at"], before, now_ms())
    assert doc == dict(reg, updated_at=doc["updated_at"])
    assert gw.log_lines(r" updated ep=plain id=\S+ lt=300 b=U changed=0x0 address=127\.0\.0\.1:\d+$")


def test_an_update_of_the_lifetime(gateway, mqtt, devsim):
    gw, r, reg, before, after = register_then(gateway, mqtt, devsim, "lt-dev", "update:lt=120")
    assert r.one("update")["code"] == "2.04", r
    doc, event = split_update(mqtt, "lt-dev", updates(mqtt, "lt-dev"))
    assert event == {"event": "updated", "ep": "lt-dev", "ts": event["ts"], "lifetime": 120}
    assert doc == dict(reg, lifetime=120, updated_at=doc["updated_at"])
    assert gw.log_lines(r" updated ep=lt-dev id=\S+ lt=120 b=U changed=0x1 ")


def test_an_update_of_the_lifetime_is_clamped(gateway, mqtt, devsim):
    gw = gateway(lifetime_min=60, lifetime_max=600)
    r = devsim(gw.server, "register", "update:lt=100000", "update:lt=5", ep="clamp",
               lifetime=300)
    assert r.rc == 0, r
    msgs = updates(mqtt, "clamp", 2)
    assert len(msgs) == 4, summarize(msgs)
    doc1, ev1 = split_update(mqtt, "clamp", msgs[:2])
    doc2, ev2 = split_update(mqtt, "clamp", msgs[2:])
    assert (ev1.get("lifetime"), doc1["lifetime"]) == (600, 600), (ev1, doc1)
    assert (ev2.get("lifetime"), doc2["lifetime"]) == (60, 60), (ev2, doc2)


def test_an_update_with_the_same_lifetime_changes_nothing(gateway, mqtt, devsim):
    gw, r, reg, before, after = register_then(gateway, mqtt, devsim, "same-lt", "update:lt=300")
    doc, event = split_update(mqtt, "same-lt", updates(mqtt, "same-lt"))
    assert event == {"event": "updated", "ep": "same-lt", "ts": event["ts"]}
    assert doc == dict(reg, updated_at=doc["updated_at"])


def test_an_update_to_queue_mode_binding(gateway, mqtt, devsim):
    gw, r, reg, before, after = register_then(gateway, mqtt, devsim, "to-queue", "update:b=UQ",
                                              lwm2m="1.0")
    assert r.one("update")["code"] == "2.04", r
    doc, event = split_update(mqtt, "to-queue", updates(mqtt, "to-queue"))
    assert event == {"event": "updated", "ep": "to-queue", "ts": event["ts"], "binding": "UQ",
                     "queue_mode": True}
    assert doc == dict(reg, binding="UQ", queue_mode=True, updated_at=doc["updated_at"])


def test_an_update_of_the_objects(gateway, mqtt, devsim):
    gw, r, reg, before, after = register_then(gateway, mqtt, devsim, "objs",
                                              "update:objects=</1/0>,</3/0>,</5/0>,</3303/1>")
    assert r.one("update")["code"] == "2.04", r
    doc, event = split_update(mqtt, "objs", updates(mqtt, "objs"))
    new_objects = ["/1/0", "/3/0", "/5/0", "/3303/1"]
    # devsim (LwM2M 1.1) sends the root link </>;rt="oma.lwm2m";ct=110 with the objects.
    assert event == {"event": "updated", "ep": "objs", "ts": event["ts"],
                     "objects": new_objects, "content_formats": "110"}
    assert doc == dict(reg, objects=new_objects, updated_at=doc["updated_at"])


def test_several_changes_in_one_update(gateway, mqtt, devsim):
    gw, r, reg, before, after = register_then(gateway, mqtt, devsim, "multi",
                                              "update:lt=90:b=UQ:objects=</3/0>", lwm2m="1.0")
    doc, event = split_update(mqtt, "multi", updates(mqtt, "multi"))
    assert event == {"event": "updated", "ep": "multi", "ts": event["ts"], "lifetime": 90,
                     "binding": "UQ", "queue_mode": True, "objects": ["/3/0"]}
    assert doc == dict(reg, lifetime=90, binding="UQ", queue_mode=True, objects=["/3/0"],
                       updated_at=doc["updated_at"])


def test_an_update_from_a_new_address_says_so(gateway, mqtt, devsim, coap):
    """A device behind a NAT comes back from another port: the Update carries the new
    address into the event and the document."""
    gw, r, reg, before, after = register_then(gateway, mqtt, devsim, "moved")
    location = r.one("register")["location"]
    a = coap(gw.port, "post", location)
    assert a.code == "2.04", a
    doc, event = split_update(mqtt, "moved", updates(mqtt, "moved"))
    assert event["address"] != reg["address"], (event, reg)
    assert event == {"event": "updated", "ep": "moved", "ts": event["ts"],
                     "address": event["address"]}
    assert doc == dict(reg, address=event["address"], updated_at=doc["updated_at"])


def test_a_bad_update_is_refused_and_changes_nothing(gateway, mqtt, devsim, coap, prefix):
    gw, r, reg, before, after = register_then(gateway, mqtt, devsim, "stays")
    location = r.one("register")["location"]
    mark = mqtt.mark()
    for query, payload, cf, code in ((["lt=abc"], None, None, "4.00"),
                                     (["lt=0"], None, None, "4.00"),
                                     (["b=XYZ"], None, None, "4.00"),
                                     ([], "</3/0", 40, "4.00"),
                                     ([], "</3/0>", 0, "4.15")):
        a = coap(gw.port, "post", location, query, payload=payload, content_format=cf)
        assert a.code == code, (query, payload, a)
        assert a.payload, f"no diagnostic with {a}"
    assert len(gw.log_lines(r" update-rejected ep=stays ")) == 5, gw.log()
    mqtt.settle()
    assert mqtt.all()[mark:] == [], summarize(mqtt.all()[mark:])


@pytest.mark.parametrize("path", ["/rd/zzzzzzzz", "/rd/short", "/rd/0123456789abcdef"])
def test_an_update_to_an_unknown_location_is_404(gateway, mqtt, coap, path):
    gw = gateway()
    mark = mqtt.mark()
    a = coap(gw.port, "post", path, ["lt=60"])
    assert a.code == "4.04", a
    assert a.payload == "unknown registration: register again", a
    assert gw.log_lines(rf" unknown-location address=127\.0\.0\.1:\d+ path={path} code=4\.04$"), \
        gw.log()
    mqtt.settle()
    assert mqtt.all()[mark:] == []


def test_a_lwm2m_1_1_update_of_the_binding_keeps_queue_mode(gateway, mqtt, devsim):
    gw, r, reg, before, after = register_then(gateway, mqtt, devsim, "q11", "update:b=U",
                                              lwm2m="1.1", queue=True)
    assert reg["queue_mode"] is True
    doc, event = split_update(mqtt, "q11", updates(mqtt, "q11"))
    assert event == {"event": "updated", "ep": "q11", "ts": event["ts"]}
    assert doc == dict(reg, updated_at=doc["updated_at"])
