"""07 malformed: a Register the gateway cannot take is refused with the right CoAP code and a
diagnostic naming the problem (SPEC 5: 4.00; 4.12 for an LwM2M version it does not speak,
4.15 for a payload that is not link-format), logged, and never published; devices around it
are not disturbed."""
import pytest

from conftest import check_register_messages, now_ms, summarize

DEFAULT_OBJECTS = ["/1/0", "/3/0", "/3303/0"]
LINKS = "</1/0>,</3/0>"

# (id, Uri-Query options, payload, Content-Format, expected code, words of the diagnostic)
CASES = [
    ("no-ep", ["lt=60"], LINKS, 40, "4.00", ["'ep'"]),
    ("empty-ep", ["ep=", "lt=60"], LINKS, 40, "4.00", ["'ep'"]),
    ("lt-not-a-number", ["ep=bad-lt", "lt=abc"], LINKS, 40, "4.00", ["'lt'"]),
    ("lt-zero", ["ep=zero-lt", "lt=0"], LINKS, 40, "4.00", ["'lt'"]),
    ("lt-negative", ["ep=neg-lt", "lt=-5"], LINKS, 40, "4.00", ["'lt'"]),
    ("lt-too-big", ["ep=big-lt", "lt=99999999999"], LINKS, 40, "4.00", ["'lt'"]),
    ("lt-twice", ["ep=two-lt", "lt=60", "lt=70"], LINKS, 40, "4.00", ["'lt'"]),
    ("unclosed-link", ["ep=bad-links", "lt=60"], "</1/0", 40, "4.00", []),
    ("not-a-path", ["ep=bad-oid", "lt=60"], "</abc/0>", 40, "4.00", ["link 1"]),
    ("oid-too-big", ["ep=big-oid", "lt=60"], "</70000/0>", 40, "4.00", ["link 1"]),
    ("no-payload", ["ep=no-links", "lt=60"], None, None, "4.00", ["payload"]),
    ("text-plain", ["ep=text-cf", "lt=60"], LINKS, 0, "4.15", ["Content-Format 0"]),
    ("json-cf", ["ep=json-cf", "lt=60"], LINKS, 50, "4.15", ["Content-Format 50"]),
    ("lwm2m-9.9", ["ep=future", "lt=60", "lwm2m=9.9"], LINKS, 40, "4.12", ["9.9"]),
    ("lwm2m-garbage", ["ep=garbage-v", "lt=60", "lwm2m=one"], LINKS, 40, "4.00", ["'lwm2m'"]),
    ("bad-binding", ["ep=bad-b", "lt=60", "b=X"], LINKS, 40, "4.00", ["'b'"]),
    ("ep-slash", ["ep=bad/ep", "lt=60"], LINKS, 40, "4.00", ["'ep'", "'/'"]),
    ("ep-hash", ["ep=bad#ep", "lt=60"], LINKS, 40, "4.00", ["'ep'", "'#'"]),
    ("ep-plus", ["ep=bad+ep", "lt=60"], LINKS, 40, "4.00", ["'ep'", "'+'"]),
    ("ep-control", ["ep=ba\nd", "lt=60"], LINKS, 40, "4.00", ["'ep'", "control"]),
    ("ep-tab", ["ep=ba\td", "lt=60"], LINKS, 40, "4.00", ["'ep'", "control"]),
    ("ep-too-long", ["ep=" + "x" * 129, "lt=60"], LINKS, 40, "4.00", ["'ep'", "128"]),
]


