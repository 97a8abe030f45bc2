"""10 send: an LwM2M 1.1 Send (POST /dp, SenML JSON or CBOR) is published like a notification,
through the same mappings, each record with its own time as `ts` (SPEC 3 and 5); a Send from
an address that holds no registration is refused with 4.03, one in another content format
with 4.15, one that does not decode with 4.00, and none of them publishes anything."""
import json

import pytest

from conftest import (CF_SENML_CBOR, CF_SENML_JSON, CF_TEXT, CF_TLV, now_ms, summarize,
                      tlv_instance)

NAMES = {
    "/1/0/1": ("LwM2M Server", "Lifetime", "s"),
    "/3/0/9": ("Device", "Battery Level", "/100"),
    "/3/0/13": ("Device", "Current Time", None),
    "/3303/0/5601": ("Temperature", "Min Measured Value", None),
    "/3303/0/5602": ("Temperature", "Max Measured Value", None),
    "/3303/0/5700": ("Temperature", "Sensor Value", None),
    "/3303/0/5701": ("Temperature", "Sensor Units", None),
}


def expected_doc(path: str, value, ts: int) -> dict:
    obj, res, unit = NAMES[path]
    doc = {"path": path, "value": value, "ts": ts, "object": obj, "resource": res}
    if unit:
        doc["unit"] = unit
    return doc


def data_of(mqtt, ep: str, since: int = 0):
    return [m for m in mqtt.messages_for(ep, since) if "/data/" in m.topic]


def check_default(msg, prefix: str, ep: str, path: str, value, ts: int) -> None:
    assert (msg.topic, msg.retain) == (f"{prefix}/{ep}/data{path}", False), msg
    doc = msg.json()
    assert doc == expected_doc(path, value, ts), doc
    assert type(doc["value"]) is type(value), doc


