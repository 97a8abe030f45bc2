"""08 observe: after the Register answer the gateway writes the configured attributes and
observes what the device registered (SPEC 2 and 5); every notified value reaches the default
topic {prefix}/{ep}/data/{oid}/{iid}/{rid} as {"path","value","ts"} with the model's names;
an object observation is published per object instance; stale and malformed notifications
publish nothing; notifications nobody observes are reset; De-register stops the data and a
new Register observes afresh."""
import json
import os
import re
import time

import pytest

from conftest import (COAP_ACK, COAP_NON, COAP_RST, CF_SENML_JSON, CF_TEXT, CF_TLV,
                      OPT_BLOCK2, OPT_CONTENT_FORMAT, OPT_OBSERVE, coap_encode, coap_uint, now_ms,
                      summarize, timed_by_the_device, tlv, tlv_instance)

OBSERVE_CONF = ('observe = ( { path = "/3303"; pmin = 1; pmax = 2; },\n'
                '            { path = "/3/0/9"; } );\n')

# (object name, resource name, unit) of the resources these scenarios notify.
MODEL = {
    (1, 1): ("LwM2M Server", "Lifetime", "s"),
    (3, 9): ("Device", "Battery Level", "/100"),
    (3, 13): ("Device", "Current Time", None),
    (3303, 5700): ("Temperature", "Sensor Value", None),
    (3303, 5701): ("Temperature", "Sensor Units", None),
    (3303, 5601): ("Temperature", "Min Measured Value", None),
    (3303, 5602): ("Temperature", "Max Measured Value", None),
}


def data_topic(prefix: str, ep: str, path: str) -> str:
    return f"{prefix}/{ep}/data{path}"


def expected_doc(path: str, value, ts: int) -> dict:
    """The default payload of SPEC 3 for one value."""
    ids = [int(x) for x in path.strip("/").split("/")]
    doc = {"path": path, "value": value, "ts": ts}
    known = MODEL.get((ids[0], ids[2]))
    if known:
        obj, res, unit = known
        doc["object"] = obj
        doc["resource"] = res
        if unit:
            doc["unit"] = unit
    return doc


def check_data(msg, prefix: str, ep: str, path: str, value, before: int, after: int,
               ts=None) -> None:
    """`msg` is the default publication of `value` at `path`: exact topic, not retained,
    JSON with every field, `ts` equal to `ts` or else within [before, after]."""
    assert msg.topic == data_topic(prefix, ep, path), msg
    assert msg.retain is False, msg
    doc = msg.json()
    if ts is None:
        assert isinstance(doc.get("ts"), int), doc
        assert before - 1000 <= doc["ts"] <= after + 1000, (doc, before, after)
        ts = doc["ts"]
    assert doc == expected_doc(path, value, ts), doc
    assert type(doc["value"]) is type(value), doc


def data_msgs(mqtt, ep: str, since: int = 0):
    return [m for m in mqtt.messages_for(ep, since) if "/data/" in m.topic]


def lifecycle_leaves(mqtt, ep: str, since: int = 0):
    return [m.topic.rsplit("/", 1)[-1] for m in mqtt.messages_for(ep, since)
            if "/data/" not in m.topic]


# ---------------------------------------------------------------- by hand: the protocol


def test_attributes_then_observe_and_nothing_before_the_register_answer(gateway, mqtt,
                                                                        raw_device, prefix):
    gw = gateway(extra_conf=OBSERVE_CONF)
    d = raw_device(gw.port, "by-hand")
    before = now_ms()
    d.register("</1/0>,</3/0>,</3303/0>")
    answers = {"/3303": (tlv_instance(0, {5700: 21.5, 5701: "Cel"}), CF_TLV),
               "/3/0/9": (b"87", CF_TEXT)}
    d.serve(answers, until=lambda: len(d.tokens) == 2)
    assert d.before_register_reply == [], d.before_register_reply
    assert d.requests == [
        ("0.03", "/3303", ["pmin=1", "pmax=2"], None),   # Write-Attributes first
        ("0.01", "/3303", [], 0),                         # then Observe
        ("0.01", "/3/0/9", [], 0),                        # no attributes: Observe at once
    ], d.requests
    assert d.tokens["/3303"] != d.tokens["/3/0/9"]
    assert len(d.tokens["/3303"]) == len(d.tokens["/3/0/9"]) == 8
    mqtt.wait_count(lambda m: "/data/" in m.topic, 3)
    after = now_ms()
    mqtt.settle()
    assert lifecycle_leaves(mqtt, "by-hand") == ["status", "registration", "event"]
    got = data_msgs(mqtt, "by-hand")
    assert len(got) == 3, summarize(got)
    check_data(got[0], prefix, "by-hand", "/3303/0/5700", 21.5, before, after)
    check_data(got[1], prefix, "by-hand", "/3303/0/5701", "Cel", before, after)
    check_data(got[2], prefix, "by-hand", "/3/0/9", 87, before, after)
    assert gw.log_lines(r" observing ep=by-hand path=/3303 pmin=1 pmax=2")
    assert gw.log_lines(r" observing ep=by-hand path=/3/0/9 pmin=-1 pmax=-1")


