#!/usr/bin/env python3
"""make_seeds.py - writes the seed corpora of the content-format fuzz targets
(tests/fuzz/corpus/{tlv,senml_json,senml_cbor,oma_json,rawcbor,text}/): real payloads, mostly the
worked examples of the LwM2M TS Core (TLV 7.4.3, SenML JSON 7.4.4, SenML CBOR 7.4.5, LwM2M JSON
1.0 6.4.4), plus a few refused ones. Each file is one input of roundtrip.h: byte 0 picks the
request path (the index into rt_bases; bit 7 set: no object model), fuzz_text.c's byte 1 the format, the rest is the payload.
Also the hand-made seeds of fuzz_coap (corpus/coap/; capture_coap.py adds devsim's real
traffic) and the requests of fuzz_mqtt_inbound (corpus/mqtt_inbound/, those of
tests/e2e/test_12_requests.py), in the record forms their files describe.
Run it again after changing a seed or rt_bases; files it does not write (crash reproducers) stay.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# Indices into rt_bases in roundtrip.h.
ROOT, DEV, DEV0, MANUF, VOLT, VOLT1, TIME = 0, 1, 2, 3, 4, 5, 6
TEMP, TEMP0, SENSOR, SERVER0, APN_LINKS, PUBKEY, UNKNOWN0, UNKNOWN_RES = 7, 8, 9, 10, 11, 12, 13, 14
BATTERY, STORING = 15, 16
NO_MODEL = 0x80  # or-ed into byte 0: decode and encode without the object model

# ---- TLV ----

def tlv(kind, ident, value):
    """One TLV: kind 0 instance, 1 resource instance, 2 multiple resource, 3 resource."""
    t = kind << 6
    head = b""
    if ident > 0xFF:
        t |= 0x20
        head += struct.pack(">H", ident)
    else:
        head += bytes([ident])
    n = len(value)
    if n <= 7:
        t |= n
    elif n <= 0xFF:
        t |= 0x08
        head += bytes([n])
    elif n <= 0xFFFF:
        t |= 0x10
        head += struct.pack(">H", n)
    else:
        t |= 0x18
        head += struct.pack(">I", n)[1:]
    return bytes([t]) + head + value


def res(i, v):
    return tlv(3, i, v)


def multi(i, *insts):
    return tlv(2, i, b"".join(tlv(1, k, v) for k, v in insts))


# TS Core, TLV examples, "Single Object Instance Request" (Read /3/0): the spec's exact bytes.
DEVICE_INSTANCE = bytes.fromhex(
    "C800144F70656E204D6F62696C6520416C6C69616E6365"
    "C801164C69676874776569676874204D324D20436C69656E74"
    "C80209333435303030313233"
    "C303312E30"
    "86064100014101 05".replace(" ", "") +
    "8807084200 0ED842011388".replace(" ", "") +
    "870841007D42010384"
    "C10964"
    "C10A0F"
    "830B410000"
    "C40D5182428F"
    "C60E2B30323A3030"
    "C11055")
F = lambda x: struct.pack(">f", x)
D = lambda x: struct.pack(">d", x)

TEMP_INSTANCE = (res(5700, F(21.5)) + res(5701, b"Cel") + res(5601, F(-10.0)) +
                 res(5602, D(35.7)) + res(5603, F(-40.0)) + res(5604, F(125.0)))

TLV = {
    "spec_device_instance": (DEV0, DEVICE_INSTANCE),
    "spec_device_object": (DEV, tlv(0, 0, DEVICE_INSTANCE)),
    "spec_device_instance_no_model": (DEV0 | NO_MODEL, DEVICE_INSTANCE),
    "device_resources_at_object": (DEV, res(9, b"\x64") + res(1, b"M2M")),
    "spec_voltage_multiple": (VOLT, multi(7, (0, b"\x0e\xd8"), (1, b"\x13\x88"))),
    "voltage_instance": (VOLT1, tlv(1, 1, b"\x13\x88")),
    "spec_current_time": (TIME, res(13, b"\x51\x82\x42\x8f")),
    "time_8_bytes": (TIME, res(13, struct.pack(">q", 1700000000123))),
    "temperature_notification": (TEMP0, TEMP_INSTANCE),
    "temperature_two_instances": (TEMP, tlv(0, 0, TEMP_INSTANCE) + tlv(0, 1, res(5700, D(-3.25)))),
    "sensor_value_float": (SENSOR, res(5700, F(21.5))),
    "sensor_value_double": (SENSOR, res(5700, D(22.4))),
    "server_instance": (SERVER0, res(0, b"\x01") + res(1, struct.pack(">I", 86400)) +
                        res(6, b"\x01") + res(7, b"U") + res(10, b"\x00\x0b\x00\x00") +
                        res(11, b"\xff") + res(4, b"")),
    "objlnk_multiple": (APN_LINKS, multi(24, (0, b"\x00\x0b\x00\x00"), (1, b"\x00\x0b\x00\x01"))),
    "opaque_key": (PUBKEY, res(3, bytes(range(40)))),
    "unknown_object": (UNKNOWN0, res(1, b"\xab\xcd") + res(2, b"\x05") + multi(3, (0, b"x"))),
    # TS Core objlnk example, object 66 instance 0 (its bytes), read where the model knows nothing
    "spec_objlnk_66_untyped": (UNKNOWN0, bytes.fromhex(
        "88000C440000420000440100420001C8010D38363133383030373535353030C40212345678")),
    "unknown_resource": (UNKNOWN_RES, res(1, b"\x00\x01\x02")),
    "battery_1_byte": (BATTERY, res(9, b"\x64")),
    "battery_8_bytes": (BATTERY, res(9, struct.pack(">q", -2))),
    "boolean": (STORING, res(6, b"\x00")),
    "empty_instance": (DEV0, b""),
    "empty_multiple": (VOLT, tlv(2, 7, b"")),
    # 16- and 24-bit length fields holding small lengths (not minimal, still valid)
    "length_16bit": (UNKNOWN_RES, bytes([0xD0, 0x01, 0x00, 0x03]) + b"abc"),
    "length_24bit": (UNKNOWN_RES, bytes([0xD8, 0x01, 0x00, 0x00, 0x03]) + b"abc"),
    "long_string_16bit_length": (MANUF, res(0, b"z" * 300)),
    "refused_truncated": (DEV0, DEVICE_INSTANCE[:41]),
    "refused_nested_instance": (DEV0, tlv(0, 0, tlv(0, 0, res(1, b"x")))),
}

# ---- SenML JSON ----

SENML_DEVICE = [
    {"bn": "/3/0/", "n": "0", "vs": "Open Mobile Alliance"}, {"n": "1", "vs": "Lightweight M2M Client"},
    {"n": "2", "vs": "345000123"}, {"n": "3", "vs": "1.0"}, {"n": "6/0", "v": 1}, {"n": "6/1", "v": 5},
    {"n": "7/0", "v": 3800}, {"n": "7/1", "v": 5000}, {"n": "8/0", "v": 125}, {"n": "8/1", "v": 900},
    {"n": "9", "v": 100}, {"n": "10", "v": 15}, {"n": "11/0", "v": 0}, {"n": "13", "v": 1367491215},
    {"n": "14", "vs": "+02:00"}, {"n": "16", "vs": "U"}]
SENML_LINKS = [
    {"bn": "/", "n": "65/0/0/0", "vlo": "66:0"}, {"n": "65/0/0/1", "vlo": "66:1"},
    {"n": "65/0/1", "vs": "8613800755500"}, {"n": "65/0/2", "v": 1},
    {"n": "66/0/0", "vs": "myService1"}, {"n": "66/0/1", "vs": "Internet.15.234"},
    {"n": "66/0/2", "vlo": "67:0"}, {"n": "66/1/0", "vs": "myService2"},
    {"n": "66/1/1", "vs": "Internet.15.235"}, {"n": "66/1/2", "vlo": "65535:65535"},
    {"n": "67/0/0", "vs": "85.76.76.84"}, {"n": "67/0/1", "vs": "85.76.255.255"}]
SENML_TEMP = [
    {"bn": "/3303/0/", "bt": 1700000000, "n": "5700", "v": 21.5}, {"n": "5701", "vs": "Cel"},
    {"n": "5601", "v": -10.0}, {"n": "5602", "v": 35.7}]
SENML_SERIES = [
    {"bn": "/3303/0/5700", "bt": 1700000000, "v": 21.5, "t": -60}, {"v": 21.75, "t": -30},
    {"v": 22.0}]

# Packs with binary values (vd) are written here in SenML JSON's base64url; senml_cbor() turns
# vd into bytes.
SENML = {
    "spec_device_read": (DEV0, SENML_DEVICE),
    "spec_device_read_at_root": (ROOT, SENML_DEVICE),
    "spec_device_read_no_model": (DEV0 | NO_MODEL, SENML_DEVICE),
    "spec_time_series_72": (ROOT, [{"bn": "/72/", "bt": 25462634, "n": "1/2", "v": 22.4, "t": -5},
                                   {"n": "1/2", "v": 22.9, "t": -30}, {"n": "1/2", "v": 24.1, "t": -50}]),
    "spec_object_links": (ROOT, SENML_LINKS),
    "spec_single_resource": (MANUF, [{"bn": "/3/0/0", "vs": "Open Mobile Alliance"}]),
    "spec_read_composite_request": (ROOT, [{"n": "/3/0/0"}, {"n": "/3/0/9"}, {"n": "/1/0/1"}]),
    "spec_read_composite_response": (ROOT, [{"n": "/3/0/0", "vs": "Open Mobile Alliance"},
                                            {"n": "/3/0/9", "v": 95}, {"n": "/1/0/1", "v": 86400}]),
    "spec_write_composite": (ROOT, [{"n": "/3311/0/5850", "vb": False}, {"n": "/3311/1/5850", "vb": False},
                                    {"n": "/3311/2/5851", "v": 20}, {"n": "/3308/0/5900", "v": 18}]),
    "temperature_notification": (TEMP0, SENML_TEMP),
    "temperature_series": (SENSOR, SENML_SERIES),
    "current_time": (TIME, [{"bn": "/3/0/13", "v": 1700000000}]),
    "voltage_instances": (VOLT, [{"bn": "/3/0/7/", "n": "0", "v": 3800}, {"n": "1", "v": 5000}]),
    "objlnk_multiple": (APN_LINKS, [{"bn": "/1/0/24/", "n": "0", "vlo": "11:0"}, {"n": "1", "vlo": "11:1"}]),
    "opaque_key": (PUBKEY, [{"bn": "/0/0/3", "vd": "AAECAwQFBgcICQ"}]),
    "server_instance": (SERVER0, [{"bn": "/1/0/", "n": "0", "v": 1}, {"n": "1", "v": 86400},
                                  {"n": "6", "vb": True}, {"n": "7", "vs": "U"}, {"n": "10", "vlo": "11:0"}]),
    "unknown_every_type": (UNKNOWN0, [{"bn": "/32000/0/", "n": "1", "v": 3}, {"n": "2", "v": 3.25},
                                      {"n": "3", "vs": "x"}, {"n": "4", "vb": True}, {"n": "5", "vd": "AQID"},
                                      {"n": "6", "vlo": "3:0"}, {"n": "7"}, {"n": "8", "v": 1e300}]),
    "base_value_and_units": (ROOT, [{"bv": 100, "bu": "%", "n": "/3/0/9", "v": -1, "bver": 10},
                                    {"n": "/3303/0/5700", "v": 0.5, "u": "Cel"}]),
    "refused_outside_base": (DEV0, [{"n": "/3303/0/5700", "v": 1}]),
}

SENML_LABELS = {"bver": -1, "bn": -2, "bt": -3, "bu": -4, "bv": -5, "bs": -6, "n": 0, "u": 1,
                "v": 2, "vs": 3, "vb": 4, "s": 5, "t": 6, "ut": 7, "vd": 8}


def b64url_decode(s):
    import base64
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | extra]) + struct.pack(fmt, n)
    raise ValueError(n)


def cbor(x):
    """Deterministic CBOR: shortest integers, lengths and floats (RFC 8949 section 4.2)."""
    if x is True or x is False:
        return b"\xf5" if x else b"\xf4"
    if isinstance(x, int):
        return cbor_head(0, x) if x >= 0 else cbor_head(1, -1 - x)
    if isinstance(x, float):
        for fmt, ib in ((">e", 0xF9), (">f", 0xFA), (">d", 0xFB)):
            try:
                packed = struct.pack(fmt, x)
            except OverflowError:
                continue
            if struct.unpack(fmt, packed)[0] == x:
                return bytes([ib]) + packed
    if isinstance(x, bytes):
        return cbor_head(2, len(x)) + x
    if isinstance(x, str):
        b = x.encode()
        return cbor_head(3, len(b)) + b
    if isinstance(x, list):
        return cbor_head(4, len(x)) + b"".join(cbor(i) for i in x)
    if isinstance(x, dict):
        return cbor_head(5, len(x)) + b"".join(cbor(k) + cbor(v) for k, v in x.items())
    raise TypeError(x)


def senml_cbor(pack):
    out = []
    for rec in pack:
        m = {}
        for k, v in rec.items():
            if k == "vd":
                v = b64url_decode(v)
            m[SENML_LABELS.get(k, k)] = v
        out.append(m)
    return cbor(out)


# ---- LwM2M JSON (1.0) ----

def oma(bn, entries, bt=None):
    doc = {}
    if bn is not None:
        doc["bn"] = bn
    doc["e"] = entries
    if bt is not None:
        doc["bt"] = bt
    return doc


OMA_DEVICE = oma("/3/0/", [
    {"n": "0", "sv": "Open Mobile Alliance"}, {"n": "1", "sv": "Lightweight M2M Client"},
    {"n": "2", "sv": "345000123"}, {"n": "3", "sv": "1.0"}, {"n": "6/0", "v": 1}, {"n": "6/1", "v": 5},
    {"n": "7/0", "v": 3800}, {"n": "7/1", "v": 5000}, {"n": "8/0", "v": 125}, {"n": "8/1", "v": 900},
    {"n": "9", "v": 100}, {"n": "10", "v": 15}, {"n": "11/0", "v": 0}, {"n": "13", "v": 1367491215},
    {"n": "14", "sv": "+02:00"}, {"n": "15", "sv": "U"}])

OMA = {
    "spec_device_read": (DEV0, OMA_DEVICE),
    "spec_device_read_at_object": (DEV, OMA_DEVICE),
    "spec_device_read_no_model": (DEV0 | NO_MODEL, OMA_DEVICE),
    "spec_time_series": (ROOT, oma(None, [{"n": "72/1/2", "v": 22.4, "t": -5}, {"n": "72/1/2", "v": 22.9, "t": -30},
                                          {"n": "72/1/2", "v": 24.1, "t": -50}], bt=25462634)),
    "spec_object_links": (ROOT, oma("/", [{"n": "65/0/0/0", "ov": "66:0"}, {"n": "65/0/0/1", "ov": "66:1"},
                                          {"n": "65/0/1", "sv": "8613800755500"}, {"n": "65/0/2", "v": 1},
                                          {"n": "66/0/0", "sv": "myService 1"}, {"n": "66/0/2", "ov": "67:0"},
                                          {"n": "66/1/2", "ov": "65535:65535"}])),
    "relative_to_request": (DEV0, oma(None, [{"n": "0", "sv": "Open Mobile Alliance"}, {"n": "6/0", "v": 1}])),
    "temperature_notification": (TEMP0, oma("/3303/0/", [{"n": "5700", "v": 21.5, "t": 0}, {"n": "5701", "sv": "Cel"},
                                                         {"n": "5601", "v": -10.0}, {"n": "5602", "v": 35.7}],
                                            bt=1700000000)),
    "temperature_series": (SENSOR, oma("/3303/0/5700", [{"v": 22.9, "t": -30}, {"v": 22.4, "t": -5}], bt=25462634)),
    "single_resource": (MANUF, oma(None, [{"sv": "Open Mobile Alliance"}])),
    "opaque_base64": (PUBKEY, oma("/0/0/3", [{"sv": "AQIDBAU="}])),
    "server_instance": (SERVER0, oma("/1/0/", [{"n": "0", "v": 1}, {"n": "6", "bv": True}, {"n": "7", "sv": "U"},
                                              {"n": "10", "ov": "11:0"}])),
    "unknown_every_type": (UNKNOWN0, oma("/32000/0/", [{"n": "1", "v": 3}, {"n": "2", "v": 3.5},
                                                       {"n": "3", "sv": "AQID"}, {"n": "4", "bv": False},
                                                       {"n": "5", "ov": "1:2"}])),
    "refused_no_entries": (DEV0, {"bn": "/3/0/"}),
}

# ---- CBOR (60), one value ----

RAWCBOR = {
    "manufacturer_text": (MANUF, cbor("Open Mobile Alliance")),
    "battery_uint": (BATTERY, cbor(100)),
    "current_time_tag1": (TIME, b"\xc1" + cbor(1367491215)),
    "current_time_plain": (TIME, cbor(1367491215)),
    "current_time_no_model": (TIME | NO_MODEL, b"\xc1" + cbor(1367491215)),
    "sensor_half_float": (SENSOR, cbor(21.5)),
    "sensor_double": (SENSOR, cbor(22.4)),
    "sensor_integer": (SENSOR, cbor(-40)),
    "voltage_instance": (VOLT1, cbor(5000)),
    "objlnk_text": (APN_LINKS, cbor("11:0")),
    "opaque_bytes": (PUBKEY, cbor(bytes(range(20)))),
    "boolean": (STORING, cbor(True)),
    "unknown_negative": (UNKNOWN_RES, cbor(-123456789)),
    "unknown_uint64": (UNKNOWN_RES, cbor(2**64 - 1)),
    "self_described": (UNKNOWN_RES, b"\xd9\xd9\xf7" + cbor("x")),
    "refused_array": (UNKNOWN_RES, cbor([1, 2])),
}

# ---- text/plain, opaque, link-format (fuzz_text.c: byte 1 is 0 text, 1 opaque, 2 link) ----

TXT, OPQ, LNK = 0, 1, 2
TEXT = {
    "text_manufacturer": (MANUF, TXT, b"Open Mobile Alliance"),
    "text_battery": (BATTERY, TXT, b"100"),
    "text_current_time": (TIME, TXT, b"1367491215"),
    "text_sensor_value": (SENSOR, TXT, b"21.5"),
    "text_sensor_exponent": (SENSOR, TXT, b"-1.25e-3"),
    "text_sensor_no_model": (SENSOR | NO_MODEL, TXT, b"21.5"),
    "text_voltage_instance": (VOLT1, TXT, b"5000"),
    "text_objlnk": (APN_LINKS, TXT, b"11:0"),
    "text_boolean": (STORING, TXT, b"1"),
    "text_unknown_utf8": (UNKNOWN_RES, TXT, "température ✓".encode()),
    "text_refused_opaque_resource": (PUBKEY, TXT, b"AQID"),
    "opaque_key": (PUBKEY, OPQ, bytes(range(32))),
    "opaque_unknown": (UNKNOWN_RES, OPQ, b"\x00\xff\x10"),
    "link_register": (ROOT, LNK, b'</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</3303/0>,</3303/1>'),
    "link_discover_device": (DEV0, LNK, b"</3/0>;pmin=10;pmax=60,</3/0/0>,</3/0/7>;dim=2,</3/0/13>"),
    "link_discover_resource": (SENSOR, LNK, b"</3303/0/5700>;gt=30;lt=-10;st=0.5"),
}

# ---- whole CoAP datagrams (fuzz_coap.c): hand-made ones; devsim's real traffic is captured by
# capture_coap.py into corpus/coap/devsim_* ----

def coap(mtype, code, mid, token, options=(), payload=b""):
    """A CoAP message: options as (number, bytes), sorted here."""
    out = bytes([0x40 | mtype << 4 | len(token), code]) + struct.pack(">H", mid) + token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        head, ext = b"", b""
        for n in (num - last, len(val)):
            if n < 13:
                head += bytes([n])
            elif n < 269:
                head, ext = head + bytes([13]), ext + bytes([n - 13])
            else:
                head, ext = head + bytes([14]), ext + struct.pack(">H", n - 269)
        out += bytes([head[0] << 4 | head[1]]) + ext + val
        last = num
    return out + (b"\xff" + payload if payload else b"")


CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST, PUT, DELETE = 1, 2, 3, 4
CREATED, CHANGED, CONTENT = 0x41, 0x44, 0x45
OBS, LOC, PATH, CF, QUERY, BLOCK1 = 6, 8, 11, 12, 15, 27
LINKS = b"</1/0>,</3/0>,</3303/0>"


def rec(data, flags=0, sel=0, submit=0):
    """One record of fuzz_coap.c: flags bit 0 the token of the gateway's request `sel`, bit 1
    its message id, bit 2 from the second socket; `submit` request 1-15 of its table first."""
    return bytes([flags | submit << 4, sel]) + struct.pack(">H", len(data)) + data


def register(mid=0x1000, ep=b"dev-1", query=(b"lt=300", b"lwm2m=1.1", b"b=U"), payload=LINKS,
             cf=None):
    opts = [(PATH, b"rd"), (QUERY, b"ep=" + ep)] + [(QUERY, q) for q in query]
    if cf is not None:
        opts.append((CF, bytes([cf]) if cf else b""))
    return coap(CON, POST, mid, b"\x01", opts, payload)


def update(mid=0x1001, query=(), payload=b""):
    return coap(CON, POST, mid, b"\x02", [(PATH, b"rd"), (PATH, b"XXXXXXXX")] +
                [(QUERY, q) for q in query], payload)


DEREGISTER = coap(CON, DELETE, 0x1002, b"\x03", [(PATH, b"rd"), (PATH, b"XXXXXXXX")])
SENML_TEMP = b'[{"bn":"/3303/0/","n":"5700","v":21.5},{"n":"5701","vs":"Cel"}]'


def observed(payload, cf, seq=1, code=CONTENT):
    """The device's ACK to the gateway's first request (its Observe of /3303); cf None: no
    Content-Format (TLV, for an object)."""
    opts = [(OBS, bytes([seq]))] + ([] if cf is None else [(CF, bytes([cf]) if cf else b"")])
    return rec(coap(ACK, code, 0, b"", opts, payload), 3, 0)


def blocks(msg_for, payload, size=16):
    """A Register sent Block1-wise (RFC 7959), blocks of `size` bytes."""
    out, n = b"", (len(payload) + size - 1) // size
    for i in range(n):
        more = 1 if i < n - 1 else 0
        out += rec(msg_for(i, bytes([i << 4 | more << 3 | (size.bit_length() - 5)]),
                           payload[i * size:(i + 1) * size]))
    return out


# Each input starts with fuzz_coap.c's configuration byte (1: no observations).
COAP_SEEDS = {
    "register_and_deregister": b"\0" + rec(register()) + rec(DEREGISTER),
    "register_update_deregister_no_observations": b"\x01" + rec(register()) +
        rec(update(query=(b"lt=60", b"b=UQ"))) + rec(update(0x1003, payload=b"</3/0>")) +
        rec(DEREGISTER),
    "register_observe_notify": b"\0" + rec(register()) + observed(SENML_TEMP, 110) +
        rec(coap(NON, CONTENT, 0x2000, b"", [(OBS, b"\x02"), (CF, bytes([110]))],
                 b'[{"bn":"/3303/0/","n":"5700","v":22}]'), 1, 0) +
        rec(coap(CON, CONTENT, 0x2001, b"", [(OBS, b"\x03"), (CF, bytes([110]))],
                 b'[{"bn":"/3303/1/","n":"5700","v":-4}]'), 1, 0),
    "register_observe_stale": b"\0" + rec(register()) + observed(SENML_TEMP, 110, seq=9) +
        rec(coap(NON, CONTENT, 0x2000, b"", [(OBS, b"\x08"), (CF, bytes([110]))], SENML_TEMP),
            1, 0),
    "register_observe_refused": b"\0" + rec(register()) + observed(b"", 0, code=0x84),
    "register_observe_reset": b"\0" + rec(register()) + rec(coap(RST, 0, 0, b""), 2, 0),
    "register_observe_undecodable": b"\0" + rec(register()) + observed(b"\xc8\x00\x14", 0x2d),
    # UBSan: memset(NULL, 0, 0) in observe.c report_split() (an object observed, no record)
    "crash_empty_object_notification": b"\0" + rec(register()) + observed(b"", None),
    "register_then_read": b"\x01" + rec(register()) +
        rec(coap(ACK, CONTENT, 0, b"", [(CF, b"")], b"Open Mobile Alliance"), 3, 0, submit=1),
    "register_then_create": b"\x01" + rec(register()) +
        rec(coap(ACK, CREATED, 0, b"", [(LOC, b"3303"), (LOC, b"7")]), 3, 0, submit=8),
    # UBSan: memcpy(links, NULL, 0) in manage.c manage_report() (a Discover answered empty)
    "crash_discover_empty_answer": b"\x01" + rec(register()) +
        rec(coap(ACK, CONTENT, 0, b""), 3, 0, submit=6),
    "register_then_discover": b"\x01" + rec(register()) +
        rec(coap(ACK, CONTENT, 0, b"", [(CF, bytes([40]))], b"</3/0>,</3/0/0>,</3/0/9>;pmin=10"),
            3, 0, submit=6),
    "register_then_read_separate": b"\x01" + rec(register()) +
        rec(coap(ACK, 0, 0, b""), 2, 0, submit=1) +
        rec(coap(CON, CONTENT, 0x3000, b"", [(CF, b"")], b"Open Mobile Alliance"), 1, 0),
    # lwm2m.h: on_result "never from inside server_submit()"; an observe or cancel-observe
    # submitted while an observe request waits on the same path ends it there (fuzz_coap.c)
    "crash_result_inside_submit": b"\x01" + rec(register()) + rec(b"", submit=10) +
        rec(b"", submit=11),
    "crash_result_inside_submit_observe": b"\x01" + rec(register()) + rec(b"", submit=10) +
        rec(b"", submit=10),
    "register_then_request_dropped": b"\x01" + rec(register(), submit=3) + rec(DEREGISTER),
    "send_senml_json": b"\0" + rec(register()) +
        rec(coap(CON, POST, 0x1005, b"\x05", [(PATH, b"dp"), (CF, bytes([110]))], SENML_TEMP)),
    "send_unregistered": b"\0" + rec(coap(CON, POST, 0x1005, b"\x05", [(PATH, b"dp"), (CF, bytes([110]))],
                                  SENML_TEMP)),
    "send_wrong_format": b"\0" + rec(register()) +
        rec(coap(CON, POST, 0x1005, b"\x05", [(PATH, b"dp"), (CF, b"")], b"21.5")),
    "update_from_another_port": b"\0" + rec(register()) + rec(update(), flags=4),
    "retransmitted_register": b"\0" + rec(register()) + rec(register()),
    "register_block1": b"\0" + blocks(lambda i, opt, part: coap(
        CON, POST, 0x1100 + i, b"\x09", [(PATH, b"rd"), (QUERY, b"ep=dev-b"), (QUERY, b"lt=60"),
                                          (BLOCK1, opt)], part),
        LINKS + b',</3303/1>,</3303/2>;ver=1.1'),
    # SEGV in libcoap 4.3.1 (block.c, Block1 reassembly): a Register's first block, then another
    # Register (new token, other query) whose Block1 says block 0, last, with no payload
    "crash_block1_then_empty_last_block": b"\0" + rec(coap(
        CON, POST, 0x1100, b"\x09", [(PATH, b"rd"), (QUERY, b"ep=dev-b"), (BLOCK1, b"\x08")],
        LINKS[:16])) + rec(coap(CON, POST, 0x1101, b"\x31",
                                [(PATH, b"rd"), (QUERY, b"ep=dev-c"), (BLOCK1, b"\x00")])),
    "register_replaced": b"\0" + rec(register()) + rec(register(0x1010, query=(b"lwm2m=1.0",))),
    "register_reserved_ep": b"\0" + rec(register(ep=b"gateway")),
    "register_no_ep": b"\0" + rec(coap(CON, POST, 0x1000, b"\x01", [(PATH, b"rd"), (QUERY, b"lt=60")],
                               LINKS)),
    "register_bad_version": b"\0" + rec(register(query=(b"lwm2m=2.0",))),
    "register_bad_lifetime": b"\0" + rec(register(query=(b"lt=abc",))),
    "register_wrong_format": b"\0" + rec(register(cf=0)),
    "register_no_links": b"\0" + rec(register(payload=b"")),
    "register_too_many_queries": b"\0" + rec(register(query=tuple(b"x%d=1" % i for i in range(20)))),
    "rd_get": b"\0" + rec(coap(CON, GET, 0x1000, b"\x01", [(PATH, b"rd")])),
    "rd_put": b"\0" + rec(coap(CON, PUT, 0x1000, b"\x01", [(PATH, b"rd")], LINKS)),
    "unknown_location": b"\0" + rec(coap(CON, DELETE, 0x1000, b"\x01", [(PATH, b"rd"), (PATH, b"nosuchid")])),
    "unknown_path": b"\0" + rec(coap(CON, GET, 0x1000, b"", [(PATH, b"3"), (PATH, b"0")])),
    "unknown_token_notification": b"\0" + rec(coap(NON, CONTENT, 0x2000, b"\xaa" * 8,
                                           [(OBS, b"\x05"), (CF, b"")], b"1")),
    "ping": b"\0" + rec(coap(CON, 0, 0x1000, b"")),
    "reset": b"\0" + rec(coap(RST, 0, 0x1000, b"")),
    "garbage": b"\0" + rec(b"\x00\x01\x02") + rec(b"") + rec(b"\x7f" * 40) + rec(b"\x40\x01"),
}

# ---- inbound MQTT requests (fuzz_mqtt_inbound.c): the requests of tests/e2e/test_12 ----

def mqtt(topic, payload, response_topic=None, correlation=None, expiry=None):
    """One record of fuzz_mqtt_inbound.c."""
    props, head = 0, b""
    if response_topic is not None:
        props, head = props | 1, head + response_topic.encode() + b"\0"
    if correlation is not None:
        props, head = props | 2, head + bytes([len(correlation)]) + correlation
    if expiry is not None:
        props, head = props | 4, head + struct.pack(">I", expiry)
    if not isinstance(payload, bytes):
        payload = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
    return bytes([props]) + head + topic.encode() + b"\0" + struct.pack(">H", len(payload)) + payload


def req(doc, ep="dev-1", **kw):
    return mqtt(f"lwm2m/{ep}/request", doc, **kw)


MQTT_SEEDS = {
    "read": b"\0" + req({"id": "1", "op": "read", "path": "/3/0/0"}),
    "read_instance": b"\0" + req({"id": "5", "op": "read", "path": "/3/0"}),
    "read_missing_device_error": b"\1" + req({"id": "6", "op": "read", "path": "/9/0/0"}),
    "write_read": b"\0" + req({"id": "2", "op": "write", "path": "/1/0/1", "value": 321}) +
        req({"id": "3", "op": "read", "path": "/1/0/1"}),
    "write_instance_update": b"\0" + req({"id": "w", "op": "write", "path": "/1/0",
                                           "mode": "update", "values": {"1": 60, "6": True}}),
    "execute": b"\0" + req({"id": "4", "op": "execute", "path": "/3/0/4", "args": "0='now'"}),
    "write_and_execute_topics": b"\0" + mqtt("lwm2m/dev-1/write/1/0/1", "77") +
        mqtt("lwm2m/dev-1/execute/3/0/4", ""),
    "discover_separate": b"\3" + req({"id": "d", "op": "discover", "path": "/3/0"}),
    "write_attributes": b"\0" + req({"id": "wa", "op": "write-attributes", "path": "/3303/0/5700",
                                      "attributes": {"pmin": 5, "pmax": 60, "gt": 30.5}}),
    "create_delete": b"\0" + req({"id": "c", "op": "create", "path": "/3303", "iid": 7,
                                   "values": {"5700": 21.5}}) +
        req({"id": "del", "op": "delete", "path": "/3303/7"}),
    "observe_cancel": b"\0" + req({"id": "o", "op": "observe", "path": "/3303/0/5700",
                                    "attributes": {"pmin": 1}}) +
        req({"id": "x", "op": "cancel-observe", "path": "/3303/0/5700"}),
    "composite": b"\0" + req({"id": "rc", "op": "read-composite",
                               "paths": ["/3/0/0", "/3303/0/5700"]}) +
        req({"id": "wc", "op": "write-composite", "values": {"/1/0/1": 5, "/3303/0/5701": "Cel"}}) +
        req({"id": "oc", "op": "observe-composite", "paths": ["/3303/0/5700", "/3/0/9"]}),
    "composite_to_lwm2m_10": b"\0" + req({"id": "rc", "op": "read-composite",
                                           "paths": ["/3/0/0"]}, ep="old-1"),
    "read_reset": b"\2" + req({"id": "r", "op": "read", "path": "/3/0/0"}, ep="old-1"),
    "held_and_ttl": b"\0" + req({"id": "h1", "op": "read", "path": "/3/0/0"}, ep="ghost") +
        req({"id": "t0", "op": "read", "path": "/3/0/0", "ttl": 0}, ep="ghost") +
        req({"id": "t1", "op": "read", "path": "/3/0/0", "ttl": 1}, ep="ghost"),
    "hold_max": b"\0" + b"".join(req({"id": f"f{i}", "op": "read", "path": "/3/0/0"}, ep="ghost")
                                  for i in range(6)),
    "invalid": b"\0" + b"".join(req(doc) for doc in (
        {"id": "a", "op": "dance", "path": "/3/0/0"}, {"id": "b", "op": "read", "path": "3/0/x"},
        {"id": "c", "op": "write", "path": "/3/0/13", "value": "soon"},
        {"id": "d", "op": "execute", "path": "/3/0"},
        {"id": "e", "op": "read", "path": "/3/0/0", "ttl": -1},
        {"id": "f", "op": "read", "path": "/3/0/0", "vaule": 1})) +
        req("{not json") + mqtt("lwm2m/dev-1/nothing", "") + mqtt("lwm2m//request", "{}"),
    "mqtt5_properties": b"\0" + req({"id": "v", "op": "read", "path": "/3/0/0"},
                                     response_topic="app/replies/7", correlation=b"\x01corr",
                                     expiry=30) +
        req({"id": "e", "op": "read", "path": "/3/0/0"}, ep="ghost", expiry=0),
    "qos0_broker_fails_once": b"\x0c" + req({"id": "q", "op": "read", "path": "/3/0/0"}),
    "commands": b"\0" + mqtt("lwm2m/dev-1/reboot", "") + mqtt("lwm2m/dev-1/setpoint/0", "21.5") +
        mqtt("lwm2m/dev-1/apn/0", "11:0") + mqtt("site/dev-1/cmd/0/5700", "") +
        mqtt("lwm2m/dev-1/many", {"paths": ["/3/0/9", "/3303/0/5700"]}) +
        mqtt("lwm2m/dev-1/setmany", {"values": {"/1/0/1": 7}}) +
        mqtt("lwm2m/dev-1/attrs/0", {"attributes": {"pmin": 2, "st": 0.5}}) +
        mqtt("lwm2m/dev-1/watch", "") + mqtt("lwm2m/dev-1/unwatch", "") +
        mqtt("lwm2m/dev-1/forget/7", ""),
}


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    for name, (base, payload) in TLV.items():
        write("tlv", name, bytes([base]) + payload)
    for name, (base, pack) in SENML.items():
        text = json.dumps(pack, separators=(",", ":")).encode()
        write("senml_json", name, bytes([base]) + text)
        write("senml_cbor", name, bytes([base]) + senml_cbor(pack))
    for name, (base, doc) in OMA.items():
        write("oma_json", name, bytes([base]) + json.dumps(doc, separators=(",", ":")).encode())
    for name, (base, payload) in RAWCBOR.items():
        write("rawcbor", name, bytes([base]) + payload)
    for name, (base, fmt, payload) in TEXT.items():
        write("text", name, bytes([base, fmt]) + payload)
    for name, data in COAP_SEEDS.items():
        write("coap", name, data)
    for name, data in MQTT_SEEDS.items():
        write("mqtt_inbound", name, data)


if __name__ == "__main__":
    main()
