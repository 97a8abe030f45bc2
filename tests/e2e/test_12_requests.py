"""12 requests: cloud applications command devices over MQTT (SPEC 4). Every operation goes
from a JSON request on {prefix}/{ep}/request (or the write/execute topics) to the device and
back as exactly one final answer on {prefix}/{ep}/response; requests for a device that is not
registered are answered "held" at once and sent after its Register answer; ttl, hold_max and
invalid requests end in their own status; a gateway killed with SIGKILL loses nothing held, and
a device registered before the restart keeps its location."""
import json
import signal
import time

import pytest

from conftest import WAIT_TIMEOUT, Requester, wait_until

WAIT = 3 * WAIT_TIMEOUT


def serve(devsim, gw, ep, seconds=30, **kw):
    p = devsim.start(gw.server, "register", f"serve:{seconds}", "deregister", ep=ep, trace=True,
                     **kw)
    return p


def registered(mqtt, prefix, ep, since=0):
    return mqtt.wait_for(f"{prefix}/{ep}/event", lambda m: m.json()["event"] == "registered",
                         since=since, timeout=WAIT)


def test_read_write_execute_reach_the_device_and_answer_once(gateway, devsim, mqtt, prefix, req):
    gw = gateway()
    mark = mqtt.mark()
    serve(devsim, gw, "ops-1")
    registered(mqtt, prefix, "ops-1", mark)
    r = req("ops-1")
    r.send({"id": "1", "op": "read", "path": "/3/0/0"})
    a = r.final("1", mark)
    assert a["status"] == "ok" and a["code"] == "2.05" and a["op"] == "read"
    assert a["path"] == "/3/0/0" and isinstance(a["value"], str) and "ts" in a

    r.send({"id": "2", "op": "write", "path": "/1/0/1", "value": 321})
    assert r.final("2", mark)["status"] == "ok"
    r.send({"id": "3", "op": "read", "path": "/1/0/1"})
    assert r.final("3", mark)["value"] == 321

    r.send({"id": "4", "op": "execute", "path": "/3/0/4", "args": "0='now'"})
    a = r.final("4", mark)
    assert a["status"] == "ok" and a["code"] == "2.04"

    r.send({"id": "5", "op": "read", "path": "/3/0"})
    a = r.final("5", mark)
    assert a["status"] == "ok" and "/3/0/0" in a["values"]

    r.send({"id": "6", "op": "read", "path": "/9/0/0"})
    a = r.final("6", mark)
    assert a["status"] == "device-error" and a["code"] == "4.04" and a["error"]

    time.sleep(0.5)
    for rid in "123456":
        finals = [x for x in r.answers(mark, rid) if x["status"] != "held"]
        assert len(finals) == 1, (rid, finals)


def test_write_and_execute_topics(gateway, devsim, mqtt, prefix, req):
    gw = gateway()
    mark = mqtt.mark()
    serve(devsim, gw, "ops-2")
    registered(mqtt, prefix, "ops-2", mark)
    r = req("ops-2")
    r.client.publish(f"{prefix}/ops-2/write/1/0/1", "77", qos=1).wait_for_publish(5)
    assert wait_until(lambda: any(a["status"] == "ok" and a["op"] == "write"
                                  for a in r.answers(mark)), WAIT), r.answers(mark)
    r.send({"id": "rd", "op": "read", "path": "/1/0/1"})
    assert r.final("rd", mark)["value"] == 77
    r.client.publish(f"{prefix}/ops-2/execute/3/0/4", "", qos=1).wait_for_publish(5)
    assert wait_until(lambda: any(a["status"] == "ok" and a["op"] == "execute"
                                  for a in r.answers(mark)), WAIT), r.answers(mark)


def test_create_delete_discover_write_attributes(gateway, devsim, mqtt, prefix, req):
    gw = gateway()
    mark = mqtt.mark()
    serve(devsim, gw, "ops-3")
    registered(mqtt, prefix, "ops-3", mark)
    r = req("ops-3")
    r.send({"id": "d", "op": "discover", "path": "/3/0"})
    a = r.final("d", mark)
    assert a["status"] == "ok" and any(link.startswith("</3/0/0>") for link in a["links"]), a

    r.send({"id": "wa", "op": "write-attributes", "path": "/3303/0/5700",
            "attributes": {"pmin": 10, "pmax": 60}})
    assert r.final("wa", mark)["status"] == "ok"

    r.send({"id": "c", "op": "create", "path": "/3303", "iid": 7, "values": {"5700": 21.5}})
    a = r.final("c", mark)
    assert a["status"] == "ok" and a["code"] == "2.01", a
    r.send({"id": "del", "op": "delete", "path": "/3303/7"})
    assert r.final("del", mark)["code"] == "2.02"
    r.send({"id": "del2", "op": "delete", "path": "/3303/7"})
    a = r.final("del2", mark)
    assert a["status"] == "device-error" and a["code"] == "4.04"


