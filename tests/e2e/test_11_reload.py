"""11 reload: SIGHUP re-reads the `observe`, `mappings` and `commands` rules (SPEC 1). The
devices registered stay registered (no lifecycle message), their observations follow the new
`observe` rules and their values the new `mappings`; a file with problems is reported
(`reload-problem` lines, one `reload-failed`) and the rules in force stay."""
import re
import signal
import time

import pytest

from conftest import CF_TEXT, CF_TLV, COAP_ACK, COAP_RST, SETTLE, summarize, tlv_instance

OLD = ('observe = ( { path = "/3303"; pmax = 1; } );\n'
       'mappings = ( { path = "/3303/*/5700"; topic = "{prefix}/{ep}/old/{iid}"; '
       'payload = "value"; } );\n')
NEW = ('observe = ( { path = "/3303"; pmax = 1; } );\n'
       'mappings = ( { path = "/3303/*/5700"; topic = "{prefix}/{ep}/new/{iid}"; '
       'payload = "value"; } );\n')


def rewrite(gw, old: str, new: str) -> None:
    """Replaces the rules part `old` of the gateway's file by `new` (the rest stays)."""
    with open(gw.conf_path) as f:
        text = f.read()
    assert old in text, text
    with open(gw.conf_path, "w") as f:
        f.write(text.replace(old, new))


def reload(gw, pattern: str = r" reloaded file=") -> str:
    """SIGHUP, then the first log line matching `pattern` that came after it."""
    seen = len(gw.log().splitlines())
    gw.proc.send_signal(signal.SIGHUP)
    rx = re.compile(pattern)
    found = []

    def done():
        found[:] = [ln for ln in gw.log().splitlines()[seen:] if rx.search(ln)]
        return bool(found) or gw.proc.poll() is not None

    deadline = time.monotonic() + 5
    while not done() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert found, f"no /{pattern}/ after SIGHUP\n{gw.log()}"
    assert gw.proc.poll() is None
    return found[0]


def lifecycle(mqtt, ep: str):
    return [m.topic.rsplit("/", 1)[-1] for m in mqtt.messages_for(ep) if
            m.topic.rsplit("/", 1)[-1] in ("status", "registration", "event")]


def test_reload_moves_the_values_to_the_new_topic(gateway, mqtt, devsim, prefix):
    gw = gateway(extra_conf=OLD)
    sim = devsim.start(gw.server, "register", "serve:2.6", "deregister", ep="mover", rate=0,
                       trace=True)
    mqtt.wait_count(lambda m: m.topic == f"{prefix}/mover/old/0", 2)   # answer + 1 pmax
    rewrite(gw, OLD, NEW)
    line = reload(gw)
    assert f"file={gw.conf_path} observe=1 mappings=1 commands=0" in line, line
    r = sim.wait()
    assert r.rc == 0, r
    mqtt.wait_for(f"{prefix}/mover/event", lambda m: m.json()["event"] == "deregistered")
    mqtt.settle()
    # No lifecycle message but those of Register and De-register.
    assert lifecycle(mqtt, "mover") == ["status", "registration", "event"] * 2
    values = [(m.topic.rsplit("/", 2)[-2], m.payload) for m in mqtt.messages_for("mover")
              if "/old/" in m.topic or "/new/" in m.topic]
    # Every value of the old rules before every value of the new ones, 20.0 all along.
    olds = [v for v in values if v[0] == "old"]
    news = [v for v in values if v[0] == "new"]
    assert values == olds + news and len(olds) >= 2 and len(news) >= 1, values
    assert {p for _, p in values} == {b"20.0"}, values
    # Other resources: the default topic, before and after.
    defaults = {m.topic for m in mqtt.messages_for("mover") if "/data/" in m.topic}
    assert defaults == {f"{prefix}/mover/data/3303/0/{rid}" for rid in (5601, 5602, 5701)}
    # The same observe rule before and after: the observation is kept, nothing is asked.
    asked = [(t["method"], t["path"], t.get("query"), t.get("observe"))
             for t in r.trace("request")]
    assert asked == [("PUT", "/3303", "pmax=1", None), ("GET", "/3303", None, 0)], r