@pytest.mark.parametrize("fmt", ["senml-json", "senml-cbor"])
def test_a_devsim_send_is_published_record_by_record(gateway, mqtt, devsim, prefix, fmt):
    """devsim sends the values that change (Battery Level, Current Time, Sensor Value), then
    a whole Temperature instance and the Lifetime, each record with the time of its last
    change: values that changed since the start carry later times than those that did
    not."""
    gw = gateway()
    ep = f"sender-{fmt}"
    before = now_ms()
    r = devsim(gw.server, "register", "serve:1.2", "send", "send:/3303/0,/1/0/1",
               "deregister", ep=ep, rate=2, format=fmt)
    after = now_ms()
    assert r.rc == 0, r
    assert [(x["op"], x["code"]) for x in r.records] == [
        ("register", "2.01"), ("send", "2.04"), ("send", "2.04"), ("deregister", "2.02")], r
    mqtt.wait_for(f"{prefix}/{ep}/event", lambda m: m.json()["event"] == "deregistered")
    mqtt.settle()
    msgs = mqtt.messages_for(ep)
    leaves = [m.topic[len(f"{prefix}/{ep}/"):] for m in msgs]
    assert leaves == ["status", "registration", "event",
                      "data/3/0/9", "data/3/0/13", "data/3303/0/5700",
                      "data/3303/0/5601", "data/3303/0/5602", "data/3303/0/5700",
                      "data/3303/0/5701", "data/1/0/1",
                      "status", "registration", "event"], summarize(msgs)
    data = msgs[3:-3]
    docs = [m.json() for m in data]
    registered_at = msgs[1].json()["registered_at"]
    for m, doc in zip(data, docs):
        assert isinstance(doc["ts"], int) and before - 1000 <= doc["ts"] <= after, doc
        check_default(m, prefix, ep, doc["path"], doc["value"], doc["ts"])
    battery, clock, temp, lo, hi, temp2, units, lifetime = docs
    # Two changes a second (the first at devsim's start) for about 1.2 s: three drains of
    # the battery (two on a slow start), the temperature walking along, both changed
    # together; the clock (whole seconds) changed when its second did, at a change before.
    assert battery["value"] in (97, 98) and isinstance(battery["value"], int), battery
    assert battery["ts"] == temp["ts"] == temp2["ts"], docs
    assert battery["ts"] > registered_at + 500, (battery, registered_at)
    # (whole seconds of the same instant; ts is rounded to the ms, the value cut)
    assert clock["value"] in (clock["ts"] // 1000, (clock["ts"] - 1) // 1000), clock
    assert registered_at - 1000 <= clock["ts"] <= battery["ts"], (clock, battery)
    assert temp["value"] == temp2["value"] and isinstance(temp["value"], float), docs
    assert abs(temp["value"] - 20.0) <= 1.0, temp
    assert lo["value"] <= temp["value"] <= hi["value"], docs
    # What never changed carries the time the device started, before its Register (+1:
    # the device's time is rounded to the ms, registered_at cut).
    assert units["value"] == "Cel" and lifetime["value"] == 86400, docs
    assert units["ts"] == lifetime["ts"] <= registered_at + 1, (units, lifetime,
                                                                registered_at)
    assert gw.log_lines(rf" send ep={ep} records=3$")
    assert gw.log_lines(rf" send ep={ep} records=5$")


def test_a_send_follows_the_mappings(gateway, mqtt, devsim, prefix):
    gw = gateway(extra_conf=(
        'mappings = (\n'
        '  { path = "/3/0/9"; topic = "{prefix}/{ep}/battery"; payload = "value"; '
        'retain = true; },\n'
        '  { path = "/3303/0"; topic = "{prefix}/{ep}/{object}"; payload = "instance"; }\n'
        ');\n'))
    r = devsim(gw.server, "register", "send:/3/0/9,/3303/0", "deregister", ep="mapped",
               rate=0)
    assert r.rc == 0, r
    mqtt.wait_for(f"{prefix}/mapped/event", lambda m: m.json()["event"] == "deregistered")
    mqtt.settle()
    msgs = mqtt.messages_for("mapped")[3:-3]
    assert [(m.topic, m.retain) for m in msgs] == [
        (f"{prefix}/mapped/battery", True), (f"{prefix}/mapped/temperature", False)], \
        summarize(msgs)
    assert msgs[0].payload == b"100"
    doc = msgs[1].json()
    registered_at = mqtt.on(f"{prefix}/mapped/registration")[0].json()["registered_at"]
    # rate 0: every value dates from the device's start, just before its Register (+1: the
    # device's time is rounded to the ms, registered_at cut)
    assert isinstance(doc["ts"], int), doc
    assert registered_at - 2000 <= doc["ts"] <= registered_at + 1, (doc, registered_at)
    assert doc == {"path": "/3303/0", "ts": doc["ts"], "object": "Temperature",
                   "values": {"min_measured_value": 20.0, "max_measured_value": 20.0,
                              "sensor_value": 20.0, "sensor_units": "Cel"}}, doc


def test_the_device_times_of_a_send_are_the_ts(gateway, mqtt, raw_device, prefix):
    gw = gateway()
    d = raw_device(gw.port, "timekeeper")
    d.register("</3/0>,</3303/0>")
    before = now_ms()
    senml = [{"bn": "/3303/0/", "bt": 1700000000.5, "n": "5700", "v": 21.25},
             {"n": "5700", "v": 21.75, "t": 60},
             {"bn": "/3/0/", "n": "9", "v": 42, "t": -0.25},
             {"n": "13", "v": 1699999999}]
    ans = d.post("/dp", json.dumps(senml).encode(), CF_SENML_JSON)
    assert ans is not None and ans.code == "2.04", ans
    # A record without any time takes the receive time; a small t is relative to now.
    ans = d.post("/dp", json.dumps([{"n": "/3303/0/5701", "vs": "Cel"},
                                    {"n": "/3303/0/5700", "v": 3.5, "t": -5}]).encode(),
                 CF_SENML_JSON)
    after = now_ms()
    assert ans is not None and ans.code == "2.04", ans
    mqtt.wait_count(lambda m: "/data/" in m.topic, 6)
    mqtt.settle()
    data = data_of(mqtt, "timekeeper")
    assert len(data) == 6, summarize(data)
    check_default(data[0], prefix, "timekeeper", "/3303/0/5700", 21.25, 1700000000500)
    check_default(data[1], prefix, "timekeeper", "/3303/0/5700", 21.75, 1700000060500)
    check_default(data[2], prefix, "timekeeper", "/3/0/9", 42, 1700000000250)
    check_default(data[3], prefix, "timekeeper", "/3/0/13", 1699999999, 1700000000500)
    now_ts = data[4].json()["ts"]
    assert before <= now_ts <= after + 1000, (now_ts, before, after)
    check_default(data[4], prefix, "timekeeper", "/3303/0/5701", "Cel", now_ts)
    rel = data[5].json()["ts"]
    assert before - 5000 <= rel <= after - 5000 + 1000, (rel, before, after)
    check_default(data[5], prefix, "timekeeper", "/3303/0/5700", 3.5, rel)


def test_a_send_in_senml_cbor_by_hand(gateway, mqtt, raw_device, prefix):
    """[{-2: "/3303/0/", -3: 1700000000, 0: "5700", 2: 22.5}] written out by hand."""
    gw = gateway()
    d = raw_device(gw.port, "cbor-hand")
    d.register("</3303/0>")
    import struct
    payload = (b"\x81\xa4"                                 # [ { 4 pairs
               b"\x21\x68/3303/0/"                          # bn (-2): "/3303/0/"
               b"\x22\x1a" + (1700000000).to_bytes(4, "big") +  # bt (-3): 1700000000
               b"\x00\x645700"                              # n (0): "5700"
               b"\x02\xfb" + struct.pack(">d", 22.5))         # v (2): 22.5 }]
    ans = d.post("/dp", payload, CF_SENML_CBOR)
    assert ans is not None and ans.code == "2.04", (ans, gw.log())
    mqtt.wait_count(lambda m: "/data/" in m.topic, 1)
    mqtt.settle()
    data = data_of(mqtt, "cbor-hand")
    assert len(data) == 1, summarize(data)
    check_default(data[0], prefix, "cbor-hand", "/3303/0/5700", 22.5, 1700000000000)


def test_a_send_from_an_address_without_registration_is_403(gateway, mqtt, coap,
                                                            raw_device, prefix):
    gw = gateway()
    a = coap(gw.port, "post", "/dp", payload='[{"n":"/3/0/9","v":5}]', content_format=110)
    assert a.code == "4.03", a
    assert a.payload, a
    line = gw.wait_log(r" send-rejected address=127\.0\.0\.1:\d+ code=4\.03 ")
    assert " warn " in line, line
    # A device that registered, then sends from another port (it rebooted, say): refused
    # too, and its registration is not touched.
    d = raw_device(gw.port, "moved")
    d.register("</3/0>")
    other = raw_device(gw.port, "moved")
    ans = other.post("/dp", b'[{"n":"/3/0/9","v":5}]', CF_SENML_JSON)
    assert ans is not None and ans.code == "4.03", ans
    # After a De-register, the old address is no one's any more.
    d.deregister()
    ans = d.post("/dp", b'[{"n":"/3/0/9","v":6}]', CF_SENML_JSON)
    assert ans is not None and ans.code == "4.03", ans
    mqtt.settle()
    assert len(gw.log_lines(r" send-rejected address=.* code=4\.03 ")) == 3, gw.log()
    assert [m for m in mqtt.all() if "/data/" in m.topic] == [], summarize(mqtt.all())


@pytest.mark.parametrize("cf,payload", [
    (CF_TLV, tlv_instance(0, {5700: 1.5})),
    (CF_TEXT, b"1.5"),
    (50, b'[{"n":"/3303/0/5700","v":1.5}]'),    # application/json is not SenML
    (None, b'[{"n":"/3303/0/5700","v":1.5}]'),  # no Content-Format at all
], ids=["tlv", "text", "json", "none"])
def test_a_send_that_is_not_senml_is_415(gateway, mqtt, raw_device, prefix, cf, payload):
    gw = gateway()
    d = raw_device(gw.port, "wrong-cf")
    d.register("</3303/0>")
    mqtt.wait_for(f"{prefix}/wrong-cf/event")
    ans = d.post("/dp", payload, cf)
    assert ans is not None and ans.code == "4.15", ans
    assert b"SenML" in ans.payload, ans
    line = gw.wait_log(r" send-rejected ep=wrong-cf code=4\.15 ")
    assert " warn " in line, line
    # The device is still registered and its next, good, Send goes through.
    ans = d.post("/dp", b'[{"n":"/3303/0/5700","v":2.5}]', CF_SENML_JSON)
    assert ans is not None and ans.code == "2.04", ans
    mqtt.wait_count(lambda m: "/data/" in m.topic, 1)
    mqtt.settle()
    data = data_of(mqtt, "wrong-cf")
    assert [m.json()["value"] for m in data] == [2.5], summarize(data)


@pytest.mark.parametrize("payload", [
    b'[{"n":"/3303/0/5700","v":1.5}',            # cut short
    b'{"n":"/3303/0/5700","v":1.5}',             # not an array
    b'[{"n":"/3303/0/5700","v":"1.5"}]',         # "v" must be a number
    b'[{"n":"/3303/zero/5700","v":1.5}]',        # not an LwM2M path
], ids=["truncated", "object", "v-string", "bad-path"])
def test_a_send_that_does_not_decode_is_400(gateway, mqtt, raw_device, prefix, payload):
    gw = gateway()
    d = raw_device(gw.port, "garbled")
    d.register("</3303/0>")
    mqtt.wait_for(f"{prefix}/garbled/event")
    ans = d.post("/dp", payload, CF_SENML_JSON)
    assert ans is not None and ans.code == "4.00", ans
    assert ans.payload, ans
    line = gw.wait_log(r" send-rejected ep=garbled code=4\.00 reason=")
    assert " warn " in line, line
    mqtt.settle()
    assert data_of(mqtt, "garbled") == [], summarize(mqtt.all())