def test_observe_and_cancel_by_request(gateway, devsim, mqtt, prefix, req):
    gw = gateway()
    mark = mqtt.mark()
    serve(devsim, gw, "ops-4", rate=5)
    registered(mqtt, prefix, "ops-4", mark)
    r = req("ops-4")
    r.send({"id": "o", "op": "observe", "path": "/3303/0/5700",
            "attributes": {"pmin": 0, "pmax": 1}})
    a = r.final("o", mark)
    assert a["status"] == "ok" and isinstance(a["value"], float), a
    topic = f"{prefix}/ops-4/data/3303/0/5700"
    m0 = mqtt.mark()
    assert wait_until(lambda: len(mqtt.on(topic, m0)) >= 2, WAIT)
    r.send({"id": "x", "op": "cancel-observe", "path": "/3303/0/5700"})
    assert r.final("x", mark)["status"] == "ok"


def test_composite_read_on_a_1_1_device_and_refused_for_1_0(gateway, devsim, mqtt, prefix, req):
    gw = gateway()
    mark = mqtt.mark()
    serve(devsim, gw, "ops-5", lwm2m="1.1")
    serve(devsim, gw, "ops-6", lwm2m="1.0")
    registered(mqtt, prefix, "ops-5", mark)
    registered(mqtt, prefix, "ops-6", mark)
    r = req("ops-5")
    r.send({"id": "rc", "op": "read-composite", "paths": ["/3/0/0", "/3303/0/5700"]})
    a = r.final("rc", mark)
    assert a["status"] == "ok" and set(a["values"]) >= {"/3/0/0", "/3303/0/5700"}, a
    r6 = req("ops-6")
    r6.send({"id": "rc", "op": "read-composite", "paths": ["/3/0/0"]})
    a = r6.final("rc", mark)
    assert a["status"] == "invalid" and "1.1" in a["error"]


def test_a_request_before_registration_is_held_then_sent(gateway, devsim, mqtt, prefix, req):
    gw = gateway()
    mark = mqtt.mark()
    r = req("late-1")
    r.send({"id": "h1", "op": "read", "path": "/3/0/0"})
    r.send({"id": "h2", "op": "write", "path": "/1/0/1", "value": 99})
    assert wait_until(lambda: len([a for a in r.answers(mark) if a["status"] == "held"]) == 2,
                      WAIT), r.answers(mark)
    serve(devsim, gw, "late-1")
    assert r.final("h1", mark)["status"] == "ok"
    assert r.final("h2", mark)["status"] == "ok"
    # Sent after the Register answer: the gateway logged the registration first.
    log = gw.log()
    assert log.index("registered ep=late-1") < log.index("request-done ep=late-1")


def test_ttl_zero_is_offline_and_ttl_expiry_is_expired(gateway, mqtt, prefix, req):
    gateway()
    mark = mqtt.mark()
    r = req("absent-1")
    r.send({"id": "t0", "op": "read", "path": "/3/0/0", "ttl": 0})
    assert r.final("t0", mark)["status"] == "offline"
    r.send({"id": "t1", "op": "read", "path": "/3/0/0", "ttl": 1})
    a = r.final("t1", mark, timeout=10)
    assert a["status"] == "expired"
    assert [x["status"] for x in r.answers(mark, "t1")] == ["held", "expired"]


def test_hold_max_overflow_is_rejected(gateway, mqtt, prefix, req):
    gateway(extra_conf="")
    # store.hold_max comes from the file: write a gateway with a small one.
    mark = mqtt.mark()
    r = req("full-1")
    for i in range(102):
        r.send({"id": f"f{i}", "op": "read", "path": "/3/0/0"})
    assert wait_until(lambda: len(r.answers(mark)) >= 102, WAIT)
    statuses = [a["status"] for a in r.answers(mark)]
    assert statuses.count("held") == 100 and statuses.count("rejected") == 2, statuses