def test_an_object_observation_is_published_per_instance(gateway, mqtt, raw_device, prefix):
    gw = gateway(extra_conf='observe = ( { path = "/3303"; } );\n')
    d = raw_device(gw.port, "two-sensors")
    before = now_ms()
    d.register("</3303/0>,</3303/1>")
    both = tlv_instance(0, {5700: 21.5, 5601: 19.0}) + tlv_instance(1, {5700: -4.25})
    d.serve({"/3303": (both, CF_TLV)}, until=lambda: "/3303" in d.tokens)
    mqtt.wait_count(lambda m: "/data/" in m.topic, 3)
    # A notification with instance 1 alone publishes instance 1 alone.
    d.notify("/3303", tlv_instance(1, {5700: -3.0}), CF_TLV, seq=2)
    mqtt.wait_count(lambda m: "/data/" in m.topic, 4)
    after = now_ms()
    mqtt.settle()
    got = data_msgs(mqtt, "two-sensors")
    # in the order of the notification's records
    assert [m.topic for m in got] == [
        data_topic(prefix, "two-sensors", "/3303/0/5700"),
        data_topic(prefix, "two-sensors", "/3303/0/5601"),
        data_topic(prefix, "two-sensors", "/3303/1/5700"),
        data_topic(prefix, "two-sensors", "/3303/1/5700"),
    ], summarize(got)
    by_path = {m.json()["path"]: m for m in got[:3]}
    check_data(by_path["/3303/0/5700"], prefix, "two-sensors", "/3303/0/5700", 21.5, before,
               after)
    check_data(by_path["/3303/0/5601"], prefix, "two-sensors", "/3303/0/5601", 19.0, before,
               after)
    check_data(by_path["/3303/1/5700"], prefix, "two-sensors", "/3303/1/5700", -4.25, before,
               after)
    check_data(got[3], prefix, "two-sensors", "/3303/1/5700", -3.0, before, after)


def test_the_device_time_of_a_senml_notification_is_the_ts(gateway, mqtt, raw_device, prefix):
    gw = gateway(extra_conf='observe = ( { path = "/3303/0"; } );\n')
    d = raw_device(gw.port, "timed")
    d.register("</3303/0>")
    first = [{"bn": "/3303/0/", "bt": 1700000000.25, "n": "5700", "v": 18.5},
             {"n": "5701", "vs": "Cel", "t": 1.5}]
    d.serve({"/3303/0": (json.dumps(first).encode(), CF_SENML_JSON)},
            until=lambda: "/3303/0" in d.tokens)
    mqtt.wait_count(lambda m: "/data/" in m.topic, 2)
    mqtt.settle()
    got = data_msgs(mqtt, "timed")
    assert [m.json()["path"] for m in got] == ["/3303/0/5700", "/3303/0/5701"], summarize(got)
    check_data(got[0], prefix, "timed", "/3303/0/5700", 18.5, 0, 0, ts=1700000000250)
    check_data(got[1], prefix, "timed", "/3303/0/5701", "Cel", 0, 0, ts=1700000001750)


def test_a_stale_notification_is_dropped(gateway, mqtt, raw_device, prefix):
    """RFC 7641 section 3.4: a notification with an older Observe number than the last one
    taken (within 128 s) is discarded, whatever it carries."""
    gw = gateway(extra_conf='observe = ( { path = "/3303/0/5700"; } );\n')
    d = raw_device(gw.port, "stale")
    before = now_ms()
    d.register("</3303/0>")
    d.serve({"/3303/0/5700": (b"20.0", CF_TEXT)}, until=lambda: bool(d.tokens), seq=10)
    mqtt.wait_count(lambda m: "/data/" in m.topic, 1)
    assert d.notify("/3303/0/5700", b"21.5", CF_TEXT, seq=11, confirmable=True).mtype \
        == COAP_ACK
    stale = d.notify("/3303/0/5700", b"99.0", CF_TEXT, seq=5, confirmable=True)
    # The notification is acknowledged (it is no error to be late), and not published.
    assert stale is not None and stale.mtype == COAP_ACK, stale
    d.notify("/3303/0/5700", b"22.5", CF_TEXT, seq=12)
    mqtt.wait_count(lambda m: "/data/" in m.topic, 3)
    after = now_ms()
    mqtt.settle()
    got = data_msgs(mqtt, "stale")
    assert len(got) == 3, summarize(got)
    for msg, value in zip(got, [20.0, 21.5, 22.5]):
        check_data(msg, prefix, "stale", "/3303/0/5700", value, before, after)
    assert gw.log_lines(r" notification-stale ep=stale path=/3303/0/5700 seq=5 last=11")


BROKEN_TLVS = [
    ("truncated", tlv_instance(0, {5700: 21.5})[:-3]),
    ("length-past-end", bytes([0x08, 0x00, 0x20]) + tlv(3, 5700, b"\x00" * 8)),
    ("float-of-3-bytes", tlv(0, 0, tlv(3, 5700, b"\x01\x02\x03"))),
]


