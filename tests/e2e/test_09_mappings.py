"""09 mappings: the `mappings` rules of SPEC 2 decide where each notified value goes and in
what shape: payload kinds "value" (bare text, retained when asked), "json", "instance" (one
JSON object per object instance) and "senml"; `*` for one path level; endpoint globs; topic
variables, {object} and {resource} from the model's names; the first matching rule wins and
values no rule takes go to the default topic {prefix}/{ep}/data/{oid}/{iid}/{rid}."""
import json

from conftest import (CF_SENML_JSON, Collector, CF_TEXT, CF_TLV, now_ms, retained, summarize, tlv,
                      tlv_instance)

SENSORS = tlv_instance(0, {5700: 21.5, 5701: "Cel"}) + tlv_instance(1, {5700: -4.25})


def observe_conf(*paths: str) -> str:
    return "observe = ( " + ", ".join(f'{{ path = "{p}"; }}' for p in paths) + " );\n"


def mappings_conf(*rules: str) -> str:
    return "mappings = (\n  " + ",\n  ".join(rules) + "\n);\n"


def start_device(raw_device, gw, ep: str, links: str, answers: dict):
    """A hand-made device that registers and answers the gateway's Observes with `answers`
    ({path: (payload, content format)})."""
    d = raw_device(gw.port, ep)
    d.register(links)
    d.serve(answers, until=lambda: len(d.tokens) == len(answers))
    return d


def in_window(ts, before: int, after: int) -> bool:
    return isinstance(ts, int) and before - 1000 <= ts <= after + 1000


def default_doc(path: str, value, ts: int, obj: str, res: str, unit=None) -> dict:
    doc = {"path": path, "value": value, "ts": ts, "object": obj, "resource": res}
    if unit:
        doc["unit"] = unit
    return doc


def test_value_payload_retained_for_a_late_subscriber(gateway, mqtt, raw_device, broker,
                                                       prefix):
    gw = gateway(extra_conf=observe_conf("/3303") + mappings_conf(
        '{ path = "/3303/*/5700"; topic = "{prefix}/{ep}/temperature/{iid}"; '
        'payload = "value"; retain = true; }'))
    before = now_ms()
    d = start_device(raw_device, gw, "thermo", "</3303/0>,</3303/1>",
                     {"/3303": (SENSORS, CF_TLV)})
    mqtt.wait_count(lambda m: "/thermo/temperature/" in m.topic, 2)
    d.notify("/3303", tlv_instance(0, {5700: 22.0}), CF_TLV, seq=2)
    mqtt.wait_for(f"{prefix}/thermo/temperature/0", lambda m: m.payload == b"22.0")
    after = now_ms()
    mqtt.settle()
    msgs = mqtt.messages_for("thermo")[3:]
    assert [(m.topic, m.payload, m.retain) for m in msgs if m.topic.endswith(("/0", "/1"))] \
        == [(f"{prefix}/thermo/temperature/0", b"21.5", True),
            (f"{prefix}/thermo/temperature/1", b"-4.25", True),
            (f"{prefix}/thermo/temperature/0", b"22.0", True)], summarize(msgs)
    # 5701 matches no rule: the default topic, as JSON, not retained.
    rest = [m for m in msgs if "/data/" in m.topic]
    assert [(m.topic, m.retain) for m in rest] == [
        (f"{prefix}/thermo/data/3303/0/5701", False)], summarize(msgs)
    doc = rest[0].json()
    assert in_window(doc["ts"], before, after), doc
    assert doc == default_doc("/3303/0/5701", "Cel", doc["ts"], "Temperature", "Sensor Units")
    assert len(msgs) == 4, summarize(msgs)
    # A subscriber that comes later gets the last value of each, and nothing else.
    held = retained(broker, f"{prefix}/thermo/temperature/#")
    assert held == {f"{prefix}/thermo/temperature/0": b"22.0",
                    f"{prefix}/thermo/temperature/1": b"-4.25"}, held


