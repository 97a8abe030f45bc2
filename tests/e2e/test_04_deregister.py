"""04 deregister: De-register (DELETE /rd/{id}) answers 2.02; MQTT sees the device go offline,
its retained registration document emptied, and a `deregistered` event (SPEC 3, 5)."""
import pytest

from conftest import assert_recent, check_register_messages, now_ms, retained, summarize

DEFAULT_OBJECTS = ["/1/0", "/3/0", "/3303/0"]


def test_deregister_publishes_offline_empties_the_registration_and_says_why(
        gateway, mqtt, devsim, broker, prefix):
    gw = gateway()
    before = now_ms()
    r = devsim(gw.server, "register", "deregister", ep="leaver", lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    assert r.one("register")["code"] == "2.01"
    assert r.one("deregister")["code"] == "2.02"
    location = r.one("register")["location"]
    mqtt.wait_for(f"{prefix}/leaver/event", lambda m: m.json()["event"] == "deregistered")
    check_register_messages(mqtt, gw, "leaver", location, before=before, after=after,
                            lifetime=300, lwm2m="1.1", binding="U", queue=False,
                            objects=DEFAULT_OBJECTS, ct="110", exact=False)
    gone = mqtt.messages_for("leaver")[3:]
    assert [(m.topic, m.payload, m.retain) for m in gone[:2]] == [
        (f"{prefix}/leaver/status", b"offline", True),
        (f"{prefix}/leaver/registration", b"", True),
    ], summarize(gone)
    assert len(gone) == 3 and gone[2].topic == f"{prefix}/leaver/event", summarize(gone)
    assert not gone[2].retain
    event = gone[2].json()
    assert_recent(event["ts"], before, now_ms())
    assert event == {"event": "deregistered", "ep": "leaver", "ts": event["ts"]}
    # What a client subscribing later sees: offline, and no registration document.
    assert retained(broker, f"{prefix}/leaver/#") == {f"{prefix}/leaver/status": b"offline"}
    rid = location.rsplit("/", 1)[-1]
    assert gw.log_lines(rf" deregistered ep=leaver id={rid}$"), gw.log()


def test_the_old_location_is_gone_after_deregister(gateway, mqtt, devsim, coap, prefix):
    gw = gateway()
    r = devsim(gw.server, "register", "deregister", ep="gone", lifetime=300)
    assert r.rc == 0, r
    location = r.one("register")["location"]
    mqtt.wait_for(f"{prefix}/gone/event", lambda m: m.json()["event"] == "deregistered")
    mqtt.settle()
    mark = mqtt.mark()
    a = coap(gw.port, "post", location)
    assert a.code == "4.04", a
    a = coap(gw.port, "delete", location)
    assert a.code == "4.04", a
    mqtt.settle()
    assert mqtt.all()[mark:] == [], summarize(mqtt.all()[mark:])


@pytest.mark.parametrize("path", ["/rd/zzzzzzzz", "/rd/nope", "/rd"])
def test_delete_of_an_unknown_location(gateway, mqtt, devsim, coap, broker, prefix, path):
    gw = gateway()
    r = devsim(gw.server, "register", ep="bystander", lifetime=300)
    assert r.rc == 0, r
    mqtt.wait_for(f"{prefix}/bystander/event")
    mqtt.settle()
    mark = mqtt.mark()
    a = coap(gw.port, "delete", path)
    if path == "/rd":
        assert a.code == "4.05", a  # /rd takes POST only
    else:
        assert a.code == "4.04", a
        assert a.payload == "unknown registration: register again", a
        assert gw.log_lines(rf" unknown-location address=127\.0\.0\.1:\d+ path={path} "
                            r"code=4\.04$"), gw.log()
    mqtt.settle()
    assert mqtt.all()[mark:] == [], summarize(mqtt.all()[mark:])
    # The registered device is untouched.
    assert retained(broker, f"{prefix}/bystander/status") == {
        f"{prefix}/bystander/status": b"online"}

