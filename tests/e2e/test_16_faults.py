"""16 faults: what the gateway does when the world around it breaks, end to end, on loopback.

- The broker is killed (SIGKILL) mid-stream and started again on its port, with persistence
  and without: no accepted request is lost or carried out twice, and notifications published
  while it is away wait in the bounded queue (mqtt.max_buffered) and go out afterwards; what
  does not fit is counted (the log's mqtt-publish-dropped, once per burst with how many of
  each kind, and the stats' "dropped"), never lost silently: sent = delivered + counted as
  dropped, exactly (what the broker had not acknowledged when it died is counted apart).
- The gateway is killed (SIGKILL) under load and started again: its devices keep their
  registrations (their Updates get 2.04, nobody registers again), their observations start
  again and notify, and the requests it had accepted are carried out.
- A lossy UDP path (udpproxy.py: drops, duplicates, reordering) between devices and the
  gateway: registrations, notifications and requests complete, or end in a clear `timeout`.
- A registration storm (10,000 devices; fewer under the sanitizers) and a flood of malformed
  datagrams, while a device registered before keeps being served.
- A broker that pushes back (an in-flight window of one message, a slow subscriber, a broker
  that stops reading for a while): devices are still served, memory stays bounded, and
  nothing is lost at QoS 1, nor at QoS 0 when more values pile up than the gateway hands the
  MQTT client unwritten; a broker that stops acknowledging for longer than the queue
  (mqtt.max_buffered) lasts: the gateway drops, counts and says so while it happens.

Every test prints what it injected and what it measured (run with `pytest -s` to see them),
and asserts on correctness only; times are bounded by generous deadlines.
"""
import collections
import json
import os
import random
import re
import signal
import socket
import threading
import time
import urllib.request
import uuid

import paho.mqtt.client as paho
import pytest

import conftest
from conftest import (COAP_CON, COAP_NON, COAP_RST, OPT_OBSERVE, OPT_URI_PATH, Collector,
                      coap_encode, free_tcp_port, register_datagram,
                      sanitized_build, start_mosquitto, stop_mosquitto, vm_rss_kb, wait_until)
from udpproxy import UdpProxy

WAIT = 15.0
READ_BOUND = 30.0   # seconds: a few CoAP retransmissions (ack_timeout 2 s, doubling)
# The ASan+UBSan build is about three times slower; under valgrind (GW_VALGRIND=1) conftest
# says by how much.
SLOW = max(3 if sanitized_build() else 1, getattr(conftest, "SLOWNESS", 1))


# ---------------------------------------------------------------- helpers

class Requester:
    """Publishes requests (QoS 1) to one broker; `send` returns once the broker took it."""

    def __init__(self, broker, prefix):
        self.prefix = prefix
        self.client = paho.Client(client_id=f"req-{uuid.uuid4().hex[:8]}")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def send(self, ep, doc, timeout=5.0):
        info = self.client.publish(f"{self.prefix}/{ep}/request", json.dumps(doc), qos=1)
        info.wait_for_publish(timeout)
        assert info.is_published(), f"the broker did not take request {doc}"

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()



def answers(collectors, prefix, ep):
    """Every answer on {prefix}/{ep}/response seen by `collectors`, in order."""
    topic = f"{prefix}/{ep}/response"
    return [m.json() for c in collectors for m in c.on(topic)]


def finals_by_id(docs):
    out = collections.defaultdict(list)
    for d in docs:
        if d.get("status") != "held":
            out[d["id"]].append(d)
    return out


def data_values(collectors, topic):
    """The distinct values published on `topic` as (ts, value) keys, and how many copies of
    them arrived (QoS 1 may deliver one twice across a broker restart)."""
    keys = [(d["ts"], d["value"]) for c in collectors for d in (m.json() for m in c.on(topic))]
    return set(keys), len(keys) - len(set(keys))


def dropped(gw, topic=None):
    """What the gateway's log says it dropped, as (all, of `topic`, not acknowledged): the
    count= of its mqtt-publish-dropped lines. A full queue says it once per burst, with how
    many of each kind (data=N: `topic` must be the only data topic); a publication refused
    otherwise has a line of its own, with its topic; publications the broker did not
    acknowledge (a session lost) are counted without a topic."""
    total = mine = unacked = 0
    for ln in gw.log_lines(r"mqtt-publish-dropped "):
        n = int(re.search(r" count=(\d+)", ln).group(1))
        total += n
        if "not acknowledged" in ln:
            unacked += n
        elif topic is not None and f" topic={topic} " in ln:
            mine += n
        elif topic is not None and "queue full" in ln:
            mine += int(re.search(r" data=(\d+)", ln).group(1))
    return total, mine, unacked


def last_stats(collectors, prefix):
    docs = [m.json() for c in collectors for m in c.on(f"{prefix}/gateway/stats")]
    return docs[-1] if docs else None


def late_notifications(gw, collectors, prefix, eps):
    """How many notifications of `eps` the gateway answered with RST as not observed (any
    more): the last ones a device sends as it de-registers can reach the gateway after its
    De-register. They are sent, and rightly never published."""
    addrs = set()
    for c in collectors:
        for ep in eps:
            for m in c.on(f"{prefix}/{ep}/registration"):
                if m.payload:
                    addrs.add(m.json()["address"])
    return sum(1 for a in addrs for _ in gw.log_lines(f"notification-unknown address={a} "))