def test_value_payload_of_each_type(gateway, mqtt, raw_device, prefix):
    """The bare value as text: integers and floats as JSON writes them (a float stays a
    float), booleans true/false, strings as their bytes, object links "oid:iid", time as
    integer seconds (opaque: see the unknown object below)."""
    gw = gateway(extra_conf=observe_conf("/3/0") + mappings_conf(
        '{ path = "/3/0"; topic = "{prefix}/{ep}/dev/{rid}"; payload = "value"; }',
        '{ path = "/3/0/6"; topic = "{prefix}/{ep}/never"; }'))   # never reached: rule 1 wins
    device = tlv(0, 0, tlv(3, 0, b"Acme") + tlv(3, 9, bytes([87])) +
                 tlv(3, 13, (1700000000).to_bytes(4, "big")) +
                 tlv(2, 6, tlv(1, 0, bytes([1])) + tlv(1, 1, bytes([5]))) +
                 tlv(3, 10, (-15).to_bytes(2, "big", signed=True)) +
                 tlv(3, 22, bytes([0, 3, 0, 1])))
    start_device(raw_device, gw, "values", "</3/0>", {"/3/0": (device, CF_TLV)})
    mqtt.wait_count(lambda m: "/dev/" in m.topic, 5)
    mqtt.settle()
    got = [(m.topic, m.payload, m.retain) for m in mqtt.messages_for("values")[3:]]
    t = f"{prefix}/values/dev/"
    # 6 (Available Power Sources) is a multiple resource: each instance is a value of its
    # own, and both go to the topic of their {rid}.
    assert got == [(t + "0", b"Acme", False), (t + "9", b"87", False),
                   (t + "13", b"1700000000", False), (t + "6", b"1", False),
                   (t + "6", b"5", False), (t + "10", b"-15", False),
                   (t + "22", b"3:1", False)], got


def test_json_payload_on_a_topic_of_its_own(gateway, mqtt, raw_device, prefix):
    gw = gateway(extra_conf=observe_conf("/3/0/9") + mappings_conf(
        '{ path = "/3/0/9"; topic = "{prefix}/{ep}/battery"; payload = "json"; }'))
    before = now_ms()
    start_device(raw_device, gw, "batt", "</3/0>", {"/3/0/9": (b"64", CF_TEXT)})
    m = mqtt.wait_for(f"{prefix}/batt/battery")
    after = now_ms()
    mqtt.settle()
    assert m.retain is False
    doc = m.json()
    assert in_window(doc.get("ts"), before, after), doc
    assert doc == default_doc("/3/0/9", 64, doc["ts"], "Device", "Battery Level", "/100")
    assert len(mqtt.messages_for("batt")) == 4, summarize(mqtt.messages_for("batt"))


def test_instance_payload_one_object_per_instance(gateway, mqtt, raw_device, prefix):
    gw = gateway(extra_conf=observe_conf("/3303") + mappings_conf(
        '{ path = "/3303"; topic = "{prefix}/{ep}/{object}/{iid}"; payload = "instance"; }'))
    before = now_ms()
    d = start_device(raw_device, gw, "inst", "</3303/0>,</3303/1>",
                     {"/3303": (SENSORS, CF_TLV)})
    mqtt.wait_count(lambda m: "/temperature/" in m.topic, 2)
    d.notify("/3303", tlv_instance(1, {5700: -5.0, 5601: -9.5}), CF_TLV, seq=2)
    mqtt.wait_count(lambda m: "/temperature/" in m.topic, 3)
    after = now_ms()
    mqtt.settle()
    msgs = mqtt.messages_for("inst")[3:]
    assert [(m.topic, m.retain) for m in msgs] == [
        (f"{prefix}/inst/temperature/0", False), (f"{prefix}/inst/temperature/1", False),
        (f"{prefix}/inst/temperature/1", False)], summarize(msgs)
    docs = [m.json() for m in msgs]
    for doc in docs:
        assert in_window(doc.get("ts"), before, after), doc
    assert docs == [
        {"path": "/3303/0", "ts": docs[0]["ts"], "object": "Temperature",
         "values": {"sensor_value": 21.5, "sensor_units": "Cel"}},
        {"path": "/3303/1", "ts": docs[1]["ts"], "object": "Temperature",
         "values": {"sensor_value": -4.25}},
        {"path": "/3303/1", "ts": docs[2]["ts"], "object": "Temperature",
         "values": {"min_measured_value": -9.5, "sensor_value": -5.0}},
    ], docs
    # values in resource id order
    assert list(docs[2]["values"]) == ["min_measured_value", "sensor_value"]