@pytest.mark.parametrize("payload,field", [
    ("{not json", "JSON"),
    (json.dumps({"id": "a", "op": "dance", "path": "/3/0/0"}), "op"),
    (json.dumps({"id": "b", "op": "read", "path": "3/0/x"}), "path"),
    (json.dumps({"id": "c", "op": "write", "path": "/3/0/13", "value": "soon"}), "value"),
    (json.dumps({"id": "d", "op": "execute", "path": "/3/0"}), "path"),
    (json.dumps({"id": "e", "op": "read", "path": "/3/0/0", "ttl": -1}), "ttl"),
    (json.dumps({"id": "f", "op": "read", "path": "/3/0/0", "vaule": 1}), "vaule"),
])
def test_invalid_requests_get_one_invalid_answer(gateway, mqtt, prefix, req, payload, field):
    gateway()
    mark = mqtt.mark()
    r = req("inv-1")
    r.send(None, raw=payload)
    assert wait_until(lambda: r.answers(mark), WAIT)
    time.sleep(0.3)
    a = r.answers(mark)
    assert len(a) == 1 and a[0]["status"] == "invalid", a
    assert field.lower() in a[0]["error"].lower(), a


def test_mqtt5_response_topic_and_correlation_data(gateway, devsim, mqtt, prefix, req):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    gw = gateway(mqtt_conf='  version = "5";\n')
    mark = mqtt.mark()
    serve(devsim, gw, "v5-1")
    registered(mqtt, prefix, "v5-1", mark)
    r = req("v5-1", v5=True)
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = f"{prefix}/apps/mine"
    props.CorrelationData = b"\x00corr-42"
    r.send({"id": "v", "op": "read", "path": "/3/0/0"}, properties=props)
    assert wait_until(lambda: mqtt.on(f"{prefix}/apps/mine", mark), WAIT)
    m = mqtt.on(f"{prefix}/apps/mine", mark)[0]
    assert m.json()["status"] == "ok"
    assert not r.answers(mark)
    # An empty Response Topic counts as none: the answer goes to the endpoint's own topic.
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = ""
    r.send({"id": "e", "op": "read", "path": "/3/0/0"}, properties=props)
    assert r.final("e", mark)["status"] == "ok"


def test_sigkill_while_held_then_restart_delivers(gateway, devsim, mqtt, prefix, req, tmp_path):
    store = str(tmp_path / "kept.db")
    gw = gateway(store=store)
    mark = mqtt.mark()
    r = req("kill-1")
    for i in range(5):
        r.send({"id": f"k{i}", "op": "write", "path": "/1/0/1", "value": 100 + i})
    assert wait_until(lambda: len(r.answers(mark)) == 5, WAIT)
    time.sleep(0.3)
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait(5)
    gw.expect_exit = None
    gw2 = gateway(store=store)
    assert " held=5 " in gw2.log()
    serve(devsim, gw2, "kill-1")
    for i in range(5):
        assert r.final(f"k{i}", mark)["status"] == "ok"
    r.send({"id": "after", "op": "read", "path": "/1/0/1"})
    assert r.final("after", mark)["value"] == 104  # the five writes went out in order


def test_registration_survives_a_restart(gateway, devsim, mqtt, prefix, req, tmp_path):
    store = str(tmp_path / "regs.db")
    port = None
    gw = gateway(store=store)
    port = gw.port
    mark = mqtt.mark()
    p = devsim.start(gw.server, "register", "wait:4", "update", "serve:20", ep="keep-1",
                     trace=True)
    registered(mqtt, prefix, "keep-1", mark)
    time.sleep(0.5)
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait(5)
    gw.expect_exit = None
    gw2 = gateway(store=store, port=port)
    assert "restored ep=keep-1" in gw2.log()
    gw2.wait_log("restored-registration-heard ep=keep-1", timeout=WAIT)
    r = req("keep-1")
    r.send({"id": "rr", "op": "read", "path": "/3/0/0"})
    assert r.final("rr", mark)["status"] == "ok"
    res = p.wait(40)
    assert res.one("update")["code"] == "2.04", res


# Short CoAP retransmission, so that a timeout comes within the test's patience.
FAST_COAP = "  ack_timeout = 0.5;\n  max_retransmit = 1;\n"