def test_reload_stops_a_removed_observation_and_starts_a_new_one(gateway, mqtt, devsim,
                                                                  prefix):
    before_rules = 'observe = ( { path = "/3303"; pmax = 1; } );\n'
    after_rules = 'observe = ( { path = "/3/0/9"; } );\n'
    gw = gateway(extra_conf=before_rules)
    sim = devsim.start(gw.server, "register", "serve:3.0", "deregister", ep="switch", rate=2,
                       trace=True)
    mqtt.wait_count(lambda m: m.topic == f"{prefix}/switch/data/3303/0/5700", 2)
    assert not mqtt.on(f"{prefix}/switch/data/3/0/9")
    rewrite(gw, before_rules, after_rules)
    reload(gw)
    time.sleep(SETTLE)   # what was on its way before the reload
    mark = mqtt.mark()
    r = sim.wait()
    assert r.rc == 0, r
    mqtt.wait_for(f"{prefix}/switch/event", lambda m: m.json()["event"] == "deregistered")
    mqtt.settle()
    later = mqtt.messages_for("switch", mark)
    assert not [m for m in later if "/3303/" in m.topic], summarize(later)
    battery = [m for m in later if m.topic == f"{prefix}/switch/data/3/0/9"]
    assert len(battery) >= 3, summarize(later)    # two changes a second
    levels = [m.json()["value"] for m in battery]
    assert all(b < a for a, b in zip(levels, levels[1:])), levels
    assert lifecycle(mqtt, "switch") == ["status", "registration", "event"] * 2
    # devsim: Write-Attributes and Observe of /3303; at the reload /3303 is cancelled
    # actively (GET with Observe=1, RFC 7641 3.6) and /3/0/9 observed.
    asked = [(t["method"], t["path"], t.get("observe")) for t in r.trace("request")]
    assert asked == [("PUT", "/3303", None), ("GET", "/3303", 0), ("GET", "/3303", 1),
                     ("GET", "/3/0/9", 0)], r
    assert gw.log_lines(r" observe-cancel ep=switch path=/3303$"), gw.log()


def test_reload_observes_again_under_new_tokens(gateway, mqtt, raw_device, prefix):
    """By hand: a changed observe rule (pmax 1 -> 2) is a new observation: the old one is
    cancelled under its own token, the new one gets its attributes and a new token; after
    the reload the old token is no one's (RST), the new one carries the values, published
    by the new mappings."""
    gw = gateway(extra_conf=OLD)
    d = raw_device(gw.port, "tokens")
    d.register("</3303/0>")
    answers = {"/3303": (tlv_instance(0, {5700: 20.5}), CF_TLV)}
    d.serve(answers, until=lambda: bool(d.tokens))
    old_token = d.tokens["/3303"]
    mqtt.wait_for(f"{prefix}/tokens/old/0")
    rewrite(gw, OLD, NEW.replace("pmax = 1", "pmax = 2"))
    reload(gw)
    d.tokens.clear()
    answers = {"/3303": (tlv_instance(0, {5700: 21.5}), CF_TLV)}
    d.serve(answers, until=lambda: bool(d.tokens))
    assert d.tokens["/3303"] != old_token
    assert d.requests == [("0.03", "/3303", ["pmax=1"], None), ("0.01", "/3303", [], 0),
                          ("0.01", "/3303", [], 1),
                          ("0.03", "/3303", ["pmax=2"], None), ("0.01", "/3303", [], 0)], \
        d.requests
    r = d.notify("/3303", tlv_instance(0, {5700: 99.0}), CF_TLV, seq=5, confirmable=True,
                 token=old_token)
    assert r is not None and r.mtype == COAP_RST, r
    r = d.notify("/3303", tlv_instance(0, {5700: 22.5}), CF_TLV, seq=3, confirmable=True)
    assert r is not None and r.mtype == COAP_ACK, r
    mqtt.wait_for(f"{prefix}/tokens/new/0", lambda m: m.payload == b"22.5")
    mqtt.settle()
    got = [(m.topic, m.payload) for m in mqtt.messages_for("tokens")[3:]]
    assert got == [(f"{prefix}/tokens/old/0", b"20.5"), (f"{prefix}/tokens/new/0", b"21.5"),
                   (f"{prefix}/tokens/new/0", b"22.5")], got


def test_a_cancel_carries_the_token_of_the_observation(gateway, mqtt, raw_device, prefix):
    rules = 'observe = ( { path = "/3303/0/5700"; } );\n'
    gw = gateway(extra_conf=rules)
    d = raw_device(gw.port, "canceller")
    d.register("</3303/0>")
    d.serve({"/3303/0/5700": (b"20.5", CF_TEXT)}, until=lambda: bool(d.tokens))
    token = d.tokens["/3303/0/5700"]
    mqtt.wait_for(f"{prefix}/canceller/data/3303/0/5700")   # established
    rewrite(gw, rules, 'observe = ( );\n')
    reload(gw)
    d.serve({"/3303/0/5700": (b"20.5", CF_TEXT)}, until=lambda: len(d.requests) == 2)
    assert d.requests[1] == ("0.01", "/3303/0/5700", [], 1), d.requests
    assert d.request_tokens == [token, token], d.request_tokens