def test_senml_payload(gateway, mqtt, raw_device, prefix):
    gw = gateway(extra_conf=observe_conf("/3303") + mappings_conf(
        '{ path = "/3303/*/5700"; topic = "{prefix}/{ep}/senml"; payload = "senml"; }'))
    d = start_device(raw_device, gw, "sml", "</3303/0>,</3303/1>",
                     {"/3303": (SENSORS, CF_TLV)})
    mqtt.wait_count(lambda m: m.topic.endswith("/senml"), 2)
    # A SenML notification with the device's own times keeps them.
    d.notify("/3303", json.dumps([
        {"bn": "/3303/", "bt": 1700000000, "n": "0/5700", "v": 23.5},
        {"n": "1/5700", "v": -6.0, "t": 0.5}]).encode(), CF_SENML_JSON, seq=2)
    mqtt.wait_count(lambda m: m.topic.endswith("/senml"), 4)
    mqtt.settle()
    msgs = mqtt.messages_for("sml")[3:]
    # An object notification is split per instance: one array per instance.
    senml = [m for m in msgs if m.topic == f"{prefix}/sml/senml"]
    assert len(senml) == 4, summarize(msgs)
    arrays = [m.json() for m in senml]
    for a in arrays[:2]:
        assert len(a) == 1 and isinstance(a[0].get("t"), (int, float)), a
    assert [{k: v for k, v in a[0].items() if k != "t"} for a in arrays[:2]] == [
        {"n": "/3303/0/5700", "v": 21.5}, {"n": "/3303/1/5700", "v": -4.25}], arrays
    assert arrays[2:] == [[{"n": "/3303/0/5700", "v": 23.5, "t": 1700000000}],
                          [{"n": "/3303/1/5700", "v": -6.0, "t": 1700000000.5}]], arrays
    # 5701 is not /3303/*/5700: default topic.
    assert [m.topic for m in msgs if m not in senml] == [f"{prefix}/sml/data/3303/0/5701"]


def test_endpoint_glob(gateway, mqtt, raw_device, prefix):
    gw = gateway(extra_conf=observe_conf("/3303/0/5700") + mappings_conf(
        '{ path = "/3303"; endpoint = "meter-*"; topic = "{prefix}/meters/{ep}/{rid}"; '
        'payload = "value"; }'))
    start_device(raw_device, gw, "meter-17", "</3303/0>", {"/3303/0/5700": (b"1.5", CF_TEXT)})
    start_device(raw_device, gw, "sensor-17", "</3303/0>",
                 {"/3303/0/5700": (b"2.5", CF_TEXT)})
    start_device(raw_device, gw, "my-meter-1", "</3303/0>",
                 {"/3303/0/5700": (b"3.5", CF_TEXT)})
    mqtt.wait_for(f"{prefix}/meters/meter-17/5700")
    mqtt.wait_for(f"{prefix}/sensor-17/data/3303/0/5700")
    mqtt.wait_for(f"{prefix}/my-meter-1/data/3303/0/5700")
    mqtt.settle()
    data = [(m.topic, m.payload if "/meters/" in m.topic else m.json()["value"])
            for m in mqtt.all() if "/data/" in m.topic or "/meters/" in m.topic]
    assert sorted(data) == sorted([(f"{prefix}/meters/meter-17/5700", b"1.5"),
                                   (f"{prefix}/sensor-17/data/3303/0/5700", 2.5),
                                   (f"{prefix}/my-meter-1/data/3303/0/5700", 3.5)]), data


def test_topic_variables(gateway, mqtt, raw_device, broker, prefix):
    other = Collector(broker, f"{prefix}-x/#")   # a topic outside {prefix}
    try:
        check_topic_variables(gateway, mqtt, raw_device, prefix, other)
    finally:
        other.close()


def check_topic_variables(gateway, mqtt, raw_device, prefix, other):
    gw = gateway(extra_conf=observe_conf("/3303/0", "/3/0") + mappings_conf(
        '{ path = "/3303/0/5700"; topic = "{prefix}/{ep}/{object}/{resource}"; '
        'payload = "value"; }',
        '{ path = "/3303/*/5701"; topic = "{prefix}-x/{ep}/{oid}/{iid}/{rid}"; '
        'payload = "value"; }',
        '{ path = "/3/0/7"; topic = "{prefix}/{ep}/volt/{riid}"; payload = "value"; }',
        '{ path = "/3/0/6"; topic = "{prefix}/{ep}/{object}/{rid}/{riid}/{resource}"; '
        'payload = "value"; }'))
    dev = tlv(0, 0, tlv(2, 6, tlv(1, 0, bytes([1])) + tlv(1, 2, bytes([5]))) +
              tlv(2, 7, tlv(1, 0, (3800).to_bytes(2, "big")) + tlv(1, 2, (5000).to_bytes(2,
                                                                                       "big"))))
    start_device(raw_device, gw, "vars", "</3/0>,</3303/0>",
                 {"/3303/0": (tlv_instance(0, {5700: 21.5, 5701: "Cel"}), CF_TLV),
                  "/3/0": (dev, CF_TLV)})
    topics = {f"{prefix}/vars/temperature/sensor_value": b"21.5",
              f"{prefix}-x/vars/3303/0/5701": b"Cel",
              f"{prefix}/vars/volt/0": b"3800", f"{prefix}/vars/volt/2": b"5000",
              f"{prefix}/vars/device/6/0/available_power_sources": b"1",
              f"{prefix}/vars/device/6/2/available_power_sources": b"5"}
    mqtt.wait_count(lambda m: m.topic in topics, len(topics) - 1)
    other.wait_for(f"{prefix}-x/vars/3303/0/5701")
    mqtt.settle()
    got = [(m.topic, m.payload) for m in mqtt.messages_for("vars")[3:] + other.all()]
    assert sorted(got) == sorted(topics.items()), got
    assert not [m for m in mqtt.all() if "/data/" in m.topic], summarize(mqtt.all())