def test_a_device_that_does_not_answer_gets_timeout(gateway, devsim, mqtt, prefix, req):
    gw = gateway(lwm2m_conf=FAST_COAP)
    mark = mqtt.mark()
    devsim(gw.server, "register", "silent", ep="mute-1")
    registered(mqtt, prefix, "mute-1", mark)
    r = req("mute-1")
    r.send({"id": "to", "op": "read", "path": "/3/0/0"})
    a = r.final("to", mark, timeout=20)
    assert a["status"] == "timeout" and a["error"], a
    # The next request is not stuck behind it.
    r.send({"id": "to2", "op": "read", "path": "/3/0/0"})
    assert r.final("to2", mark, timeout=20)["status"] == "timeout"


def test_every_request_gets_exactly_one_final_answer(gateway, devsim, mqtt, prefix, req):
    # 200 requests arrive faster than one device answers them: with the default hold_max
    # (100 waiting per device) the last of a burst are rightly "rejected", which is
    # test_hold_max_overflow_is_rejected's subject, not this one's.
    gw = gateway(store_conf="  hold_max = 1000;\n")
    mark = mqtt.mark()
    serve(devsim, gw, "count-1", seconds=60)
    registered(mqtt, prefix, "count-1", mark)
    r = req("count-1")
    n = 200
    for i in range(n):
        op = [{"op": "read", "path": "/3/0/0"},
              {"op": "write", "path": "/1/0/1", "value": i},
              {"op": "read", "path": "/9/9/9"},
              {"op": "dance"}][i % 4]
        r.send(dict(op, id=f"n{i}"))
    assert wait_until(lambda: len([a for a in r.answers(mark) if a["status"] != "held"]) >= n,
                      60), len(r.answers(mark))
    time.sleep(1)
    finals = {}
    for a in r.answers(mark):
        if a["status"] != "held":
            finals.setdefault(a["id"], []).append(a["status"])
    assert sorted(finals) == sorted(f"n{i}" for i in range(n))
    assert all(len(v) == 1 for v in finals.values()), {k: v for k, v in finals.items()
                                                       if len(v) != 1}
    statuses = {i: finals[f"n{i}"][0] for i in range(n)}
    assert {statuses[i] for i in range(0, n, 4)} == {"ok"}
    assert {statuses[i] for i in range(1, n, 4)} == {"ok"}
    assert {statuses[i] for i in range(2, n, 4)} == {"device-error"}
    assert {statuses[i] for i in range(3, n, 4)} == {"invalid"}


def test_a_broker_restart_loses_no_held_request(gateway, devsim, tmp_path, prefix):
    from conftest import Collector, start_mosquitto, stop_mosquitto
    b = start_mosquitto(tmp_path)
    port = b.port
    col = Collector(b, f"{prefix}/#", prefix)
    try:
        gw = gateway(mqtt_uri=b.uri, wait_online=False)
        assert wait_until(lambda: "mqtt-subscribed" in gw.log(), WAIT)
        r = Requester(b, col, prefix, "brk-1")
        for i in range(5):
            r.send({"id": f"b{i}", "op": "read", "path": "/3/0/0"})
        assert wait_until(lambda: len(r.answers()) == 5, WAIT)
        r.close()
        col.close()
        stop_mosquitto(b)
        # The broker is gone: the device registers meanwhile and the held requests are
        # carried out; their answers wait in the gateway until the broker is back.
        p = serve(devsim, gw, "brk-1", seconds=20)
        assert wait_until(lambda: gw.log().count("request-done ep=brk-1") == 5, WAIT), gw.log()
        b = start_mosquitto(tmp_path, port=port)
        col = Collector(b, f"{prefix}/brk-1/response", prefix)
        assert wait_until(lambda: len([m for m in col.all() if m.json()["status"] == "ok"]) == 5,
                          WAIT), [m.payload for m in col.all()]
        # And requests flow again over the new connection.
        assert wait_until(lambda: gw.log().count("mqtt-subscribed") >= 2, WAIT)
        r = Requester(b, col, prefix, "brk-1")
        r.send({"id": "again", "op": "read", "path": "/3/0/0"})
        assert r.final("again")["status"] == "ok"
        r.close()
        p.kill()
    finally:
        col.close()
        stop_mosquitto(b)


