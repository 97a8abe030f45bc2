"""05 expiry: a registration expires `lifetime` seconds after its last Register or Update
(SPEC 5); MQTT then sees it go offline, its document emptied and an `expired` event."""
import time

from conftest import assert_recent, now_ms, retained, summarize


def test_a_silent_device_expires(gateway, mqtt, devsim, coap, broker, prefix):
    gw = gateway(lifetime_min=1)
    before = now_ms()
    r = devsim(gw.server, "register", "silent", ep="quiet", lifetime=2)
    assert r.rc == 0, r
    location = r.one("register")["location"]
    reg = mqtt.wait_for(f"{prefix}/quiet/registration").json()
    assert reg["lifetime"] == 2, reg
    mqtt.wait_for(f"{prefix}/quiet/event", lambda m: m.json()["event"] == "expired",
                  timeout=4.5)
    expired_at = now_ms()
    mqtt.settle()
    msgs = mqtt.messages_for("quiet")
    assert [(m.topic, m.retain) for m in msgs] == [
        (f"{prefix}/quiet/status", True), (f"{prefix}/quiet/registration", True),
        (f"{prefix}/quiet/event", False),
        (f"{prefix}/quiet/status", True), (f"{prefix}/quiet/registration", True),
        (f"{prefix}/quiet/event", False),
    ], summarize(msgs)
    assert msgs[3].payload == b"offline"
    assert msgs[4].payload == b""
    event = msgs[5].json()
    assert event == {"event": "expired", "ep": "quiet", "ts": event["ts"]}
    assert_recent(event["ts"], before, expired_at)
    # Not before its lifetime: 2 s after the Register was accepted.
    assert event["ts"] >= reg["registered_at"] + 2000 - 50, (event, reg)
    assert event["ts"] <= reg["registered_at"] + 2000 + 1500, (event, reg)
    assert retained(broker, f"{prefix}/quiet/#") == {f"{prefix}/quiet/status": b"offline"}
    rid = location.rsplit("/", 1)[-1]
    assert gw.log_lines(rf" expired ep=quiet id={rid} lt=2$"), gw.log()
    # The location is gone: the device must register again.
    a = coap(gw.port, "post", location)
    assert a.code == "4.04", a


def test_a_device_that_keeps_updating_does_not_expire(gateway, mqtt, devsim, prefix):
    gw = gateway(lifetime_min=1)
    # lt=2, an Update every second for 4.5 s, then De-register: never 2 s without news.
    r = devsim(gw.server, "register", "wait:1", "update", "wait:1", "update", "wait:1",
               "update", "wait:1", "update", "wait:0.5", "deregister", ep="chatty", lifetime=2)
    assert r.rc == 0, r
    assert [x["code"] for x in r.records] == ["2.01"] + ["2.04"] * 4 + ["2.02"], r
    mqtt.wait_for(f"{prefix}/chatty/event", lambda m: m.json()["event"] == "deregistered")
    mqtt.settle()
    events = [m.json()["event"] for m in mqtt.on(f"{prefix}/chatty/event")]
    assert events == ["registered", "updated", "updated", "updated", "updated",
                      "deregistered"], events
    statuses = [m.payload for m in mqtt.on(f"{prefix}/chatty/status")]
    assert statuses == [b"online", b"offline"], statuses
    assert not gw.log_lines(r" expired ep=chatty "), gw.log()


def test_an_update_extends_the_lifetime_from_its_own_time(gateway, mqtt, devsim, prefix):
    """lt=2, one Update after 1.5 s: the registration lives until ~3.5 s, not 2 s."""
    gw = gateway(lifetime_min=1)
    p = devsim.start(gw.server, "register", "wait:1.5", "update", "silent", ep="once",
                     lifetime=2)
    reg = mqtt.wait_for(f"{prefix}/once/registration").json()
    r = p.wait(10)
    assert r.rc == 0, r
    ev = mqtt.wait_for(f"{prefix}/once/event", lambda m: m.json()["event"] == "expired",
                       timeout=5)
    updated = [m.json() for m in mqtt.on(f"{prefix}/once/registration") if m.payload][-1]
    assert updated["updated_at"] >= reg["registered_at"] + 1400, (updated, reg)
    assert ev.json()["ts"] >= updated["updated_at"] + 2000 - 50, (ev.json(), updated)
    # The whole life: registered, updated, expired; nothing in between.
    mqtt.settle()
    events = [m.json()["event"] for m in mqtt.on(f"{prefix}/once/event")]
    assert events == ["registered", "updated", "expired"], events


def test_expiry_of_many_devices_at_once(gateway, mqtt, devsim, prefix):
    gw = gateway(lifetime_min=1)
    n = 50
    r = devsim(gw.server, "register", "silent", count=n, ep_prefix="swarm-", lifetime=2)
    assert r.rc == 0, r
    start = time.monotonic()
    expired = mqtt.wait_count(lambda m: m.topic.endswith("/event") and
                              m.json()["event"] == "expired", n, timeout=6)
    assert time.monotonic() - start < 6
    assert sorted(m.json()["ep"] for m in expired) == sorted(f"swarm-{i}" for i in range(n))
    mqtt.settle()
    for i in range(n):
        msgs = mqtt.messages_for(f"swarm-{i}")
        assert [m.payload for m in msgs if m.topic.endswith("/status")] == [b"online",
                                                                            b"offline"]
        assert [m.json()["event"] for m in msgs if m.topic.endswith("/event")] == [
            "registered", "expired"]