def test_first_match_wins_and_the_rest_goes_to_the_default_topic(gateway, mqtt, raw_device,
                                                                  prefix):
    gw = gateway(extra_conf=observe_conf("/3303") + mappings_conf(
        '{ path = "/3303/1"; topic = "{prefix}/{ep}/second-sensor/{rid}"; payload = "value"; }',
        '{ path = "/3303/*/5700"; topic = "{prefix}/{ep}/t/{iid}"; payload = "value"; }',
        '{ path = "/3303/0/5700"; topic = "{prefix}/{ep}/never"; payload = "value"; }'))
    before = now_ms()
    start_device(raw_device, gw, "first", "</3303/0>,</3303/1>",
                 {"/3303": (SENSORS, CF_TLV)})
    mqtt.wait_count(lambda m: m.topic.startswith(f"{prefix}/first/") and
                    m.topic.count("/") >= 3, 3)
    after = now_ms()
    mqtt.settle()
    msgs = mqtt.messages_for("first")[3:]
    assert [(m.topic, m.payload if "/data/" not in m.topic else None) for m in msgs] == [
        (f"{prefix}/first/t/0", b"21.5"),
        (f"{prefix}/first/data/3303/0/5701", None),
        (f"{prefix}/first/second-sensor/5700", b"-4.25"),
    ], summarize(msgs)
    doc = msgs[1].json()
    assert in_window(doc["ts"], before, after)
    assert doc == default_doc("/3303/0/5701", "Cel", doc["ts"], "Temperature", "Sensor Units")


def test_an_unknown_object_goes_by_ids_and_opaque_values(gateway, mqtt, raw_device, prefix):
    """SPEC 5: objects the model does not know are published with their paths; TLV values
    are opaque (base64), SenML ones keep their SenML type; {object} and {resource} fall back
    to the ids."""
    gw = gateway(extra_conf=observe_conf("/32769/0", "/32770/0") + mappings_conf(
        '{ path = "/32769/0/2"; topic = "{prefix}/{ep}/{object}/{resource}"; '
        'payload = "value"; }'))
    before = now_ms()
    senml = [{"bn": "/32770/0/", "n": "1", "vs": "on"}, {"n": "2", "v": 7.5},
             {"n": "3", "vb": True}]
    start_device(raw_device, gw, "exotic", "</32769/0>,</32770/0>",
                 {"/32769/0": (tlv(0, 0, tlv(3, 1, b"\x00\xffhi") + tlv(3, 2, b"\x01\x02\x03")),
                               CF_TLV),
                  "/32770/0": (json.dumps(senml).encode(), CF_SENML_JSON)})
    mqtt.wait_count(lambda m: "/exotic/" in m.topic and "/32" in m.topic, 5)
    after = now_ms()
    mqtt.settle()
    msgs = mqtt.messages_for("exotic")[3:]
    assert [m.topic for m in msgs] == [
        f"{prefix}/exotic/data/32769/0/1", f"{prefix}/exotic/32769/2",
        f"{prefix}/exotic/data/32770/0/1", f"{prefix}/exotic/data/32770/0/2",
        f"{prefix}/exotic/data/32770/0/3"], summarize(msgs)
    assert msgs[1].payload == b"AQID"
    docs = [m.json() for i, m in enumerate(msgs) if i != 1]
    for doc in docs:
        assert in_window(doc.get("ts"), before, after), doc
    assert docs == [
        {"path": "/32769/0/1", "value": "AP9oaQ==", "ts": docs[0]["ts"]},
        {"path": "/32770/0/1", "value": "on", "ts": docs[1]["ts"]},
        {"path": "/32770/0/2", "value": 7.5, "ts": docs[2]["ts"]},
        {"path": "/32770/0/3", "value": True, "ts": docs[3]["ts"]},
    ], docs