def test_a_queue_mode_device_gets_requests_only_while_awake(gateway, devsim, mqtt, prefix, req):
    gw = gateway(lwm2m_conf="  queue_awake = 2;\n")
    mark = mqtt.mark()
    # Awake for 2 s after each uplink; it updates after 6 s of sleep.
    p = devsim.start(gw.server, "register", "wait:6", "update", "wait:4", "deregister",
                     ep="q-1", queue=True, trace=True, extra=("--awake", "2"))
    registered(mqtt, prefix, "q-1", mark)
    time.sleep(3)  # asleep now, for the gateway and for the device
    r = req("q-1")
    r.send({"id": "q", "op": "read", "path": "/3/0/0"})
    assert wait_until(lambda: [a["status"] for a in r.answers(mark, "q")] == ["held"], WAIT)
    a = r.final("q", mark, timeout=WAIT)
    assert a["status"] == "ok", a
    log = gw.log()
    assert log.index("updated ep=q-1") < log.index("request-done ep=q-1")
    res = p.wait(20)
    assert not [t for t in res.trace() if t.get("event") == "dropped"], res


def test_write_and_observe_composite(gateway, devsim, mqtt, prefix, req):
    gw = gateway()
    mark = mqtt.mark()
    p = serve(devsim, gw, "comp-1", seconds=10, lwm2m="1.1", rate=5)
    registered(mqtt, prefix, "comp-1", mark)
    r = req("comp-1")
    r.send({"id": "wc", "op": "write-composite",
            "values": {"/1/0/1": 555, "/3/0/13": 1764000000}})
    a = r.final("wc", mark)
    assert a["status"] == "ok", (a, p.wait(10))
    r.send({"id": "rd", "op": "read", "path": "/1/0/1"})
    assert r.final("rd", mark)["value"] == 555
    r.send({"id": "oc", "op": "observe-composite", "paths": ["/3303/0/5700", "/3/0/9"]})
    a = r.final("oc", mark)
    assert a["status"] == "ok" and "/3303/0/5700" in a["values"], a
    m0 = mqtt.mark()
    topic = f"{prefix}/comp-1/data/3303/0/5700"
    assert wait_until(lambda: len(mqtt.on(topic, m0)) >= 1, WAIT)


def test_a_separate_response_is_awaited(gateway, devsim, mqtt, prefix, req):
    gw = gateway()
    mark = mqtt.mark()
    devsim.start(gw.server, "register", "serve:20", ep="sep-1", extra=("--delay-ms", "800"))
    registered(mqtt, prefix, "sep-1", mark)
    r = req("sep-1")
    r.send({"id": "s", "op": "read", "path": "/3/0/0"})
    a = r.final("s", mark)
    assert a["status"] == "ok" and a["code"] == "2.05", a


def test_observe_and_cancel_back_to_back(gateway, devsim, mqtt, prefix, req):
    gw = gateway()
    mark = mqtt.mark()
    serve(devsim, gw, "oc-1", rate=5)
    registered(mqtt, prefix, "oc-1", mark)
    r = req("oc-1")
    r.send({"id": "o1", "op": "observe", "path": "/3303/0/5700"})
    r.send({"id": "c1", "op": "cancel-observe", "path": "/3303/0/5700"})
    r.send({"id": "o2", "op": "observe", "path": "/3303/0/5700"})
    r.send({"id": "c2", "op": "cancel-observe", "path": "/3303/0/5700"})
    r.send({"id": "o3", "op": "observe", "path": "/3303/0/5700"})
    for rid in ("o1", "c1", "o2", "c2", "o3"):
        assert r.final(rid, mark)["status"] == "ok", rid


def test_an_observe_in_flight_during_reload_is_answered(gateway, devsim, mqtt, prefix, req):
    gw = gateway()
    mark = mqtt.mark()
    devsim.start(gw.server, "register", "serve:20", ep="rl-1", extra=("--delay-ms", "2000"))
    registered(mqtt, prefix, "rl-1", mark)
    r = req("rl-1")
    r.send({"id": "o", "op": "observe", "path": "/3303/0/5700"})
    time.sleep(0.5)
    gw.proc.send_signal(signal.SIGHUP)
    r.send({"id": "after", "op": "read", "path": "/3/0/0"})
    assert r.final("o", mark)["status"] == "ok"
    assert r.final("after", mark)["status"] == "ok"


def test_ttl_zero_behind_a_held_request_is_offline(gateway, mqtt, prefix, req):
    gateway()
    mark = mqtt.mark()
    r = req("absent-2")
    r.send({"id": "a", "op": "read", "path": "/3/0/0"})
    r.send({"id": "t0", "op": "read", "path": "/3/0/0", "ttl": 0})
    assert r.final("t0", mark)["status"] == "offline"
    assert [x["status"] for x in r.answers(mark, "a")] == ["held"]