BROKEN = [
    # (id, the new rules, what the problem lines must say)
    ("syntax", 'mappings = ( { path = "/3303/*/5700"; topic = "x" ;; } );\n', []),
    ("payload-kind",
     'mappings = ( { path = "/3303/*/5700"; topic = "{prefix}/{ep}/new/{iid}"; '
     'payload = "xml"; } );\n', ["payload"]),
    ("unknown-variable",
     'mappings = ( { path = "/3303/*/5700"; topic = "{prefix}/{ep}/{colour}"; } );\n',
     ["topic", "colour"]),
    ("bad-path", 'observe = ( { path = "/3303/x"; } );\n', ["path"]),
    ("pmin-above-pmax", 'observe = ( { path = "/3303"; pmin = 5; pmax = 1; } );\n',
     ["pmin"]),
]


@pytest.mark.parametrize("case", BROKEN, ids=[c[0] for c in BROKEN])
def test_a_broken_file_is_reported_and_the_old_rules_stay(gateway, mqtt, raw_device, prefix,
                                                          case):
    name, rules, words = case
    gw = gateway(extra_conf=OLD)
    d = raw_device(gw.port, "steady")
    d.register("</3303/0>")
    d.serve({"/3303": (tlv_instance(0, {5700: 20.5}), CF_TLV)}, until=lambda: bool(d.tokens))
    mqtt.wait_for(f"{prefix}/steady/old/0")
    rewrite(gw, OLD, rules)
    failed = reload(gw, r" reload-failed ")
    assert " error " in failed and f"file={gw.conf_path}" in failed, failed
    problems = gw.log_lines(r" reload-problem ")
    assert problems, gw.log()
    for line in problems:
        assert re.search(rf" reload-problem {re.escape(gw.conf_path)}:\d+: ", line), line
    for word in words:
        assert any(word in line for line in problems), (word, problems)
    assert f"problems={len(problems)}" in failed, (failed, problems)
    # Nothing was asked of the device, the old observation and mapping work on.
    stop = time.monotonic() + SETTLE
    d.serve({}, until=lambda: time.monotonic() >= stop)
    assert len(d.requests) == 2, d.requests   # the Write-Attributes and Observe of before
    r = d.notify("/3303", tlv_instance(0, {5700: 21.5}), CF_TLV, seq=2, confirmable=True)
    assert r is not None and r.mtype == COAP_ACK, r
    mqtt.wait_for(f"{prefix}/steady/old/0", lambda m: m.payload == b"21.5")
    mqtt.settle()
    assert [(m.topic, m.payload) for m in mqtt.messages_for("steady")[3:]] == [
        (f"{prefix}/steady/old/0", b"20.5"), (f"{prefix}/steady/old/0", b"21.5")]
    assert lifecycle(mqtt, "steady") == ["status", "registration", "event"]
    # Repaired, the file is taken: the same observation goes on, the values to the new topic.
    rewrite(gw, rules, NEW)
    reload(gw)
    r = d.notify("/3303", tlv_instance(0, {5700: 22.5}), CF_TLV, seq=3, confirmable=True)
    assert r is not None and r.mtype == COAP_ACK, r
    mqtt.wait_for(f"{prefix}/steady/new/0", lambda m: m.payload == b"22.5")
    assert len(d.requests) == 2, d.requests


def test_a_rule_the_engine_refuses_keeps_the_old_rules(gateway, mqtt, raw_device, prefix):
    """A file that reads well but holds a rule that cannot be compiled ("instance" has no
    single resource for {rid})."""
    rules = ('observe = ( { path = "/3303"; pmax = 1; } );\n'
             'mappings = ( { path = "/3303"; topic = "{prefix}/{ep}/i/{rid}"; '
             'payload = "instance"; } );\n')
    gw = gateway(extra_conf=OLD)
    d = raw_device(gw.port, "engine")
    d.register("</3303/0>")
    d.serve({"/3303": (tlv_instance(0, {5700: 20.5}), CF_TLV)}, until=lambda: bool(d.tokens))
    mqtt.wait_for(f"{prefix}/engine/old/0")
    rewrite(gw, OLD, rules)
    failed = reload(gw, r" reload-failed ")
    assert " error " in failed and f"file={gw.conf_path}" in failed, failed
    # Found by the file check (a reload-problem FILE:LINE: line) or by the engine (the
    # reason of reload-failed): either way with its line.
    lines = gw.log_lines(r" reload-(problem|failed) ")
    assert any(re.search(r"(:\d+: |line \d+: )mappings\[0\]\.topic: .*\{rid\}", ln)
               for ln in lines), lines
    assert not gw.log_lines(r" reloaded "), gw.log()
    r = d.notify("/3303", tlv_instance(0, {5700: 21.5}), CF_TLV, seq=2, confirmable=True)
    assert r is not None and r.mtype == COAP_ACK, r
    mqtt.wait_for(f"{prefix}/engine/old/0", lambda m: m.payload == b"21.5")
    assert lifecycle(mqtt, "engine") == ["status", "registration", "event"]