def connect_collector(broker, topic_filter, prefix, timeout=10.0):
    """A Collector, retried while the broker (just restarted) does not accept yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Collector(broker, topic_filter, prefix)
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def log_time(line):
    """The wall-clock time (s) of a gateway log line (2026-11-25T15:30:00.123Z ...)."""
    import datetime
    stamp = line.split()[0]
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


# ---------------------------------------------------------------- 1. the broker dies

@pytest.mark.parametrize("persistence", [False, True], ids=["no-persistence", "persistence"])
def test_a_broker_killed_mid_stream_loses_nothing_silently(gateway, devsim, tmp_path, prefix,
                                                           persistence):
    """SIGKILL of mosquitto while a device notifies ten times a second and a slow device has
    writes in progress; mosquitto comes back on the same port four seconds later. Persistence
    as a user who wants it sets it (saved every second: a SIGKILL loses what came since the
    last save), or none (Debian's default saves every 30 minutes: the same as none here)."""
    d = tmp_path / ("persist" if persistence else "plain")
    d.mkdir()
    extra = (f"persistence true\npersistence_location {d}/\nautosave_interval 1\n"
             if persistence else "")
    b = start_mosquitto(d, extra_conf=extra)
    port = b.port
    max_buffered = 30
    cols = [Collector(b, f"{prefix}/#", prefix)]
    req = None
    try:
        gw = gateway(mqtt_uri=b.uri, wait_online=False,
                     mqtt_conf=f"  max_buffered = {max_buffered};\n  stats_interval = 1;\n",
                     extra_conf='observe = ( { path = "/3303/0/5700"; endpoint = "*-notif";'
                                ' pmin = 0; } );\n')
        assert wait_until(lambda: "mqtt-subscribed" in gw.log(), WAIT), gw.log()
        notif, slow = f"{prefix[:20]}-notif", f"{prefix[:20]}-slow"
        topic = f"{prefix}/{notif}/data/3303/0/5700"
        pn = devsim.start(gw.server, "register", "serve:60", "deregister", ep=notif,
                          rate=10, format="tlv", trace=True)
        ps = devsim.start(gw.server, "register", "serve:60", "deregister", ep=slow,
                          trace=True, extra=("--delay-ms", "250"))
        cols[0].wait_count(lambda m: m.topic == topic, 5, timeout=WAIT)
        cols[0].wait_for(f"{prefix}/{slow}/event", timeout=WAIT)

        # Writes to the slow device: 250 ms each, so that most are still to do when the
        # broker dies. Killed only once the gateway has accepted (committed) all of them.
        req = Requester(b, prefix)
        n_before = 16
        for i in range(n_before):
            req.send(slow, {"id": f"w{i}", "op": "write", "path": "/1/0/1", "value": 1000 + i})
        assert wait_until(lambda: len(gw.log_lines(f"request-accepted ep={slow} ")) == n_before,
                          WAIT), gw.log()
        req.close()
        req = None
        time.sleep(0.5)
        t_kill = time.time()
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(5)
        for c in cols:
            c.close()
        gw.wait_log("mqtt-connection-lost", timeout=WAIT)
        time.sleep(4)   # the device notifies on; the writes go on

        # The broker comes back. The gateway is held still for the moment it takes to
        # subscribe the test's collector first, so that nothing the gateway sends on
        # reconnection finds the broker without its subscriber (the broker would drop it:
        # a loss of the test, not of the gateway).
        connected_before = len(gw.log_lines(r"mqtt-connected "))
        gw.proc.send_signal(signal.SIGSTOP)
        try:
            b = start_mosquitto(d, port=port, extra_conf=extra)
            cols.append(connect_collector(b, f"{prefix}/#", prefix))
        finally:
            gw.proc.send_signal(signal.SIGCONT)
        assert wait_until(lambda: len(gw.log_lines(r"mqtt-connected ")) > connected_before,
                          WAIT), gw.log()
        t_back = log_time(gw.log_lines(r"mqtt-connected ")[-1])
        assert wait_until(lambda: len(gw.log_lines(r"mqtt-subscribed ")) >= 2, WAIT)

        # More writes over the new connection.
        req = Requester(b, prefix)
        n_after = 4
        for i in range(n_after):
            req.send(slow, {"id": f"a{i}", "op": "write", "path": "/1/0/1", "value": 2000 + i})
        ids = [f"w{i}" for i in range(n_before)] + [f"a{i}" for i in range(n_after)]
        assert wait_until(lambda: set(finals_by_id(answers(cols, prefix, slow))) >= set(ids),
                          WAIT * 2), (sorted(finals_by_id(answers(cols, prefix, slow))),
                                      gw.log()[-5000:])
        time.sleep(2)   # the notifications flow again over the new connection

        # The devices stop (SIGINT ends `serve`; they de-register), then everything settles.
        for p in (pn, ps):
            p.proc.send_signal(signal.SIGINT)
        rn, rs = pn.wait(WAIT), ps.wait(WAIT)
        cols[-1].wait_for(f"{prefix}/{notif}/event",
                          lambda m: m.json()["event"] == "deregistered", timeout=WAIT)
        cols[-1].settle(1.0, timeout=WAIT)
        n_dropped_all, dropped_here, unacked = dropped(gw, topic)
        stats = cols[-1].wait_for(f"{prefix}/gateway/stats",
                                  lambda m: m.json()["dropped"] == n_dropped_all,
                                  since=cols[-1].mark(), timeout=WAIT).json()

        # Requests: one final answer each (a copy of it may come again, QoS 1 over a broker
        # restart: the same answer), and each write reached the device exactly once.
        finals = finals_by_id(answers(cols, prefix, slow))
        assert sorted(finals) == sorted(ids), sorted(finals)
        for rid, docs in finals.items():
            assert all(x == docs[0] for x in docs) and docs[0]["status"] == "ok", (rid, docs)
        answer_copies = sum(len(v) - 1 for v in finals.values())
        puts = [t for t in rs.trace("request") if t["method"] == "PUT" and t["path"] == "/1/0/1"]
        assert len(puts) == len(ids), (len(puts), len(ids))
        done_during = [ln for ln in gw.log_lines(f"request-done ep={slow} ")
                       if t_kill < log_time(ln) < t_back]

        # Notifications: sent = delivered + counted as dropped, exactly.
        sent = 1 + len(rn.trace("notify", ep=notif))   # the Observe's answer, then each one
        delivered, copies = data_values(cols, topic)
        late = late_notifications(gw, cols, prefix, [notif])
        during = [k for k in delivered if t_kill * 1000 < k[0] < t_back * 1000]
        print(f"\n[broker-kill persistence={persistence}] outage {t_back - t_kill:.1f} s; "
              f"values sent={sent} delivered={len(delivered)} (copies {copies}) "
              f"dropped(log, this topic)={dropped_here} shed={stats['coap_dropped']} "
              f"after its De-register={late} "
              f"buffered-and-delivered={len(during)}"
              f" max_buffered={max_buffered}; all dropped (log)={n_dropped_all}, of them not "
              f"acknowledged={unacked} "
              f"stats.dropped={stats['dropped']}; writes={len(ids)} answered={len(finals)} "
              f"answer copies={answer_copies} done while away={len(done_during)} "
              f"PUTs at the device={len(puts)}")
        # While the queue overflowed, the gateway had the kernel drop notifications before
        # reading them: counted apart (datagrams; each carries one value here). Once that
        # starts, this topic's overflow may all be shed and none dropped from the queue.
        shed = stats["coap_dropped"]
        assert dropped_here or (shed and gw.log_lines(r"notifications-shed share=")), \
            "the outage was too short to overflow the buffer"
        assert during, "nothing published while the broker was away was delivered"
        assert len(during) <= max_buffered
        # Publications the broker had not acknowledged when it died are lost with a session
        # it did not keep, counted but not by topic.
        assert len(delivered) + dropped_here + shed + late <= sent <= \
            len(delivered) + dropped_here + shed + late + unacked, \
            (sent, len(delivered), dropped_here, shed, late, unacked)
        assert stats["dropped"] == n_dropped_all
    finally:
        if req:
            req.close()
        for c in cols:
            c.close()
        stop_mosquitto(b)


# ---------------------------------------------------------------- 2. the gateway dies

def test_a_gateway_killed_under_load_keeps_its_devices(gateway, devsim, broker, mqtt, prefix,
                                                       tmp_path):
    """SIGKILL of the gateway while 20 devices notify five times a second, reads stream in and
    writes wait for a slow device; it starts again on its port and store. The devices Update
    their old locations (2.04), never register again, are observed again and notify, and
    every request gets its answer."""
    store = str(tmp_path / "kill.db")
    n_dev = 20
    obs_conf = ('observe = ( { path = "/3303/0/5700"; endpoint = "*-k*"; pmin = 0; } );\n')
    # Reads pile up per device while the restarted gateway waits for each device's first
    # Update (seconds under valgrind): room for them, so that the test is about durability and
    # not store.hold_max (test_12 covers that bound).
    hold = "  hold_max = 1000;\n"
    gw = gateway(store=store, extra_conf=obs_conf, store_conf=hold)
    port = gw.port
    eps = [f"{prefix[:20]}-k{i}" for i in range(n_dev)]
    slow = f"{prefix[:20]}-slow"
    # The kill lands in the first serve; the Update after it is the devices' first word to
    # the new gateway.
    t1, t2 = 6 * SLOW, 6 * SLOW
    fleet = devsim.start(gw.server, "register", f"serve:{t1}", "update", f"serve:{t2}",
                         "deregister", count=n_dev, ep_prefix=f"{prefix[:20]}-k", rate=5,
                         format="tlv", trace=True, timeout_ms=20000)
    ps = devsim.start(gw.server, "register", f"serve:{t1}", "update", f"serve:{t2 + 10}",
                      "deregister", ep=slow, trace=True, extra=("--delay-ms", "300"))
    assert wait_until(lambda: len(gw.log_lines(r"observing ep=")) == n_dev, WAIT), gw.log()
    mqtt.wait_for(f"{prefix}/{slow}/event", timeout=WAIT)

    req = Requester(broker, prefix)
    n_w = 10
    for i in range(n_w):
        req.send(slow, {"id": f"w{i}", "op": "write", "path": "/1/0/1", "value": 500 + i})
    assert wait_until(lambda: len(gw.log_lines(f"request-accepted ep={slow} ")) == n_w, WAIT)
    # Reads to every device, sent in a stream through the kill and the restart.
    reads, stop = [], threading.Event()

    def stream():
        i = 0
        while not stop.is_set():
            ep = eps[i % n_dev]
            req.send(ep, {"id": f"r{i}", "op": "read", "path": "/3/0/9"})
            reads.append((ep, f"r{i}", time.time()))
            i += 1
            time.sleep(0.02)
    th = threading.Thread(target=stream, daemon=True)
    th.start()
    time.sleep(1.0)
    mark_kill = mqtt.mark()
    t_kill = time.time()
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait(5)
    gw.expect_exit = None
    gw2 = gateway(store=store, port=port, extra_conf=obs_conf, store_conf=hold)
    t_up = time.time()
    restarted = gw2.log_lines(r" started ")[0]
    held = int(re.search(r" held=(\d+)", restarted).group(1))
    assert len(gw2.log_lines(r"restored ep=")) == n_dev + 1, gw2.log()
    assert wait_until(lambda: len(gw2.log_lines(r"restored-registration-heard ")) == n_dev + 1,
                      t1 + WAIT), gw2.log()
    t_heard = time.time()
    assert wait_until(lambda: len(gw2.log_lines(r"observing ep=")) == n_dev, WAIT), gw2.log()
    time.sleep(2)
    stop.set()
    th.join(10)

    # Every device notifies again through the new gateway.
    mark_obs = mqtt.mark()
    for ep in eps:
        mqtt.wait_for(f"{prefix}/{ep}/data/3303/0/5700", since=mark_obs, timeout=WAIT)

    # Every request has its answer: the reads (those accepted while the gateway was away
    # waited at the broker, in the gateway's session) and the writes it had stored.
    # The one loss README admits: Paho acknowledges a request to the broker before the gateway
    # has it, so one the broker handed over in the instant before the kill, and that the
    # gateway had not committed yet, is gone. Anything else missing is a defect.
    def unanswered():
        got = {ep: finals_by_id(answers([mqtt], prefix, ep)) for ep in set(r[0] for r in reads)}
        return [(rid, round(t - t_kill, 3)) for ep, rid, t in reads if rid not in got[ep]]
    wait_until(lambda: not unanswered(), WAIT * 2)
    lost = unanswered()
    assert all(-0.5 < dt < 0.1 for _, dt in lost) and len(lost) <= 2, \
        f"reads without a final answer (id, sent at s after the kill): {lost}"
    assert wait_until(lambda: all(f"w{i}" in finals_by_id(answers([mqtt], prefix, slow))
                                  for i in range(n_w)), WAIT * 2), \
        finals_by_id(answers([mqtt], prefix, slow))
    copies = 0
    for ep in set(r[0] for r in reads) | {slow}:
        for rid, docs in finals_by_id(answers([mqtt], prefix, ep)).items():
            assert all(x["status"] == docs[0]["status"] for x in docs), docs
            assert docs[0]["status"] == "ok", docs
            copies += len(docs) - 1
    req.send(slow, {"id": "last", "op": "read", "path": "/1/0/1"})
    assert wait_until(lambda: "last" in finals_by_id(answers([mqtt], prefix, slow)), WAIT)
    last = finals_by_id(answers([mqtt], prefix, slow))["last"][0]
    assert last["value"] == 500 + n_w - 1, last   # the writes went out in order
    req.close()

    res, rslow = fleet.wait(t1 + t2 + WAIT * 2), ps.wait(t2 + WAIT * 3)
    for ep in eps + [slow]:
        r = rslow if ep == slow else res
        assert [x["code"] for x in r.ops("register", ep)] == ["2.01"], r.ops("register", ep)
        assert [x["code"] for x in r.ops("update", ep)] == ["2.04"], r.ops("update", ep)
    assert not gw2.log_lines(r" registered ep="), "a device registered again"
    puts = [t for t in rslow.trace("request") if t["method"] == "PUT"]
    data_after = len([m for m in mqtt.all()[mark_kill:] if "/data/" in m.topic])
    print(f"\n[gateway-kill] devices={n_dev}+1 reads={len(reads)} (lost in Paho's hands: "
          f"{len(lost)}) writes={n_w} "
          f"held at restart={held} restart took {t_up - t_kill:.2f} s, all devices heard "
          f"{t_heard - t_kill:.2f} s after the kill; answer copies={copies} "
          f"writes at the device={len(puts)} (>= {n_w}: one in flight may go again); "
          f"values published after the kill={data_after}")
    assert n_w <= len(puts) <= n_w + 1, puts


# ---------------------------------------------------------------- 3. a lossy path

def test_a_lossy_path_still_registers_notifies_and_answers(gateway, devsim, broker, mqtt,
                                                           prefix):
    """Ten devices behind udpproxy: 15 % of the datagrams dropped, 5 % duplicated, 5 %
    reordered, both ways, seed 16. CoAP retransmissions carry registrations and requests
    through; a request whose every attempt is lost ends in `timeout`."""
    gw = gateway(lwm2m_conf="  ack_timeout = 0.5;\n  max_retransmit = 2;\n",
                 extra_conf='observe = ( { path = "/3303/0/5700"; pmin = 0; } );\n')
    n_dev, per_dev = 10, 6
    epp = f"{prefix[:20]}-l"
    eps = [f"{epp}{i}" for i in range(n_dev)]
    with UdpProxy(("127.0.0.1", gw.port), drop=0.15, duplicate=0.05, reorder=0.05,
                  seed=16) as proxy:
        p = devsim.start(f"coap://127.0.0.1:{proxy.port}", "register", "serve:120",
                         "deregister", count=n_dev, ep_prefix=epp, rate=5, format="tlv",
                         trace=True, timeout_ms=60000)
        t0 = time.time()
        assert wait_until(lambda: len(gw.log_lines(r" registered ep=")) == n_dev, 60), \
            (proxy.summary(), gw.log()[-3000:])
        t_reg = time.time() - t0
        req = Requester(broker, prefix)
        ids = []
        for i in range(per_dev):
            for ep in eps:
                doc = ({"op": "read", "path": "/3/0/0"} if i % 2 == 0 else
                       {"op": "write", "path": "/1/0/1", "value": 100 + i})
                req.send(ep, dict(doc, id=f"q{i}"))
                ids.append((ep, f"q{i}"))
        t1 = time.time()

        def done():
            return all(rid in finals_by_id(answers([mqtt], prefix, ep)) for ep, rid in ids)
        assert wait_until(done, 90), proxy.summary()
        t_req = time.time() - t1
        req.close()
        time.sleep(2)
        p.proc.send_signal(signal.SIGINT)
        res = p.wait(90)
        counts = proxy.snapshot()
        summary = proxy.summary()

    statuses = collections.Counter()
    for ep, rid in ids:
        docs = finals_by_id(answers([mqtt], prefix, ep))[rid]
        assert len(docs) == 1, docs                      # exactly one final answer
        assert docs[0]["status"] in ("ok", "timeout"), docs
        if docs[0]["status"] == "timeout":
            assert docs[0].get("error"), docs
        statuses[docs[0]["status"]] += 1
    regs = collections.Counter(r["code"] for r in res.ops("register"))
    assert regs == {"2.01": n_dev}, res.ops("register")
    deregs = collections.Counter(r["code"] for r in res.ops("deregister"))

    # Notifications: every device's reach MQTT, or its Observe went unanswered (logged; sent
    # again at the device's next Update, which comes after this test);
    # none is published twice (a duplicated datagram, or the same message retransmitted).
    sent = published = 0
    for ep in eps:
        notes = res.trace("notify", ep=ep)
        n_pub = len(mqtt.on(f"{prefix}/{ep}/data/3303/0/5700"))
        sent += len(notes)
        published += n_pub
        assert n_pub or gw.log_lines(f"request-unanswered ep={ep} op=observe "), ep
    reached = counts.get("up.unique.notification", 0)   # Observe answers included
    stale = len(gw.log_lines(r"notification-stale "))
    dups = len(gw.log_lines(r"duplicate address="))
    print(f"\n[lossy-path] injected: {summary}\n  registered {n_dev}/{n_dev} in {t_reg:.1f} s "
          f"(de-register: {dict(deregs)}); requests {len(ids)}: {dict(statuses)} in "
          f"{t_req:.1f} s; notifications sent={sent} reached the gateway={reached} (distinct) "
          f"published={published} dropped as stale (reordered)={stale}; retransmitted "
          f"requests answered again by the gateway={dups}")
    assert counts.get("dropped", 0) > 0 and counts.get("duplicated", 0) > 0
    assert counts.get("reordered", 0) > 0
    assert published <= reached, "more values published than distinct notifications arrived"
    assert published + stale >= reached - n_dev * 2, (published, stale, reached)


# ---------------------------------------------------------------- 4. storm and flood

def malformed_datagrams(rng, n):
    """`n` datagrams of five kinds: random bytes, truncated CoAP headers, bad options, valid
    CoAP to paths that do not exist, and Registers with bad link-format."""
    out = []
    for i in range(n):
        kind = i % 5
        mid = rng.randrange(65536)
        if kind == 0:
            d = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        elif kind == 1:
            d = bytes([0x40 | rng.randrange(16), 0x01, mid >> 8])[:rng.randrange(1, 4)]
        elif kind == 2:
            # Option delta 15 (reserved), a length past the end, or a token length of 9+.
            d = rng.choice([
                bytes([0x40, 0x01, mid >> 8, mid & 0xff, 0xf1, 0x41]),
                bytes([0x40, 0x02, mid >> 8, mid & 0xff, 0xbd, 0x40]) + b"rd",
                bytes([0x4c, 0x01, mid >> 8, mid & 0xff]) + b"\x00" * 12,
                bytes([0x40, 0x01, mid >> 8, mid & 0xff, 0xb2]) + b"rd" + b"\xff",
            ])
        elif kind == 3:
            path = rng.choice([[b"foo"], [b"rd", b"nosuchid"], [b"dp", b"x"], [b".well-known"]])
            opts = [(OPT_URI_PATH, p) for p in path]
            d = coap_encode(rng.choice([COAP_CON, COAP_NON]), rng.choice(["0.01", "0.02",
                            "0.03", "0.04"]), mid, os.urandom(4), opts, b"x" * rng.randrange(8))
        else:
            links = rng.choice(["<<<", "</3/0", "</3/0>;;;", "</a b>", ",,,", "</3/0>;ct=\"x"])
            d = register_datagram(mid, os.urandom(4),
                                  [f"ep=flood-{rng.randrange(10**6)}", "lt=60"], links)
        out.append(d)
    return out


def udp_drops(port):
    """How many datagrams the kernel dropped at the UDP socket bound to `port` (its receive
    buffer was full): the last column of /proc/net/udp."""
    try:
        with open("/proc/net/udp") as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if int(cols[1].split(":")[1], 16) == port:
                    return int(cols[-1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def test_a_registration_storm_and_a_flood_leave_other_devices_served(gateway, devsim, broker,
                                                                     mqtt, prefix):
    """10,000 devices register at once (two devsim processes: one holds three descriptors per
    device, and the hard limit of open files is 20,000), while 5 sockets send malformed
    datagrams (1,000 a second in all); a device registered before keeps notifying
    and answers reads. Under the sanitizers (three times slower) the storm is 5,000."""
    n = 5000 if SLOW > 1 else 10000
    halves = [n // 2, n - n // 2]
    # At info level: at debug, the flood alone would write a log line per datagram.
    gw = gateway(extra_conf='observe = ( { path = "/3303/0/5700"; endpoint = "*-keep";'
                            ' pmin = 0; } );\n', mqtt_conf="  stats_interval = 1;\n",
                 args=("--log-level", "info"))
    keep = f"{prefix[:20]}-keep"
    topic = f"{prefix}/{keep}/data/3303/0/5700"
    # The storm publishes 30,000 lifecycle messages: watch the kept device and the stats on a
    # collector of their own, so that each look does not go through all of them.
    mine = Collector(broker, f"{prefix}/{keep}/#", prefix)
    stats_col = Collector(broker, f"{prefix}/gateway/stats", prefix)
    pk = devsim.start(gw.server, "register", "serve:300", "deregister", ep=keep, rate=5,
                      format="tlv")
    mine.wait_count(lambda m: m.topic == topic, 2, timeout=WAIT)

    # The flood: datagrams from 5 sockets until told to stop.
    stop = threading.Event()
    flood = collections.Counter()

    def flooder(seed):
        # 200 datagrams a second from each of 5 sockets, each made afresh (new Message IDs:
        # the same datagram again would only be a retransmission, answered from the cache).
        rng = random.Random(seed)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        while not stop.is_set():
            for d in malformed_datagrams(rng, 20):
                try:
                    s.sendto(d, ("127.0.0.1", gw.port))
                    flood["sent"] += 1
                except OSError:
                    flood["send-busy"] += 1
            try:
                while True:
                    s.recv(2048)
                    flood["answers"] += 1
            except OSError:
                pass
            time.sleep(0.1)
        s.close()

    floods = [threading.Thread(target=flooder, args=(k,), daemon=True) for k in range(5)]
    # Reads to the kept device, one at a time, each timed. The bound is the CoAP
    # retransmission schedule of a datagram lost two or three times over (2 + 4 + 8 s, and
    # more): a storm overflows the gateway's socket, and what is lost there is lost for the
    # kept device too.
    req = Requester(broker, prefix)
    latencies, unanswered = [], []

    def reader():
        i = 0
        while not stop.is_set():
            rid = f"r{i}"
            t = time.monotonic()
            req.send(keep, {"id": rid, "op": "read", "path": "/3/0/0"})
            ok = wait_until(lambda: rid in finals_by_id(answers([mine], prefix, keep)),
                            READ_BOUND, 0.05)
            if ok:
                latencies.append(time.monotonic() - t)
            else:
                unanswered.append(rid)
            i += 1
    rd = threading.Thread(target=reader, daemon=True)

    mark, smark = mine.mark(), stats_col.mark()
    t0 = time.monotonic()
    for th in floods:
        th.start()
    rd.start()
    storm = [devsim.start(gw.server, "register", "silent", count=c,
                          ep_prefix=f"{prefix[:16]}-s{k}-", rate=0, quiet=True,
                          timeout_ms=60000, extra=("--concurrency", "200"))
             for k, c in enumerate(halves)]
    results = [p.wait(120) for p in storm]
    t_storm = time.monotonic() - t0
    kernel_drops = udp_drops(gw.port)
    reg_ok = sum(r.summary["ok"] for r in results)
    # The gateway's own count: every storm device plus the kept one.
    stats = stats_col.wait_for(f"{prefix}/gateway/stats",
                               lambda m: m.json()["registered"] == n + 1,
                               since=smark, timeout=WAIT * 2).json()
    time.sleep(1)
    stop.set()
    for th in floods:
        th.join(5)
    rd.join(READ_BOUND + 5)
    values = [m for m in mine.on(topic, mark)]
    gaps = [b.at - a.at for a, b in zip(values, values[1:])]
    req.close()
    mine.close()
    stats_col.close()
    pk.proc.send_signal(signal.SIGINT)
    rk = pk.wait(WAIT)
    print(f"\n[storm] {n} devices ({'sanitizer build: scaled down' if SLOW > 1 else 'full'}) "
          f"registered ok={reg_ok} in {t_storm:.1f} s, gateway says registered="
          f"{stats['registered']} invalid={stats.get('invalid')}; flood datagrams sent="
          f"{flood['sent']} answered={flood['answers']}; datagrams the kernel dropped at the "
          f"gateway's socket (receive buffer full)={kernel_drops}; kept device: "
          f"{len(values)} values, "
          f"longest gap {max(gaps) if gaps else 0:.2f} s, reads answered={len(latencies)} "
          f"(max {max(latencies) if latencies else 0:.2f} s, unanswered {len(unanswered)})")
    assert reg_ok == n, [r.summary for r in results]
    assert flood["sent"] > 1000
    assert not unanswered, unanswered
    assert latencies and max(latencies) < READ_BOUND
    assert all(a["status"] == "ok" for docs in finals_by_id(answers([mine], prefix, keep))
               .values() for a in docs), "a read of the kept device failed"
    assert values and max(gaps, default=0) < READ_BOUND, gaps
    assert rk.one("deregister")["code"] == "2.02", rk


# ---------------------------------------------------------------- 5. back-pressure

def raw_mqtt_subscriber(port, client_id, topic_filter):
    """A subscriber that never reads past its SUBACK and never acknowledges: the broker's
    in-flight window to it fills at once, then its queue (max_queued_messages)."""
    s = socket.create_connection(("127.0.0.1", port))
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
    s.sendall(bytes([0x10, len(body)]) + body)
    assert s.recv(4)[0] == 0x20
    t = topic_filter.encode()
    body = b"\x00\x01" + len(t).to_bytes(2, "big") + t + b"\x01"
    s.sendall(bytes([0x82, len(body)]) + body)
    return s


@pytest.mark.parametrize("version", ["3.1.1", "5"])
def test_a_broker_that_pushes_back_costs_no_service_and_no_data(gateway, devsim, tmp_path,
                                                                prefix, version):
    """mosquitto with max_inflight_messages 1 (for an MQTT 5 client also its Receive Maximum:
    the gateway may have one publication in flight) and max_queued_messages 1000, a
    subscriber that never acknowledges, and then a broker that stops reading altogether
    (SIGSTOP, 3 s). Devices keep registering and requests keep being carried out; the
    gateway's memory does not run away; the collector (QoS 1) gets every value."""
    b = start_mosquitto(tmp_path, extra_conf="max_inflight_messages 1\n"
                                             "max_queued_messages 1000\nsys_interval 1\n")
    col = Collector(b, f"{prefix}/#", prefix)
    slow_sub = None
    req = None
    try:
        gw = gateway(mqtt_uri=b.uri, wait_online=False,
                     mqtt_conf=f'  version = "{version}";\n  stats_interval = 1;\n',
                     extra_conf='observe = ( { path = "/3303/0/5700"; endpoint = "*-bp*";'
                                ' pmin = 0; } );\n')
        assert wait_until(lambda: "mqtt-subscribed" in gw.log(), WAIT), gw.log()
        n_dev = 20
        epp = f"{prefix[:20]}-bp"
        fleet = devsim.start(gw.server, "register", "serve:300", "deregister", count=n_dev,
                             ep_prefix=epp, rate=10, format="tlv", trace=True)
        slow = f"{prefix[:20]}-slowdev"
        devsim.start(gw.server, "register", "serve:300", "deregister", ep=slow,
                          extra=("--delay-ms", "200"))
        col.wait_count(lambda m: "/data/" in m.topic, n_dev * 3, timeout=WAIT)
        col.wait_for(f"{prefix}/{slow}/event", timeout=WAIT)
        rss0 = vm_rss_kb(gw.proc.pid)

        slow_sub = raw_mqtt_subscriber(b.port, f"slow-{uuid.uuid4().hex[:6]}", f"{prefix}/#")
        time.sleep(6)   # 1,200 values: its queue overflows, the broker drops for it
        rss1 = vm_rss_kb(gw.proc.pid)

        # Writes to the slow device, then the broker stops reading for 3 s.
        req = Requester(b, prefix)
        n_w = 10
        for i in range(n_w):
            req.send(slow, {"id": f"w{i}", "op": "write", "path": "/1/0/1", "value": 10 + i})
        assert wait_until(lambda: len(gw.log_lines(f"request-accepted ep={slow} ")) == n_w,
                          WAIT)
        stalled_at = time.time()
        b.proc.send_signal(signal.SIGSTOP)
        try:
            late = devsim(gw.server, "register", "deregister", ep=f"{epp}-late",
                          wall_timeout=20)
            peak = 0
            t_end = time.monotonic() + 3
            while time.monotonic() < t_end:
                peak = max(peak, vm_rss_kb(gw.proc.pid))
                time.sleep(0.1)
            done_while_stalled = len(gw.log_lines(f"request-done ep={slow} "))
        finally:
            b.proc.send_signal(signal.SIGCONT)
        resumed_at = time.time()
        assert late.one("register", f"{epp}-late")["code"] == "2.01", late
        assert late.one("deregister", f"{epp}-late")["code"] == "2.02", late

        assert wait_until(lambda: all(f"w{i}" in finals_by_id(answers([col], prefix, slow))
                                      for i in range(n_w)), WAIT * 2)
        time.sleep(2)
        fleet.proc.send_signal(signal.SIGINT)
        res = fleet.wait(WAIT * 2)
        t_stop = time.monotonic()
        gone = wait_until(lambda: len([m for m in col.all() if m.topic.startswith(
            f"{prefix}/{epp}") and m.topic.endswith("/event") and
            m.json()["event"] == "deregistered"]) >= n_dev, WAIT)
        t_drain = time.monotonic() - t_stop
        col.settle(1.0, timeout=WAIT)
        rss2 = vm_rss_kb(gw.proc.pid)
        sent = delivered = 0
        for i in range(n_dev):
            ep = f"{epp}{i}"
            sent += 1 + len(res.trace("notify", ep=ep))
            keys, _ = data_values([col], f"{prefix}/{ep}/data/3303/0/5700")
            delivered += len(keys)
        n_dropped = dropped(gw)[0]
        late_n = late_notifications(gw, [col], prefix, [f"{epp}{i}" for i in range(n_dev)])
        stats = last_stats([col], prefix) or {"dropped": None}
        broker_log = open(b.log_path, errors="replace").read()
        slow_drops = "Outgoing messages are being dropped" in broker_log
        sys_dropped = retained_sys(b, "$SYS/broker/publish/messages/dropped")
        print(f"\n[back-pressure mqtt {version}] values sent={sent} delivered at QoS 1={delivered} "
              f"(after their De-register: {late_n}) "
              f"gateway dropped={n_dropped} (stats {stats['dropped']}); writes done while "
              f"the broker was stopped={done_while_stalled}/{n_w}; a registration during the "
              f"stall: {late.one('register', f'{epp}-late')['code']} in "
              f"{late.one('register', f'{epp}-late')['ms']:.1f} ms; VmRSS KiB before={rss0} "
              f"slow subscriber={rss1} stalled peak={peak} after={rss2}; the broker dropped "
              f"for the slow subscriber: {slow_drops} ($SYS dropped={sys_dropped}); stall "
              f"{resumed_at - stalled_at:.1f} s; the devices' last messages "
              f"{'arrived' if gone else 'had not arrived'} {t_drain:.1f} s after they stopped")
        assert delivered + late_n == sent, \
            f"{sent - delivered - late_n} of {sent} values never reached the broker"
        assert done_while_stalled >= 1, "no request was carried out while the broker stalled"
        assert n_dropped == 0 and stats["dropped"] == 0
        assert gone, "the devices' de-registrations were never published"

        assert peak - rss0 < 64 * 1024 and rss2 - rss0 < 64 * 1024, (rss0, peak, rss2)
        assert slow_drops, "the slow subscriber's queue never overflowed"
    finally:
        if req:
            req.close()
        if slow_sub:
            slow_sub.close()
        col.close()
        stop_mosquitto(b)


def metrics_now(port):
    """{ 'name{labels}': value } of the gateway's GET /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body = r.read().decode()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+) (\d+)$", body, re.M)}


def stop_fleet(fleet, col, prefix, eps):
    """Stops a devsim fleet (SIGINT: its devices de-register) and waits until `col` has every
    De-register and then nothing more for a second. Returns the fleet's result."""
    fleet.proc.send_signal(signal.SIGINT)
    res = fleet.wait(WAIT * 2)
    for ep in eps:
        col.wait_for(f"{prefix}/{ep}/event", lambda x: x.json()["event"] == "deregistered",
                     timeout=WAIT * 2)
    col.settle(1.0, timeout=WAIT)
    return res


def rsts(sock, n, timeout):
    """How many CoAP resets arrive on `sock` within `timeout` s, up to `n`."""
    count, deadline = 0, time.monotonic() + timeout
    while count < n and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(2048)
        except OSError:
            break
        count += (data[0] >> 4) & 3 == COAP_RST
    return count


@pytest.mark.parametrize("version", ["3.1.1", "5"])
def test_a_broker_that_stops_acknowledging_makes_the_gateway_drop_and_say_so(
        gateway, devsim, tmp_path, prefix, version):
    """mosquitto stops (SIGSTOP) for as long as it takes a device notifying 200 times a second
    to fill the broker's window (unacknowledged publications: the gateway's log says how many
    at connection) and the gateway's queue (max_buffered 20). While it is stopped, the gateway
    has handed the MQTT client no more than the window, says so once (mqtt-queue-full), its
    drop counter moves and it has exactly 20 waiting; once the broker is back, one line says
    how many were dropped, of which kind, and every value is either delivered or among them."""
    b = start_mosquitto(tmp_path)
    col = Collector(b, f"{prefix}/#", prefix)
    http_port = free_tcp_port()
    max_buffered = 20
    try:
        gw = gateway(mqtt_uri=b.uri, wait_online=False,
                     mqtt_conf=f'  version = "{version}";\n  max_buffered = {max_buffered};\n'
                               "  stats_interval = 1;\n",
                     extra_conf='observe = ( { path = "/3303/0/5700"; endpoint = "*-full";'
                                ' pmin = 0; } );\n'
                                f'http: {{ listen = "http://127.0.0.1:{http_port}"; }};\n')
        connected = gw.wait_log(r"mqtt-connected ", WAIT)
        window = int(re.search(r" window=(\d+)", connected).group(1))
        assert 1 <= window <= 256, connected
        ep = f"{prefix[:20]}-full"
        topic = f"{prefix}/{ep}/data/3303/0/5700"
        dev = devsim.start(gw.server, "register", "serve:60", "deregister", ep=ep, rate=200,
                           format="tlv", trace=True)
        col.wait_count(lambda m: m.topic == topic, 10, timeout=WAIT)
        before = metrics_now(http_port)
        assert before["lwm2m_gw_mqtt_dropped_total"] == 0

        stopped_at = time.time()
        b.proc.send_signal(signal.SIGSTOP)
        try:
            # window + max_buffered values at 200/s, and the drops begin.
            said = wait_until(lambda: gw.log_lines(r"mqtt-queue-full "), WAIT * SLOW)
            stalled = metrics_now(http_port)
            full_lines = gw.log_lines(r"mqtt-queue-full ")
        finally:
            b.proc.send_signal(signal.SIGCONT)
        resumed_at = time.time()
        assert said, gw.log()[-3000:]
        assert stalled["lwm2m_gw_mqtt_dropped_total"] > 0, stalled
        assert stalled["lwm2m_gw_mqtt_queued"] == max_buffered, stalled
        # Paho got no more than the window while the broker was stopped, values and stats
        # alike (give or take the few acknowledged between the reading and the stop)
        handed = sum(stalled[f'lwm2m_gw_mqtt_published_total{{kind="{k}"}}']
                     - before[f'lwm2m_gw_mqtt_published_total{{kind="{k}"}}']
                     for k in ("data", "stats"))
        assert handed <= window + 20, (handed, window)
        assert len(full_lines) == 1, full_lines
        # the first publication the full queue turned away: a value, or the stats (each second)
        assert (f" topic={topic} " in full_lines[0]
                or f" topic={prefix}/gateway/stats " in full_lines[0]), full_lines
        assert " broker=connected " in full_lines[0], full_lines
        assert stopped_at <= log_time(full_lines[0]) <= resumed_at

        # The queue drains: the burst's end says how many, by kind; nothing is dropped now.
        summary = gw.wait_log(r"mqtt-publish-dropped .*queue full", WAIT * SLOW)
        n_burst = int(re.search(r" count=(\d+)", summary).group(1))
        n_data = int(re.search(r" data=(\d+)", summary).group(1))
        time.sleep(1)
        dev.proc.send_signal(signal.SIGINT)
        res = dev.wait(WAIT)
        col.wait_for(f"{prefix}/{ep}/event", lambda x: x.json()["event"] == "deregistered",
                     timeout=WAIT)
        col.settle(1.0, timeout=WAIT)
        total, mine, unacked = dropped(gw, topic)
        m = metrics_now(http_port)
        sent = 1 + len(res.trace("notify", ep=ep))
        delivered, _ = data_values([col], topic)
        late = late_notifications(gw, [col], prefix, [ep])
        print(f"\n[stops acknowledging mqtt {version}] window={window} "
              f"max_buffered={max_buffered}; stalled {resumed_at - stopped_at:.1f} s; while "
              f"stalled: handed={handed} dropped_total={stalled['lwm2m_gw_mqtt_dropped_total']} "
              f"queued={stalled['lwm2m_gw_mqtt_queued']}; burst line: count={n_burst} "
              f"data={n_data}; "
              f"values sent={sent} delivered={len(delivered)} "
              f"shed={m['lwm2m_gw_coap_dropped_total']} after the De-register={late}")
        assert total == n_burst == m["lwm2m_gw_mqtt_dropped_total"] and unacked == 0, \
            (total, n_burst, m)
        assert mine == n_data > 0
        assert m["lwm2m_gw_mqtt_queued"] == 0
        # once the queue overflowed, the kernel dropped notifications before they were read
        shed = m["lwm2m_gw_coap_dropped_total"]
        assert len(delivered) + n_data + shed + late == sent, \
            (sent, len(delivered), n_data, shed, late)
    finally:
        col.close()
        stop_mosquitto(b)


@pytest.mark.parametrize("version", ["3.1.1", "5"])
def test_values_at_qos_0_beyond_what_paho_may_hold_all_arrive(gateway, devsim, tmp_path,
                                                              prefix, version):
    """A mapping publishes the values at QoS 0. Ten devices notify 300 times a second each, and
    mosquitto stops reading (SIGSTOP) for 2 s: more values than the gateway hands Paho unwritten
    at a time (1,024) pile up behind it. Paho says when it has written each; once the broker
    reads again, the rest follow, and every value is delivered, none dropped."""
    b = start_mosquitto(tmp_path, extra_conf="max_queued_messages 0\n")
    col = Collector(b, f"{prefix}/#", prefix)
    try:
        gw = gateway(mqtt_uri=b.uri, wait_online=False,
                     mqtt_conf=f'  version = "{version}";\n  max_buffered = 100000;\n'
                               "  stats_interval = 1;\n",
                     extra_conf='observe = ( { path = "/3303/0/5700"; endpoint = "*-q0*";'
                                ' pmin = 0; } );\n'
                                'mappings = ( { path = "/3303/0/5700"; qos = 0;'
                                ' topic = "{prefix}/{ep}/data/{oid}/{iid}/{rid}"; } );\n')
        assert wait_until(lambda: "mqtt-subscribed" in gw.log(), WAIT), gw.log()
        n_dev = 10
        epp = f"{prefix[:20]}-q0"
        eps = [f"{epp}{i}" for i in range(n_dev)]
        fleet = devsim.start(gw.server, "register", "serve:60", "deregister", count=n_dev,
                             ep_prefix=epp, rate=300, format="tlv", trace=True)
        col.wait_count(lambda m: "/data/" in m.topic, n_dev * 100, timeout=WAIT)
        b.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(2)
        finally:
            b.proc.send_signal(signal.SIGCONT)
        time.sleep(2)
        res = stop_fleet(fleet, col, prefix, eps)
        sent = delivered = 0
        for ep in eps:
            sent += 1 + len(res.trace("notify", ep=ep))
            keys, _ = data_values([col], f"{prefix}/{ep}/data/3303/0/5700")
            delivered += len(keys)
        late = late_notifications(gw, [col], prefix, eps)
        total, _, _ = dropped(gw)
        stats = last_stats([col], prefix) or {"dropped": None}
        print(f"\n[qos 0 mqtt {version}] values sent={sent} delivered={delivered} after their "
              f"De-register={late} dropped={total} (stats {stats['dropped']})")
        assert sent > 1024 * 2, sent
        assert total == 0 and stats["dropped"] == 0, (total, stats)
        assert delivered + late == sent, \
            f"{sent - delivered - late} of {sent} values never reached the broker"
    finally:
        col.close()
        stop_mosquitto(b)


def test_notifications_the_broker_cannot_take_are_shed_before_they_are_read(
        gateway, devsim, coap_socket, tmp_path, prefix):
    """Five devices notify 200 times a second each, and mosquitto stops (SIGSTOP) until the
    gateway's queue (max_buffered 100) has overflowed: the gateway then has the kernel drop
    notifications before it reads them (notifications-shed), and reads few while the kernel
    drops many (lwm2m_gw_coap_dropped_total). A device registering meanwhile gets its 2.01:
    requests are never shed. Once the broker is back, every device's values flow again, the
    end of the shedding is logged with how many, and every value is delivered or counted:
    sent = delivered + dropped at the queue + dropped by the kernel."""
    b = start_mosquitto(tmp_path)
    col = Collector(b, f"{prefix}/#", prefix)
    http_port = free_tcp_port()
    try:
        gw = gateway(mqtt_uri=b.uri, wait_online=False,
                     mqtt_conf="  max_buffered = 100;\n  stats_interval = 0;\n",
                     extra_conf='observe = ( { path = "/3303/0/5700"; endpoint = "*-shed*";'
                                ' pmin = 0; } );\n'
                                f'http: {{ listen = "http://127.0.0.1:{http_port}"; }};\n')
        assert wait_until(lambda: "mqtt-subscribed" in gw.log(), WAIT), gw.log()
        n_dev = 5
        epp = f"{prefix[:20]}-shed"
        eps = [f"{epp}{i}" for i in range(n_dev)]
        topics = [f"{prefix}/{ep}/data/3303/0/5700" for ep in eps]
        fleet = devsim.start(gw.server, "register", "serve:120", "deregister", count=n_dev,
                             ep_prefix=epp, rate=200, format="tlv", trace=True)
        for t in topics:
            col.wait_count(lambda m, t=t: m.topic == t, 10, timeout=WAIT)

        b.proc.send_signal(signal.SIGSTOP)
        try:
            began = wait_until(lambda: gw.log_lines(r"notifications-shed "), WAIT * SLOW)
            m0 = metrics_now(http_port)
            time.sleep(2)
            m1 = metrics_now(http_port)
            newcomer = coap_socket(gw.port).exchange(
                register_datagram(0x5eed, b"\x05\xed", [f"ep={epp}-new", "lt=300"], "</3/0>"),
                timeout=READ_BOUND)
            # Answers for no observation, which the gateway resets when it reads them: only
            # those that look like notifications (NON 2.05 with Observe) are shed unread.
            resets = {}
            for kind, opts in (("notification", [(OPT_OBSERVE, b"\x07")]), ("answer", [])):
                probe = coap_socket(gw.port)
                for mid in range(20):
                    probe.sock.sendto(coap_encode(COAP_NON, "2.05", 0x600 + mid, os.urandom(8),
                                                  opts, b"1"), probe.dest)
                resets[kind] = rsts(probe.sock, 20, READ_BOUND if not opts else 2.0)
        finally:
            b.proc.send_signal(signal.SIGCONT)
        assert began, gw.log()[-3000:]
        shed = m1["lwm2m_gw_coap_dropped_total"] - m0["lwm2m_gw_coap_dropped_total"]
        read = (m1['lwm2m_gw_coap_responses_total{kind="notification"}']
                - m0['lwm2m_gw_coap_responses_total{kind="notification"}'])
        assert newcomer.code == "2.01", newcomer
        assert resets == {"notification": 0, "answer": 20}, resets

        # The broker is back: the queue drains, the shedding ends, the values flow again.
        end = gw.wait_log(r"notifications-shed-end ", WAIT * SLOW)
        mark = col.mark()
        for t in topics:
            col.wait_count(lambda m, t=t: m.topic == t, 10, since=mark, timeout=WAIT)
        res = stop_fleet(fleet, col, prefix, eps)
        m = metrics_now(http_port)
        sent = sum(1 + len(res.trace("notify", ep=ep)) for ep in eps)
        delivered = sum(len(data_values([col], t)[0]) for t in topics)
        late = late_notifications(gw, [col], prefix, eps)
        at_queue, kernel = m["lwm2m_gw_mqtt_dropped_total"], m["lwm2m_gw_coap_dropped_total"]
        print(f"\n[shedding] in 2 s while the broker was stopped: the kernel dropped {shed} "
              f"notifications and the gateway read {read}; resets of probes {resets}; "
              f"{end.split(' warn ')[-1].strip()}; values "
              f"sent={sent} delivered={delivered} dropped at the queue={at_queue} by the "
              f"kernel={kernel} after their De-register={late}")
        assert shed > 0 and read < shed / 4, (shed, read)
        assert int(re.search(r" dropped=(\d+)", end).group(1)) > 0, end
        # the kernel's count has the 20 notification probes too
        assert delivered + at_queue + kernel - 20 + late == sent, \
            (sent, delivered, at_queue, kernel, late)
    finally:
        col.close()
        stop_mosquitto(b)


def retained_sys(b, topic):
    """The value of one $SYS topic (published every sys_interval), or None."""
    c = Collector(b, topic)
    try:
        wait_until(lambda: c.all(), 3)
        return c.all()[-1].text if c.all() else None
    finally:
        c.close()


def test_a_storm_behind_a_narrow_window_loses_no_lifecycle_message(gateway, devsim, tmp_path,
                                                                   prefix):
    """A broker that takes one QoS 1 publication at a time (MQTT 5 Receive Maximum 1) and a
    gateway queue of 5 (max_buffered): 100 devices register at once, three lifecycle messages
    each. Only values and stats may be dropped from a full queue; every device's retained
    `online`, its registration and its event reach the broker, and nothing is counted as
    dropped."""
    b = start_mosquitto(tmp_path, extra_conf="max_inflight_messages 1\n")
    col = Collector(b, f"{prefix}/#", prefix)
    http_port = free_tcp_port()
    n = 100
    try:
        gw = gateway(mqtt_uri=b.uri, wait_online=False,
                     mqtt_conf='  version = "5";\n  max_buffered = 5;\n',
                     extra_conf=f'http: {{ listen = "http://127.0.0.1:{http_port}"; }};\n')
        connected = gw.wait_log(r"mqtt-connected ", WAIT)
        assert " window=1 " in connected, connected
        storm = devsim.start(gw.server, "register", "silent", count=n,
                             ep_prefix=f"{prefix[:16]}-w-", rate=0, quiet=True,
                             timeout_ms=60000, extra=("--concurrency", "100"))
        res = storm.wait(120)
        assert res.rc == 0, res

        def online():
            return {m.topic for m in col.all()
                    if m.topic.endswith("/status") and m.payload == b"online"
                    and "/gateway/" not in m.topic}
        assert wait_until(lambda: len(online()) == n, WAIT * SLOW), len(online())
        events = [m for m in col.all() if m.topic.endswith("/event")]
        regs = [m for m in col.all() if m.topic.endswith("/registration") and m.payload]
        m = metrics_now(http_port)
        print(f"\n[narrow window] {n} devices: online={len(online())} registrations={len(regs)} "
              f"events={len(events)} dropped={m['lwm2m_gw_mqtt_dropped_total']}")
        assert len(events) == n and len(regs) == n, (len(events), len(regs))
        assert m["lwm2m_gw_mqtt_dropped_total"] == 0, m
        assert not gw.log_lines(r"mqtt-queue-full "), gw.log_lines(r"mqtt-queue-full ")
    finally:
        col.close()
        stop_mosquitto(b)