def test_every_payload_kind_from_a_devsim_device(gateway, mqtt, devsim, broker, prefix):
    """Values that change in devsim (two changes a second, notified at once), each kind on
    its own part of the device: the battery as a retained bare value, Sensor Value 0 as JSON,
    the rest of instance 0 as "instance", instance 1 as "senml"."""
    gw = gateway(extra_conf=observe_conf("/3303", "/3/0/9") + mappings_conf(
        '{ path = "/3/0/9"; topic = "{prefix}/{ep}/battery"; payload = "value"; '
        'retain = true; }',
        '{ path = "/3303/0/5700"; topic = "{prefix}/{ep}/{object}/{resource}"; '
        'payload = "json"; }',
        '{ path = "/3303/0"; topic = "{prefix}/{ep}/{object}/{iid}"; payload = "instance"; }',
        '{ path = "/3303/1"; topic = "{prefix}/{ep}/senml/{iid}"; payload = "senml"; }'))
    before = now_ms()
    r = devsim(gw.server, "register", "serve:1.3", "deregister", ep="kinds", rate=2,
               objects="</3/0>,</3303/0>,</3303/1>", trace=True)
    after = now_ms()
    assert r.rc == 0, r
    mqtt.wait_for(f"{prefix}/kinds/event", lambda m: m.json()["event"] == "deregistered")
    mqtt.settle()
    # the answer to each Observe, then each notification
    sensor_rounds = 1 + len([t for t in r.trace("notify") if t["path"] == "/3303"])
    battery_rounds = 1 + len([t for t in r.trace("notify") if t["path"] == "/3/0/9"])
    assert sensor_rounds >= 3 and battery_rounds >= 3, r
    msgs = mqtt.messages_for("kinds")[3:-3]
    t = f"{prefix}/kinds/"
    by_topic = {}
    for m in msgs:
        by_topic.setdefault(m.topic[len(t):], []).append(m)
    assert sorted(by_topic) == ["battery", "senml/1", "temperature/0",
                                "temperature/sensor_value"], summarize(msgs)
    assert len(by_topic["battery"]) == battery_rounds, summarize(msgs)
    for topic in ("senml/1", "temperature/0", "temperature/sensor_value"):
        assert len(by_topic[topic]) == sensor_rounds, (topic, summarize(msgs))
    # value: the battery drains, retained
    levels = [int(m.payload) for m in by_topic["battery"]]
    assert all(m.retain for m in by_topic["battery"]), by_topic["battery"]
    assert [str(v).encode() for v in levels] == [m.payload for m in by_topic["battery"]]
    assert all(b == a - 1 for a, b in zip(levels, levels[1:])), levels
    # json, instance, senml: one of each per notification, in that order, the values of one
    # instant
    walked = []
    for j, (js, inst, sml) in enumerate(zip(by_topic["temperature/sensor_value"],
                                            by_topic["temperature/0"], by_topic["senml/1"])):
        assert not (js.retain or inst.retain or sml.retain)
        doc = js.json()
        assert in_window(doc.get("ts"), before, after), doc
        assert doc == default_doc("/3303/0/5700", doc["value"], doc["ts"], "Temperature",
                                  "Sensor Value"), doc
        value = doc["value"]
        walked.append(value)
        idoc = inst.json()
        assert idoc["ts"] == doc["ts"], (idoc, doc)
        assert idoc == {"path": "/3303/0", "ts": doc["ts"], "object": "Temperature",
                        "values": {"min_measured_value": idoc["values"]["min_measured_value"],
                                   "max_measured_value": idoc["values"]["max_measured_value"],
                                   "sensor_units": "Cel"}}, idoc
        lo, hi = idoc["values"]["min_measured_value"], idoc["values"]["max_measured_value"]
        assert isinstance(lo, float) and isinstance(hi, float) and lo <= value <= hi, idoc
        arr = sml.json()
        assert [rec["n"] for rec in arr] == [f"/3303/1/{rid}" for rid in
                                             (5601, 5602, 5700, 5701)], arr
        # One notification, one receive time for every instance split off it.
        t1 = arr[0]["t"]
        assert {rec["t"] for rec in arr} == {t1}, arr
        assert round(t1 * 1000) == doc["ts"], (arr, doc)
        assert arr[3] == {"n": "/3303/1/5701", "vs": "Cel", "t": t1}, arr
        lo1, hi1, v1 = (rec["v"] for rec in arr[:3])
        assert lo1 <= v1 <= hi1 and set(arr[0]) == {"n", "v", "t"}, arr
    assert len(set(walked)) == len(walked), walked    # it changed every time
    # a late subscriber gets the last battery level only
    held = retained(broker, f"{prefix}/kinds/#")
    assert held.get(f"{prefix}/kinds/battery") == str(levels[-1]).encode(), held