@pytest.fixture
def neighbourhood(gateway, mqtt, devsim, prefix):
    """A gateway with one good device registered before the bad requests."""
    gw = gateway()
    before = now_ms()
    r = devsim(gw.server, "register", ep="good-before", lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    check_register_messages(mqtt, gw, "good-before", r.one("register")["location"],
                            before=before, after=after, lifetime=300, lwm2m="1.1",
                            binding="U", queue=False, objects=DEFAULT_OBJECTS, ct="110")
    return gw, r.one("register")["location"]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_malformed_register_is_refused(neighbourhood, mqtt, devsim, coap, prefix, case):
    gw, good_location = neighbourhood
    name, query, payload, cf, code, words = case
    mark = mqtt.mark()
    log_mark = len(gw.log().splitlines())

    a = coap(gw.port, "post", "/rd", query, payload=payload, content_format=cf)
    assert a.code == code, a
    assert a.location is None, a
    assert a.payload, f"4.xx without a diagnostic: {a}"
    for word in words:
        assert word in a.payload, (word, a)

    # One warning line, with the code and the same reason.
    new_log = gw.log().splitlines()[log_mark:]
    rejected = [ln for ln in new_log if " register-rejected " in ln]
    assert len(rejected) == 1, "\n".join(new_log)
    assert f" code={code} " in rejected[0], rejected[0]
    assert " warn " in rejected[0], rejected[0]
    assert "address=127.0.0.1:" in rejected[0], rejected[0]

    # Nothing published for it; the good device is untouched.
    mqtt.settle()
    assert mqtt.all()[mark:] == [], summarize(mqtt.all()[mark:])
    assert coap(gw.port, "post", good_location).code == "2.04"
    mqtt.wait_for(f"{prefix}/good-before/event", lambda m: m.json()["event"] == "updated",
                  since=mark)

    # And a good device registered after it works.
    before = now_ms()
    r = devsim(gw.server, "register", ep="good-after", lifetime=300)
    after = now_ms()
    assert r.rc == 0, r
    check_register_messages(mqtt, gw, "good-after", r.one("register")["location"],
                            before=before, after=after, since=mark, lifetime=300,
                            lwm2m="1.1", binding="U", queue=False, objects=DEFAULT_OBJECTS,
                            ct="110")


def test_a_burst_of_malformed_registers_publishes_nothing(neighbourhood, mqtt, devsim, coap,
                                                          prefix):
    gw, good_location = neighbourhood
    mark = mqtt.mark()
    for name, query, payload, cf, code, words in CASES:
        a = coap(gw.port, "post", "/rd", query, payload=payload, content_format=cf)
        assert a.code == code, (name, a)
    assert len(gw.log_lines(r" register-rejected ")) == len(CASES), gw.log()
    mqtt.settle()
    assert mqtt.all()[mark:] == [], summarize(mqtt.all()[mark:])
    r = devsim(gw.server, "register", "update", "deregister", ep="good-after", lifetime=300)
    assert r.rc == 0, r
    mqtt.wait_for(f"{prefix}/good-after/event", lambda m: m.json()["event"] == "deregistered",
                  since=mark)
    mqtt.settle()
    topics = {m.topic for m in mqtt.all()[mark:]}
    assert topics == {f"{prefix}/good-after/status", f"{prefix}/good-after/registration",
                      f"{prefix}/good-after/event"}, topics


def test_other_methods_and_paths(neighbourhood, mqtt, coap):
    gw, good_location = neighbourhood
    mark = mqtt.mark()
    assert coap(gw.port, "get", "/rd").code == "4.05"
    assert coap(gw.port, "put", "/rd", ["ep=x"], payload=LINKS, content_format=40).code \
        in ("4.05",)
    assert coap(gw.port, "get", good_location).code == "4.05"
    assert coap(gw.port, "post", "/bs", ["ep=x"]).code == "4.04"
    assert coap(gw.port, "get", "/").code in ("4.04", "2.05")
    mqtt.settle()
    assert mqtt.all()[mark:] == [], summarize(mqtt.all()[mark:])


@pytest.mark.parametrize("ep", [b"nul\x00byte", b"bad-utf8-\xff\xfe", b"overlong-\xc0\xaf",
                                b"surrogate-\xed\xa0\x80", b"del-\x7f"],
                         ids=["nul", "invalid-utf8", "overlong-utf8", "surrogate", "del"])
def test_an_endpoint_name_that_is_not_clean_utf8_is_refused(neighbourhood, mqtt, coap_socket,
                                                            ep):
    from conftest import register_datagram
    gw, _ = neighbourhood
    mark = mqtt.mark()
    sock = coap_socket(gw.port)
    a = sock.exchange(register_datagram(0x77, b"\x11", [b"ep=" + ep, "lt=60"], LINKS))
    assert a.code == "4.00", a
    assert b"'ep'" in a.payload, a
    assert a.location is None
    mqtt.settle()
    assert mqtt.all()[mark:] == [], summarize(mqtt.all()[mark:])
    line = gw.wait_log(r" register-rejected .*code=4\.00 .*'ep'")
    assert "\n" not in line


def test_a_device_named_gateway_cannot_take_over_the_gateway_status(gateway, mqtt, devsim,
                                                                     broker, prefix):
    from conftest import retained
    gw = gateway()
    status = f"{prefix}/gateway/status"
    mark = mqtt.mark()
    r = devsim(gw.server, "register", "deregister", ep="gateway", lifetime=300)
    # Refusing the name (4.xx) or publishing the device elsewhere are both fine; what is
    # not is touching the gateway's status.
    assert r.records, r
    mqtt.settle()
    assert [m.payload for m in mqtt.on(status, since=mark)] == [], \
        summarize(mqtt.all()[mark:])
    assert retained(broker, status) == {status: b"online"}
    assert gw.proc.poll() is None