def test_answers_made_while_the_broker_is_away_survive_a_sigkill(gateway, devsim, tmp_path,
                                                                  prefix):
    from conftest import Collector, start_mosquitto, stop_mosquitto
    b = start_mosquitto(tmp_path)
    port = b.port
    store = str(tmp_path / "answers.db")
    col = Collector(b, f"{prefix}/#", prefix)
    try:
        gw = gateway(mqtt_uri=b.uri, store=store, wait_online=False)
        assert wait_until(lambda: "mqtt-subscribed" in gw.log(), WAIT)
        r = Requester(b, col, prefix, "ans-1")
        for i in range(3):
            r.send({"id": f"w{i}", "op": "write", "path": "/1/0/1", "value": 200 + i})
        assert wait_until(lambda: len(r.answers()) == 3, WAIT)  # held
        r.close()
        col.close()
        stop_mosquitto(b)
        p = serve(devsim, gw, "ans-1", seconds=30)
        assert wait_until(lambda: gw.log().count("request-done ep=ans-1") == 3, WAIT), gw.log()
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait(5)
        gw.expect_exit = None
        b = start_mosquitto(tmp_path, port=port)
        col = Collector(b, f"{prefix}/ans-1/response", prefix)
        gw2 = gateway(mqtt_uri=b.uri, store=store, wait_online=False)
        assert " held=3 " in gw2.log()
        assert wait_until(lambda: len(col.all()) >= 3, WAIT), gw2.log()
        assert sorted(m.json()["id"] for m in col.all()) == ["w0", "w1", "w2"]
        assert all(m.json()["status"] == "ok" for m in col.all())
        # Answered from the store: not one write reached the device twice.
        res = p.wait(40)
        puts = [t for t in res.trace() if t.get("method") == "PUT" and t.get("path") == "/1/0/1"]
        assert len(puts) == 3, res
    finally:
        col.close()
        stop_mosquitto(b)


def test_mqtt5_message_expiry_counts_as_ttl(gateway, mqtt, prefix, req):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    gateway(mqtt_conf='  version = "5";\n')
    mark = mqtt.mark()
    r = req("exp-1", v5=True)
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = 1
    r.send({"id": "e", "op": "read", "path": "/3/0/0"}, properties=props)
    assert r.final("e", mark, timeout=10)["status"] == "expired"


def test_a_requested_observation_comes_back_after_a_new_register(gateway, devsim, mqtt, prefix,
                                                                 req):
    gw = gateway()
    mark = mqtt.mark()
    devsim.start(gw.server, "register", "serve:3", "register", "serve:6", ep="re-1", rate=5)
    registered(mqtt, prefix, "re-1", mark)
    r = req("re-1")
    r.send({"id": "o", "op": "observe", "path": "/3303/0/5700",
            "attributes": {"pmin": 0, "pmax": 1}})
    assert r.final("o", mark)["status"] == "ok"
    m1 = mqtt.mark()
    assert wait_until(lambda: gw.log().count("registered ep=re-1") == 2, WAIT)
    assert wait_until(lambda: gw.log().count("observing ep=re-1 path=/3303/0/5700") == 2, WAIT)
    topic = f"{prefix}/re-1/data/3303/0/5700"
    m2 = mqtt.mark()
    assert wait_until(lambda: len(mqtt.on(topic, m2)) >= 2, WAIT)
    assert m1 <= m2


def test_the_gateway_summarises_itself_on_the_stats_topic(gateway, devsim, mqtt, prefix, req):
    gw = gateway(mqtt_conf="  stats_interval = 1;\n")
    mark = mqtt.mark()
    serve(devsim, gw, "st-1", seconds=10)
    registered(mqtt, prefix, "st-1", mark)
    r = req("st-1")
    r.send({"id": "s", "op": "read", "path": "/3/0/0"})
    r.send({"id": "bad", "op": "dance"})
    assert r.final("s", mark)["status"] == "ok"
    m = mqtt.wait_for(f"{prefix}/gateway/stats",
                      lambda m: m.json()["registered"] == 1 and m.json()["answers_ok"] >= 1,
                      since=mark, timeout=WAIT)
    doc = m.json()
    assert doc["mqtt_connected"] is True and doc["requests"] == 1 and doc["invalid"] == 1, doc
    assert not m.retain