@pytest.mark.parametrize("broken", [b for _, b in BROKEN_TLVS],
                         ids=[n for n, _ in BROKEN_TLVS])
def test_a_malformed_notification_is_logged_and_publishes_nothing(gateway, mqtt, raw_device,
                                                                   prefix, broken):
    gw = gateway(extra_conf='observe = ( { path = "/3303"; } );\n')
    good, bad = raw_device(gw.port, "healthy"), raw_device(gw.port, "broken")
    before = now_ms()
    good.register("</3303/0>")
    bad.register("</3303/0>")
    good.serve({"/3303": (tlv_instance(0, {5700: 20.5}), CF_TLV)},
               until=lambda: bool(good.tokens))
    # The answer to the Observe itself is broken: logged, nothing published...
    bad.serve({"/3303": (broken, CF_TLV)}, until=lambda: bool(bad.tokens))
    line = gw.wait_log(r" notification-rejected ep=broken ")
    assert " warn " in line and " path=/3303 " in line and " format=11542 " in line, line
    assert re.search(r' reason="[^"]+"', line), line
    # ...and so is a broken notification after it (still acknowledged: the observation
    # lives on), while a good one publishes.
    assert bad.notify("/3303", broken, CF_TLV, seq=2, confirmable=True).mtype == COAP_ACK
    assert bad.notify("/3303", tlv_instance(0, {5700: 30.5}), CF_TLV, seq=3,
                      confirmable=True).mtype == COAP_ACK
    good.notify("/3303", tlv_instance(0, {5700: 21.5}), CF_TLV, seq=2)
    mqtt.wait_count(lambda m: "/data/" in m.topic, 3)
    after = now_ms()
    mqtt.settle()
    assert len(gw.log_lines(r" notification-rejected ep=broken ")) == 2, gw.log()
    assert not gw.log_lines(r" notification-rejected ep=healthy ")
    # counted: the second rejection says it is the second since start
    assert [re.search(r" rejected_total=(\d+) ", ln).group(1)
            for ln in gw.log_lines(r" notification-rejected ")] == ["1", "2"], gw.log()
    bad_data = data_msgs(mqtt, "broken")
    assert len(bad_data) == 1, summarize(bad_data)
    check_data(bad_data[0], prefix, "broken", "/3303/0/5700", 30.5, before, after)
    good_data = data_msgs(mqtt, "healthy")
    assert len(good_data) == 2, summarize(good_data)
    check_data(good_data[0], prefix, "healthy", "/3303/0/5700", 20.5, before, after)
    check_data(good_data[1], prefix, "healthy", "/3303/0/5700", 21.5, before, after)
    assert gw.proc.poll() is None


def test_a_block_wise_notification_is_reassembled(gateway, mqtt, raw_device, prefix):
    """RFC 7959 section 2.6: an answer to the Observe, and a notification, too big for one
    block come as their first block (Block2 num 0, more); the gateway fetches the rest and
    publishes the whole body once."""
    gw = gateway(extra_conf='observe = ( { path = "/3303"; } );\n')
    d = raw_device(gw.port, "chunky")
    n = 10
    unit = "degrees Celsius, as measured by the probe at the far end of the cable " * 2

    def body(base: float) -> bytes:
        return b"".join(tlv_instance(i, {5700: base + i * 0.25, 5701: unit}) for i in range(n))

    first, second = body(10.5), body(-7.75)
    assert len(first) > 1024 and len(first) % 256 != 0, len(first)
    blocks = -(-len(first) // 256)
    before = now_ms()
    d.register(",".join(f"</3303/{i}>" for i in range(n)))
    d.serve({"/3303": (first, CF_TLV)}, block_size=256,
            until=lambda: len(data_msgs(mqtt, "chunky")) >= 2 * n)
    # block 0 answered the Observe; libcoap asked for every further block in turn
    assert [b[0] for b in d.request_block2 if b is not None] == list(range(1, blocks)), \
        (d.requests, d.request_block2)
    assert d.requests[0] == ("0.01", "/3303", [], 0), d.requests
    assert all(r[:2] == ("0.01", "/3303") for r in d.requests), d.requests
    # a notification in blocks too: block 0 under the Observe token, the rest on demand
    mark = mqtt.mark()
    d.send(coap_encode(COAP_NON, "2.05", d.next_mid(), d.tokens["/3303"],
                       [(OPT_OBSERVE, coap_uint(2)), (OPT_CONTENT_FORMAT, coap_uint(CF_TLV)),
                        (OPT_BLOCK2, coap_uint((0 << 4) | (1 << 3) | 4))], second[:256]))
    asked = len(d.requests)
    d.serve({"/3303": (second, CF_TLV)}, block_size=256,
            until=lambda: len(data_msgs(mqtt, "chunky", mark)) >= 2 * n)
    assert [b[0] for b in d.request_block2[asked:] if b is not None] == \
        list(range(1, blocks)), (d.requests, d.request_block2)
    after = now_ms()
    mqtt.settle()
    got = data_msgs(mqtt, "chunky")
    expected = []
    for base in (10.5, -7.75):
        for i in range(n):
            expected += [(f"/3303/{i}/5700", base + i * 0.25), (f"/3303/{i}/5701", unit)]
    check_stream(got, prefix, "chunky", expected, before, after)
    assert not gw.log_lines(r"notification-rejected|notification-unknown"), gw.log()


def test_notifications_nobody_observes_are_reset(gateway, mqtt, raw_device, prefix):
    gw = gateway(extra_conf='observe = ( { path = "/3303/0/5700"; } );\n')
    d, other = raw_device(gw.port, "owner"), raw_device(gw.port, "intruder")
    d.register("</3303/0>")
    other.register("</3/0>")
    d.serve({"/3303/0/5700": (b"20.0", CF_TEXT)}, until=lambda: bool(d.tokens))
    mqtt.wait_count(lambda m: "/data/" in m.topic, 1)
    mark = mqtt.mark()
    # A token the gateway never gave out.
    r = d.notify("/3303/0/5700", b"1.0", CF_TEXT, seq=2, confirmable=True,
                 token=os.urandom(8))
    assert r is not None and r.mtype == COAP_RST, r
    # Non-confirmable too: RFC 7641 section 3.6 lets the client reject it with RST.
    r = d.notify("/3303/0/5700", b"1.5", CF_TEXT, seq=2, token=os.urandom(8), reply_wait=2.0)
    assert r is not None and r.mtype == COAP_RST, r
    # The right token from the wrong device.
    r = other.notify("/3303/0/5700", b"2.0", CF_TEXT, seq=2, confirmable=True,
                     token=d.tokens["/3303/0/5700"])
    assert r is not None and r.mtype == COAP_RST, r
    # The owner's own goes through.
    assert d.notify("/3303/0/5700", b"3.0", CF_TEXT, seq=3, confirmable=True).mtype \
        == COAP_ACK
    mqtt.wait_count(lambda m: "/data/" in m.topic, 1, since=mark)
    mqtt.settle()
    got = data_msgs(mqtt, "owner", mark)
    assert [m.json()["value"] for m in got] == [3.0], summarize(got)
    assert data_msgs(mqtt, "intruder") == []


def test_deregister_ends_the_observations(gateway, mqtt, raw_device, prefix):
    gw = gateway(extra_conf='observe = ( { path = "/3303/0/5700"; } );\n')
    d = raw_device(gw.port, "leaver")
    d.register("</3303/0>")
    d.serve({"/3303/0/5700": (b"20.0", CF_TEXT)}, until=lambda: bool(d.tokens))
    mqtt.wait_count(lambda m: "/data/" in m.topic, 1)
    token = d.tokens["/3303/0/5700"]
    d.deregister()
    mqtt.wait_for(f"{prefix}/leaver/event", lambda m: m.json()["event"] == "deregistered")
    # Whatever the device still sends for the old observation is reset, never published.
    r = d.notify("/3303/0/5700", b"21.0", CF_TEXT, seq=2, confirmable=True, token=token)
    assert r is not None and r.mtype == COAP_RST, r
    mqtt.settle()
    leaves = [m.topic[len(f"{prefix}/leaver/"):] for m in mqtt.messages_for("leaver")]
    assert leaves == ["status", "registration", "event", "data/3303/0/5700", "status",
                      "registration", "event"], leaves


def test_a_new_register_observes_afresh(gateway, mqtt, raw_device, prefix):
    gw = gateway(extra_conf='observe = ( { path = "/3303/0/5700"; } );\n')
    d = raw_device(gw.port, "again")
    before = now_ms()
    d.register("</3303/0>")
    d.serve({"/3303/0/5700": (b"20.0", CF_TEXT)}, until=lambda: bool(d.tokens))
    old = d.tokens["/3303/0/5700"]
    mqtt.wait_count(lambda m: "/data/" in m.topic, 1)
    d.register("</3303/0>")   # same endpoint, same address: replaces the registration
    d.serve({"/3303/0/5700": (b"25.0", CF_TEXT)}, until=lambda: bool(d.tokens))
    new = d.tokens["/3303/0/5700"]
    assert new != old
    assert d.before_register_reply == []
    assert [r[:2] for r in d.requests] == [("0.01", "/3303/0/5700")] * 2, d.requests
    r = d.notify("/3303/0/5700", b"99.0", CF_TEXT, seq=2, confirmable=True, token=old)
    assert r is not None and r.mtype == COAP_RST, r
    assert d.notify("/3303/0/5700", b"26.0", CF_TEXT, seq=2, confirmable=True).mtype \
        == COAP_ACK
    mqtt.wait_count(lambda m: "/data/" in m.topic, 3)
    after = now_ms()
    mqtt.settle()
    got = data_msgs(mqtt, "again")
    assert len(got) == 3, summarize(got)
    for msg, value in zip(got, [20.0, 25.0, 26.0]):
        check_data(msg, prefix, "again", "/3303/0/5700", value, before, after)
    assert lifecycle_leaves(mqtt, "again") == ["status", "registration", "event",
                                               "status", "registration", "event"]


def test_a_device_without_the_object_gets_no_observation(gateway, mqtt, raw_device, prefix):
    gw = gateway(extra_conf=OBSERVE_CONF)
    d = raw_device(gw.port, "no-sensor")
    d.register("</1/0>,</3/0>")
    # Serve a while longer: whatever else came would be answered 4.04 and listed.
    stop = time.monotonic() + 1.0
    d.serve({"/3/0/9": (b"50", CF_TEXT)}, until=lambda: time.monotonic() >= stop)
    assert d.requests == [("0.01", "/3/0/9", [], 0)], d.requests
    assert not gw.log_lines(r"ep=no-sensor path=/3303")


# ---------------------------------------------------------------- devsim: a device that lives

DEVSIM_FORMATS = ["tlv", "senml-json", "senml-cbor", "json"]
# For the scenarios that wait for pmax: the same, faster.
FAST_CONF = 'observe = ( { path = "/3303"; pmax = 1; }, { path = "/3/0/9"; } );\n'


def sensor_values(iid: int = 0, value: float = None) -> list:
    """What a devsim Temperature instance notifies while its value stands still (--rate 0):
    Min, Max and Sensor Value at 20.0 (+ iid for instance iid), and the units."""
    v = 20.0 + iid if value is None else value
    return [(f"/3303/{iid}/5601", v), (f"/3303/{iid}/5602", v), (f"/3303/{iid}/5700", v),
            (f"/3303/{iid}/5701", "Cel")]


def check_stream(msgs, prefix: str, ep: str, expected: list, before: int, after: int):
    """`msgs` are exactly the default publications of `expected` [(path, value)], in order."""
    assert [m.topic for m in msgs] == [data_topic(prefix, ep, p) for p, _ in expected], \
        summarize(msgs)
    for m, (path, value) in zip(msgs, expected):
        check_data(m, prefix, ep, path, value, before, after)


def finished(mqtt, prefix: str, ep: str) -> None:
    """Waits for the `deregistered` event of `ep` (devsim's last action), then for quiet."""
    mqtt.wait_for(f"{prefix}/{ep}/event", lambda m: m.json()["event"] == "deregistered")
    mqtt.settle()


def split_at_event(mqtt, ep: str, event: str):
    """The messages of `ep` before and after its (first) `event` event."""
    msgs = mqtt.messages_for(ep)
    at = next(i for i, m in enumerate(msgs)
              if m.topic.endswith("/event") and m.json()["event"] == event)
    return msgs[:at + 1], msgs[at + 1:]


def test_a_devsim_device_is_observed_in_every_format(gateway, mqtt, devsim, prefix):
    """One device per content format (--format), side by side on one gateway."""
    gw = gateway(extra_conf=OBSERVE_CONF)
    before = now_ms()
    sims = {fmt: devsim.start(gw.server, "register", "serve:2.3", "deregister",
                              ep=f"sim-{fmt}", rate=0, format=fmt, trace=True)
            for fmt in DEVSIM_FORMATS}
    results = {fmt: sim.wait() for fmt, sim in sims.items()}
    after = now_ms()
    for fmt, r in results.items():
        ep = f"sim-{fmt}"
        assert r.rc == 0, r
        # devsim's own order: nothing reached the device before it had its 2.01.
        assert r.records[0]["op"] == "register" and r.records[0]["code"] == "2.01", r
        requests = [{k: v for k, v in t.items() if k not in ("ep", "event", "t")}
                    for t in r.trace("request")]
        assert requests == [
            {"method": "PUT", "path": "/3303", "query": "pmin=1&pmax=2", "code": "2.04"},
            {"method": "GET", "path": "/3303", "code": "2.05", "observe": 0, "format": fmt},
            {"method": "GET", "path": "/3/0/9", "code": "2.05", "observe": 0, "format": fmt},
        ], r
        # pmax 2: the value stands still, yet one notification comes at 2 s
        assert [(n["path"], n["type"], n["format"]) for n in r.trace("notify")] == [
            ("/3303", "non", fmt)], r
        mqtt.wait_for(f"{prefix}/{ep}/event", lambda m: m.json()["event"] == "deregistered")
    mqtt.settle()
    for fmt in DEVSIM_FORMATS:
        ep = f"sim-{fmt}"
        msgs = mqtt.messages_for(ep)
        leaves = [m.topic.rsplit("/", 1)[-1] for m in msgs if "/data/" not in m.topic]
        assert leaves == ["status", "registration", "event"] * 2, (fmt, summarize(msgs))
        check_stream(msgs[3:-3], prefix, ep,
                     sensor_values() + [("/3/0/9", 100)] + sensor_values(), before, after)


def test_pmax_is_honoured_with_confirmable_notifications(gateway, mqtt, devsim, prefix):
    gw = gateway(extra_conf=FAST_CONF)
    before = now_ms()
    r = devsim(gw.server, "register", "serve:2.4", "deregister", ep="steady", rate=0,
               notify="con", trace=True)
    after = now_ms()
    assert r.rc == 0, r
    notes = r.trace("notify")
    assert [(n["path"], n["type"]) for n in notes] == [("/3303", "con")] * 2, r
    finished(mqtt, prefix, "steady")
    _, data = split_at_event(mqtt, "steady", "registered")
    data = [m for m in data if "/data/" in m.topic]
    check_stream(data, prefix, "steady",
                 sensor_values() + [("/3/0/9", 100)] + sensor_values() * 2, before, after)
    # about every pmax, measured at the subscriber
    at = [m.at for m in data if m.topic.endswith("/5700")]
    gaps = [b - a for a, b in zip(at, at[1:])]
    assert len(gaps) == 2 and all(0.7 <= g <= 1.6 for g in gaps), gaps
    # confirmable: every one acknowledged, none sent twice
    assert not gw.log_lines(r"notification-unknown|notification-stale"), gw.log()


@timed_by_the_device
def test_pmin_holds_back_a_value_that_changes_often(gateway, mqtt, devsim, prefix):
    gw = gateway(extra_conf=OBSERVE_CONF)
    before = now_ms()
    r = devsim(gw.server, "register", "serve:3.3", "deregister", ep="busy", rate=5,
               trace=True)
    after = now_ms()
    assert r.rc == 0, r
    notes = r.trace("notify")
    sensor_notes = [n for n in notes if n["path"] == "/3303"]
    battery_notes = [n for n in notes if n["path"] == "/3/0/9"]
    assert len(sensor_notes) == 3, r          # at 1, 2 and 3 s: pmin 1
    assert 12 <= len(battery_notes) <= 18, r   # no pmin: every change (5 a second)
    finished(mqtt, prefix, "busy")
    _, data = split_at_event(mqtt, "busy", "registered")
    data = [m for m in data if "/data/" in m.topic]
    sensor = [m for m in data if "/3303/" in m.topic]
    battery = [m for m in data if m.topic.endswith("/3/0/9")]
    # one publication per value notified, no more, no less
    assert len(sensor) == 4 * (1 + len(sensor_notes)), summarize(sensor)
    assert len(battery) == 1 + len(battery_notes), summarize(battery)
    for m in data:
        assert m.topic == data_topic(prefix, "busy", m.json()["path"])
    # the values: a battery that drains one percent a change, a walking temperature kept
    # between its min and max, each instance notified whole
    levels = [m.json()["value"] for m in battery]
    # (the first change may come before the Observe: 99 then)
    assert levels[0] in (100, 99) and all(b < a for a, b in zip(levels, levels[1:])), levels
    for m in battery:
        check_data(m, prefix, "busy", "/3/0/9", m.json()["value"], before, after)
    for i in range(0, len(sensor), 4):
        batch = sensor[i:i + 4]
        values = [m.json()["value"] for m in batch]
        lo, hi, v, unit = values
        expected = [("/3303/0/5601", lo), ("/3303/0/5602", hi), ("/3303/0/5700", v),
                    ("/3303/0/5701", "Cel")]
        check_stream(batch, prefix, "busy", expected, before, after)
        assert lo <= v <= hi and isinstance(v, float), values
    walked = [m.json()["value"] for m in sensor if m.topic.endswith("/5700")]
    assert abs(walked[0] - 20.0) <= 0.5 and len(set(walked)) > 1, walked
    at = [m.at for m in sensor if m.topic.endswith("/5700")]
    assert all(b - a >= 0.75 for a, b in zip(at, at[1:])), at


@timed_by_the_device
def test_devsim_rate_after_holds_the_changes_back(gateway, mqtt, devsim, prefix):
    """devsim --rate-after S (the benchmarks' floods): the device registers and is observed at
    once, and its values start changing S seconds after devsim started, no sooner."""
    gw = gateway(extra_conf=OBSERVE_CONF)
    r = devsim(gw.server, "register", "serve:2.5", "deregister", ep="later", rate=5,
               trace=True, extra=("--rate-after", "1.5"))
    assert r.rc == 0, r
    battery = [n for n in r.trace("notify") if n["path"] == "/3/0/9"]
    # changes at 1.5, 1.7, ... until the serve ends (2.5 s after the Register, itself
    # answered within a fraction of a second): 6 or 7, each notified (no pmin), the first
    # at 1.5 s, neither sooner nor much later
    assert 4 <= len(battery) <= 9, r
    assert 1.5 <= min(n["t"] for n in battery) < 1.8, battery
    finished(mqtt, prefix, "later")
    _, data = split_at_event(mqtt, "later", "registered")
    levels = [m.json()["value"] for m in data if m.topic.endswith("/3/0/9")]
    # the value the Observe found, the one devsim started with, then one per change
    assert levels[0] == 100 and len(levels) == 1 + len(battery), levels


def test_a_devsim_object_with_two_instances(gateway, mqtt, devsim, prefix):
    gw = gateway(extra_conf=OBSERVE_CONF)
    before = now_ms()
    r = devsim(gw.server, "register", "serve:0.3", "deregister", ep="pair", rate=0,
               objects="</3/0>,</3303/0>,</3303/1>", trace=True)
    after = now_ms()
    assert r.rc == 0, r
    finished(mqtt, prefix, "pair")
    _, data = split_at_event(mqtt, "pair", "registered")
    data = [m for m in data if "/data/" in m.topic]
    check_stream(data, prefix, "pair", sensor_values(0) + sensor_values(1) + [("/3/0/9", 100)],
                 before, after)


def test_a_devsim_device_without_the_object(gateway, mqtt, devsim, prefix):
    gw = gateway(extra_conf=OBSERVE_CONF)
    before = now_ms()
    r = devsim(gw.server, "register", "serve:0.5", "deregister", ep="plain", rate=0,
               objects="</1/0>,</3/0>", trace=True)
    after = now_ms()
    assert r.rc == 0, r
    assert [(t["method"], t["path"]) for t in r.trace("request")] == [("GET", "/3/0/9")], r
    finished(mqtt, prefix, "plain")
    _, data = split_at_event(mqtt, "plain", "registered")
    check_stream([m for m in data if "/data/" in m.topic], prefix, "plain", [("/3/0/9", 100)],
                 before, after)
    assert not gw.log_lines(r"ep=plain path=/3303")


def test_deregister_stops_the_data_of_a_devsim_device(gateway, mqtt, devsim, prefix):
    """devsim does not forget its observers on De-register: its next notification is reset
    by the gateway (libcoap then drops the observer) and never published."""
    gw = gateway(extra_conf=FAST_CONF)
    r = devsim(gw.server, "register", "serve:0.5", "deregister", "serve:1.2", ep="gone",
               rate=0, trace=True)
    assert r.rc == 0, r
    dereg = r.records.index(r.one("deregister"))
    late = [t for t in r.records[dereg:] if t.get("event") == "notify"]
    assert [(t["path"], t["type"]) for t in late] == [("/3303", "non")], r
    address = mqtt.on(f"{prefix}/gone/registration")[0].json()["address"]
    gw.wait_log(rf" notification-unknown address={re.escape(address)} ")
    finished(mqtt, prefix, "gone")
    _, after_dereg = split_at_event(mqtt, "gone", "deregistered")
    assert after_dereg == [], summarize(after_dereg)


def test_register_again_observes_afresh_with_devsim(gateway, mqtt, devsim, prefix):
    gw = gateway(extra_conf=FAST_CONF)
    before = now_ms()
    r = devsim(gw.server, "register", "serve:0.3", "register", "serve:1.4", "deregister",
               ep="twice", rate=0, trace=True)
    after = now_ms()
    assert r.rc == 0, r
    regs = [i for i, t in enumerate(r.records) if t.get("op") == "register"]
    assert len(regs) == 2, r
    second = r.records[regs[1]:]
    # the configured observations again, after the second 2.01 only
    assert [(t["method"], t["path"]) for t in second if t.get("event") == "request"] == [
        ("PUT", "/3303"), ("GET", "/3303"), ("GET", "/3/0/9")], r
    rounds = [t for t in second if t.get("event") == "notify"]
    assert [t["path"] for t in rounds] == ["/3303"], r
    finished(mqtt, prefix, "twice")
    msgs = mqtt.messages_for("twice")
    leaves = [m.topic.rsplit("/", 1)[-1] for m in msgs if "/data/" not in m.topic]
    assert leaves == ["status", "registration", "event"] * 3, summarize(msgs)
    first_data = [m for m in msgs[3:6 + 4 + 1] if "/data/" in m.topic]
    check_stream(first_data, prefix, "twice", sensor_values() + [("/3/0/9", 100)], before, after)
    at = next(i for i, m in enumerate(msgs) if m.topic.endswith("/event") and i > 3)
    check_stream(msgs[at + 1:-3], prefix, "twice",
                 sensor_values() + [("/3/0/9", 100)] + sensor_values(), before, after)


def test_a_malformed_notification_leaves_a_devsim_neighbour_alone(gateway, mqtt, devsim,
                                                                  raw_device, prefix):
    gw = gateway(extra_conf=OBSERVE_CONF)
    before = now_ms()
    sim = devsim.start(gw.server, "register", "serve:2.5", "deregister", ep="neighbour",
                       rate=4, trace=True)
    bad = raw_device(gw.port, "garbler")
    bad.register("</3303/0>")
    bad.serve({"/3303": (tlv_instance(0, {5700: 1.0}), CF_TLV)}, until=lambda: bool(bad.tokens))
    for seq in range(2, 12):
        # claims 32 bytes, has 1
        bad.notify("/3303", b"\xc8\x00\x20\x01", CF_TLV, seq=seq, reply_wait=0.1)
        time.sleep(0.1)
    r = sim.wait()
    after = now_ms()
    assert r.rc == 0, r
    finished(mqtt, prefix, "neighbour")
    assert len(gw.log_lines(r" notification-rejected ep=garbler ")) == 10, gw.log()
    assert not gw.log_lines(r" notification-rejected ep=neighbour ")
    garbled = data_msgs(mqtt, "garbler")
    check_stream(garbled, prefix, "garbler", [("/3303/0/5700", 1.0)], before, after)
    notes = r.trace("notify")
    data = data_msgs(mqtt, "neighbour")
    sensor = [n for n in notes if n["path"] == "/3303"]
    battery = [n for n in notes if n["path"] == "/3/0/9"]
    assert len([m for m in data if "/3303/" in m.topic]) == 4 * (1 + len(sensor)), \
        summarize(data)
    assert len([m for m in data if m.topic.endswith("/3/0/9")]) == 1 + len(battery), \
        summarize(data)


def test_an_observe_that_went_unanswered_is_sent_again_at_the_next_update(gateway, mqtt,
                                                                          raw_device, prefix):
    """The device takes no notice of the Observe nor of its retransmission (both lost on the
    way): the gateway gives up, logs it, and sends the Observe again, under a new token, once
    the device is heard from with an Update; the value is then published."""
    gw = gateway(lwm2m_conf="  ack_timeout = 0.5;\n  max_retransmit = 1;\n",
                 extra_conf='observe = ( { path = "/3303/0/5700"; } );\n')
    d = raw_device(gw.port, "lostobs")
    d.register("</3303/0>")
    gw.wait_log(r"request-unanswered ep=lostobs op=observe reason=timeout", 30)
    assert not mqtt.on(f"{prefix}/lostobs/data/3303/0/5700")

    def observe_tokens():
        return {t for t, r in zip(d.request_tokens, d.requests)
                if r[:2] == ("0.01", "/3303/0/5700") and r[3] == 0}

    answer = d.request("0.02", d.location)   # Update, no parameters
    assert answer is not None and answer.code == "2.04", answer
    d.serve({"/3303/0/5700": (b"21.5", CF_TEXT)}, until=lambda: len(observe_tokens()) == 2)
    msg = mqtt.wait_for(f"{prefix}/lostobs/data/3303/0/5700")
    assert msg.json()["value"] == 21.5, msg.json()
    assert gw.log_lines(r" observing ep=lostobs path=/3303/0/5700 ")


def test_objects_added_or_removed_in_an_update_are_observed_or_let_go(gateway, mqtt,
                                                                       raw_device, prefix):
    """A device registers without the object a rule observes: nothing is observed. Its Update
    then lists the object: the rule's Observe goes out and the value is published. A later
    Update no longer lists it: the observation is cancelled (GET with Observe=1)."""
    gw = gateway(extra_conf='observe = ( { path = "/3303/0/5700"; } );\n')
    d = raw_device(gw.port, "grows")
    d.register("</3/0>")
    quiet_until = time.monotonic() + 1.0
    d.serve({}, until=lambda: time.monotonic() > quiet_until)
    assert not [r for r in d.requests if r[1] == "/3303/0/5700"], d.requests

    def observes(value):
        return [r for r in d.requests if r[:2] == ("0.01", "/3303/0/5700") and r[3] == value]

    links = [(OPT_CONTENT_FORMAT, coap_uint(40))]
    answer = d.request("0.02", d.location, links, b"</3/0>,</3303/0>")
    assert answer is not None and answer.code == "2.04", answer
    d.serve({"/3303/0/5700": (b"22.5", CF_TEXT)}, until=lambda: len(observes(0)) == 1)
    msg = mqtt.wait_for(f"{prefix}/grows/data/3303/0/5700")
    assert msg.json()["value"] == 22.5, msg.json()

    answer = d.request("0.02", d.location, links, b"</3/0>")
    assert answer is not None and answer.code == "2.04", answer
    d.serve({"/3303/0/5700": (b"22.5", CF_TEXT)}, until=lambda: len(observes(1)) == 1)
    assert gw.log_lines(r" observe-cancel ep=grows path=/3303/0/5700")
    assert len(observes(0)) == 1, d.requests


def test_a_silent_observation_is_observed_again(gateway, raw_device, prefix):
    """An observation that stays silent well past its pmax (max(2 pmax, pmax + 5 s)) is
    started again under a new token (SPEC 5)."""
    gw = gateway(extra_conf='observe = ( { path = "/3303/0/5700"; pmax = 1; } );\n')
    d = raw_device(gw.port, "quiet")
    d.register("</3303/0>")
    answers = {"/3303/0/5700": (b"20.5", CF_TEXT)}
    d.serve(answers, until=lambda: bool(d.tokens))
    first = d.tokens["/3303/0/5700"]
    start = time.monotonic()

    def observes():
        return [i for i, r in enumerate(d.requests) if r[1] == "/3303/0/5700" and r[3] == 0]

    # The device never notifies after its answer to the Observe.
    d.serve(answers, until=lambda: len(observes()) == 2, timeout=12)
    waited = time.monotonic() - start
    assert 5 <= waited <= 9, waited
    again = observes()[1]
    assert d.request_tokens[again] != first, (d.request_tokens, first)
    assert gw.log_lines(r" observation-silent ep=quiet path=/3303/0/5700 pmax=1 ")
