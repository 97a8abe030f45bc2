"""Fixtures of the end-to-end scenarios: a real mosquitto on a free loopback port, the real
gateway binary, an MQTT collector, devsim (simulated LwM2M devices on libcoap) and raw CoAP
requests through Debian's coap-client-openssl.

CTest runs each test_*.py file with /usr/bin/python3 -m pytest and the environment:
  GW_BINARY      the lwm2m-mqtt-gateway executable
  GW_DEVSIM      the devsim executable
  GW_SOURCE_DIR  the source tree (for conf/gateway.conf)

Every wait here is bounded, and every process a fixture starts is killed at its teardown.
The collector subscribes with MQTT 5 "retain as published", so that the retain flag it
records is the one the gateway published with, even for a subscription made before it.
"""
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import pytest

try:
    import paho.mqtt.client as paho
    from paho.mqtt.subscribeoptions import SubscribeOptions
except ImportError:  # pragma: no cover - reported as a skip by the fixtures
    paho = None

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None)
COAP_CLIENT = shutil.which("coap-client-openssl")

# GW_VALGRIND=1 (tools/valgrind.sh) runs every gateway the fixtures start under valgrind's
# memcheck; the waits below then stretch by GW_E2E_SLOWNESS (default 10 under valgrind, else 1).
VALGRIND = os.environ.get("GW_VALGRIND") == "1"
SLOWNESS = float(os.environ.get("GW_E2E_SLOWNESS") or (10 if VALGRIND else 1))
# A scenario that counts what happens within so many seconds of the device's clock (pmin, a
# burst's pace): under valgrind the gateway's answers come too late for its counts to mean
# anything, so it runs in the normal and sanitizer builds only.
timed_by_the_device = pytest.mark.skipif(
    VALGRIND, reason="counts events in device time, which valgrind's slowdown changes")

START_TIMEOUT = 8.0 * SLOWNESS  # seconds for a process to come up (sanitizer builds are slower)
STOP_TIMEOUT = 6.0 * SLOWNESS   # seconds for the gateway to stop after SIGTERM/SIGINT
WAIT_TIMEOUT = 5.0 * SLOWNESS   # seconds for an expected MQTT message
SETTLE = 0.4 * min(SLOWNESS, 3)  # seconds of silence taken as "nothing more is coming"


# ---------------------------------------------------------------- environment

def _env_path(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set (run through ctest -L e2e)")
    if not os.path.exists(value):
        pytest.skip(f"{name}={value} does not exist (build it first)")
    return value


@pytest.fixture(scope="session")
def gw_binary() -> str:
    return _env_path("GW_BINARY")


@pytest.fixture(scope="session")
def devsim_binary() -> str:
    return _env_path("GW_DEVSIM")


@pytest.fixture(scope="session")
def source_dir() -> str:
    value = os.environ.get("GW_SOURCE_DIR")
    if value:
        return value
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _free_port(kind: int) -> int:
    """A port that binds now, chosen below the kernel's ephemeral range, where the client
    sockets of the tests running beside this one (devsim, coap-client, MQTT clients) get
    theirs: a port picked from that range can be taken by one of them before the gateway or
    broker binds it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, max(low, 10001))
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port() -> int:
    return _free_port(socket.SOCK_STREAM)


def free_udp_port() -> int:
    return _free_port(socket.SOCK_DGRAM)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def now_ms() -> int:
    return int(time.time() * 1000)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


# ---------------------------------------------------------------- the broker

@dataclass
class Broker:
    host: str
    port: int
    proc: subprocess.Popen
    log_path: str

    @property
    def uri(self) -> str:
        return f"tcp://{self.host}:{self.port}"


def start_mosquitto(d, port: Optional[int] = None, extra_conf: str = "",
                    anonymous: bool = True) -> Broker:
    """Starts mosquitto with a config file in directory `d`, on `port` (a free one if None),
    and waits until it accepts connections. The caller stops it with stop_mosquitto()."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    if paho is None:
        pytest.skip("python3-paho-mqtt is not installed")
    port = port or free_tcp_port()
    conf = d / f"mosquitto-{port}.conf"
    log_path = str(d / "mosquitto.log")
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        f"allow_anonymous {'true' if anonymous else 'false'}\n"
        "persistence false\n"
        f"log_dest file {log_path}\n"
        "log_type all\n"
        "max_queued_messages 100000\n"
        # As root, mosquitto drops to user `mosquitto`, who cannot read the test's 0700
        # temporary directory (the password file): stay who we are.
        + ("user root\n" if os.geteuid() == 0 else "") + extra_conf)
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)

    def accepts() -> bool:
        if proc.poll() is not None:
            return True
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    wait_until(accepts, START_TIMEOUT, 0.05)
    if proc.poll() is not None:
        pytest.fail(f"mosquitto exited with {proc.returncode} at start; see {log_path}")
    if not accepts():
        _kill(proc)
        pytest.fail(f"mosquitto did not accept connections on port {port}")
    return Broker("127.0.0.1", port, proc, log_path)


def stop_mosquitto(b: Broker) -> None:
    _kill(b.proc)


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A real mosquitto, listening on a free loopback port, for the whole file."""
    b = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield b
    stop_mosquitto(b)


# ---------------------------------------------------------------- MQTT

@dataclass
class Msg:
    topic: str
    payload: bytes
    retain: bool
    at: float  # time.time() when received

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8")

    def json(self):
        return json.loads(self.payload)

    def __repr__(self) -> str:
        return f"Msg({self.topic!r}, {self.payload!r}, retain={self.retain})"


_client_seq = itertools.count()


class Collector:
    """An MQTT 5 client subscribed to one filter that records every message in order."""

    def __init__(self, broker: Broker, topic_filter: str, prefix: str = "",
                 username: Optional[str] = None, password: Optional[str] = None):
        self.prefix = prefix
        self.filter = topic_filter
        self._msgs: List[Msg] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._connected = threading.Event()
        self.client = paho.Client(client_id=f"e2e-{os.getpid()}-{next(_client_seq)}",
                                  protocol=paho.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(WAIT_TIMEOUT):
            self.close()
            raise RuntimeError("the MQTT collector could not connect to the broker")
        self.client.subscribe(topic_filter, options=SubscribeOptions(qos=1,
                                                                     retainAsPublished=True))
        if not self._subscribed.wait(WAIT_TIMEOUT):
            self.close()
            raise RuntimeError(f"no SUBACK for {topic_filter}")

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self._connected.set()

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        self._subscribed.set()

    def _on_message(self, client, userdata, m):
        with self._cond:
            self._msgs.append(Msg(m.topic, bytes(m.payload), bool(m.retain), time.time()))
            self._cond.notify_all()

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    # -- reading what arrived

    def all(self) -> List[Msg]:
        with self._cond:
            return list(self._msgs)

    def mark(self) -> int:
        """The number of messages so far: pass it as `since` to look only at later ones."""
        with self._cond:
            return len(self._msgs)

    def topic(self, *parts: str) -> str:
        return "/".join((self.prefix,) + parts)

    def messages_for(self, ep: str, since: int = 0) -> List[Msg]:
        """Every message under {prefix}/{ep}/, in order of arrival."""
        head = f"{self.prefix}/{ep}/"
        return [m for m in self.all()[since:] if m.topic.startswith(head)]

    def on(self, topic: str, since: int = 0) -> List[Msg]:
        return [m for m in self.all()[since:] if m.topic == topic]

    def wait_for(self, topic: str, predicate: Optional[Callable[[Msg], bool]] = None,
                 timeout: float = WAIT_TIMEOUT, since: int = 0) -> Msg:
        """The first message on `topic` (at index `since` or later) for which `predicate`
        holds; fails the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = since
            while True:
                while i < len(self._msgs):
                    m = self._msgs[i]
                    i += 1
                    if m.topic == topic and (predicate is None or predicate(m)):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [m for m in self._msgs[since:] if m.topic == topic]
                    pytest.fail(f"no matching message on {topic} within {timeout} s; "
                                f"on that topic: {seen!r}")
                self._cond.wait(left)

    def wait_count(self, predicate: Callable[[Msg], bool], count: int,
                   timeout: float = WAIT_TIMEOUT, since: int = 0) -> List[Msg]:
        """Waits until `count` messages (from `since`) satisfy `predicate`; returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self._msgs[since:] if predicate(m)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"only {len(found)} of {count} expected messages arrived "
                                f"within {timeout} s")
                self._cond.wait(left)

    def settle(self, quiet: float = SETTLE, timeout: float = WAIT_TIMEOUT) -> None:
        """Waits until nothing has arrived for `quiet` seconds (at most `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                last = self._msgs[-1].at if self._msgs else 0.0
                idle = time.time() - last
                if idle >= quiet:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(min(quiet - idle, left))


def retained(broker: Broker, topic_filter: str, wait: float = 0.5) -> dict:
    """What the broker holds retained under `topic_filter`: {topic: payload bytes}, read by a
    fresh subscription (a retained empty payload means nothing is held, so it never shows)."""
    c = Collector(broker, topic_filter)
    try:
        time.sleep(wait)
        return {m.topic: m.payload for m in c.all() if m.retain}
    finally:
        c.close()


@pytest.fixture
def prefix(request) -> str:
    """A topic prefix of this test alone, so that tests sharing the broker never meet."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)
    name = name[5:] if name.startswith("test-") else name
    return f"e2e-{uuid.uuid4().hex[:6]}-{name[:40].strip('-')}"


@pytest.fixture
def mqtt(broker, prefix):
    """The collector of everything under {prefix}/#."""
    c = Collector(broker, f"{prefix}/#", prefix)
    yield c
    c.close()


# ---------------------------------------------------------------- the gateway

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


@dataclass
class Gateway:
    proc: subprocess.Popen
    port: int
    prefix: str
    conf_path: str
    log_path: str
    expect_exit: Optional[int] = 0
    stopped_rc: Optional[int] = field(default=None)

    @property
    def server(self) -> str:
        return f"coap://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_lines(self, pattern: str) -> List[str]:
        rx = re.compile(pattern)
        return [line for line in self.log().splitlines() if rx.search(line)]

    def wait_log(self, pattern: str, timeout: float = WAIT_TIMEOUT) -> str:
        rx = re.compile(pattern)
        found: List[str] = []

        def seen() -> bool:
            found[:] = [line for line in self.log().splitlines() if rx.search(line)]
            return bool(found) or self.proc.poll() is not None

        wait_until(seen, timeout)
        if not found:
            pytest.fail(f"no gateway log line matches /{pattern}/ within {timeout} s\n"
                        f"--- gateway stderr ---\n{self.log()}")
        return found[0]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        """Sends `sig` and waits for the exit; returns the status (None if it hung, after
        which it is killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(self.proc)
                self.stopped_rc = None
                return None
        self.stopped_rc = self.proc.returncode
        return self.stopped_rc

    def sanitizer_report(self) -> str:
        text = self.log()
        if any(marker in text for marker in SANITIZER_MARKERS):
            return text
        return ""


def write_gateway_conf(path, *, port: int, mqtt_uri: str, prefix: str, store: str,
                       lifetime_min: int = 1, lifetime_max: int = 86400,
                       client_id: Optional[str] = None, extra: str = "",
                       mqtt_extra: str = "", lwm2m_extra: str = "", store_extra: str = "",
                       coaps_port: Optional[int] = None,
                       listen: Optional[List[str]] = None) -> None:
    coaps = f', "coaps://127.0.0.1:{coaps_port}"' if coaps_port else ""
    uris = ", ".join(f'"{u}"' for u in listen) if listen else \
        f'"coap://127.0.0.1:{port}"{coaps}'
    path.write_text(
        "# written by tests/e2e/conftest.py\n"
        "lwm2m: {\n"
        f'  listen = [ {uris} ];\n'
        f"  lifetime_min = {lifetime_min};\n"
        f"  lifetime_max = {lifetime_max};\n" + lwm2m_extra +
        "};\n"
        "mqtt: {\n"
        f'  uri = "{mqtt_uri}";\n'
        f'  client_id = "{client_id or "gw-" + prefix}";\n'
        f'  topic_prefix = "{prefix}";\n'
        "  qos = 1;\n"
        "  reconnect_min = 1;\n"
        "  reconnect_max = 2;\n" + mqtt_extra +
        "};\n"
        "store: {\n"
        f'  path = "{store}";\n' + store_extra +
        "};\n" + extra)


def _gateway_env(extra: Optional[dict]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LWM2M_GW_")}
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    if extra:
        env.update(extra)
    return env


VALGRIND_SUPPRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                     "tools", "valgrind.supp")


def _gateway_argv(gw_binary: str, args, report: str) -> List[str]:
    """The command that starts the gateway: itself, or under valgrind (GW_VALGRIND=1) with its
    report written to `report`, exiting 99 on a memory error or a definite leak."""
    if not VALGRIND:
        return [gw_binary, *args]
    argv = ["valgrind", "--tool=memcheck", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
            "--num-callers=30", f"--log-file={report}"]
    if os.path.exists(VALGRIND_SUPPRESSIONS):
        argv.append(f"--suppressions={VALGRIND_SUPPRESSIONS}")
    return argv + [gw_binary, *args]


def valgrind_report(path: str) -> str:
    """The valgrind log at `path` when it counts errors, else ""."""
    try:
        with open(path, "r", errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    counts = re.findall(r"ERROR SUMMARY: (\d+) errors", text)
    return text if any(int(n) for n in counts) else ""


def run_gateway(gw_binary: str, *args: str, env: Optional[dict] = None,
                timeout: float = 10.0) -> subprocess.CompletedProcess:
    """Runs the gateway to completion (for the command-line checks); a sanitizer report in
    its stderr, or a valgrind report (GW_VALGRIND=1), fails the test."""
    with tempfile.NamedTemporaryFile(prefix="gw-valgrind-", suffix=".log") as report:
        p = subprocess.run(_gateway_argv(gw_binary, args, report.name), capture_output=True,
                           text=True, env=_gateway_env(env), timeout=timeout * SLOWNESS,
                           stdin=subprocess.DEVNULL)
        vg = valgrind_report(report.name)
    if any(marker in p.stderr for marker in SANITIZER_MARKERS):
        pytest.fail(f"sanitizer report from {' '.join(args)}:\n{p.stderr}", pytrace=False)
    if vg:
        pytest.fail(f"valgrind report from {' '.join(args)}:\n{vg}", pytrace=False)
    return p


@pytest.fixture
def gateway(request, gw_binary, broker, mqtt, prefix, tmp_path):
    """Factory: gateway(lifetime_min=1, lifetime_max=86400, env=None, wait_online=True, ...)
    writes a configuration (`listen`: the lwm2m.listen URIs, else coap://127.0.0.1 on `port`),
    starts the daemon at --log-level debug, waits for its "started" line and for the retained
    `online` on {prefix}/gateway/status. At teardown each one gets
    SIGTERM and must exit with its `expect_exit` (0 unless the test says otherwise)."""
    started: List[Gateway] = []
    request.node._e2e_gateways = started
    seq = itertools.count()

    def start(*, lifetime_min: int = 1, lifetime_max: int = 86400, env: Optional[dict] = None,
              mqtt_uri: Optional[str] = None, port: Optional[int] = None,
              wait_online: bool = True, wait_started: bool = True, extra_conf: str = "",
              mqtt_conf: str = "", store: Optional[str] = None, lwm2m_conf: str = "",
              store_conf: str = "", coaps_port: Optional[int] = None,
              listen: Optional[List[str]] = None,
              args: tuple = ("--log-level", "debug")) -> Gateway:
        n = next(seq)
        udp = port or free_udp_port()
        conf = tmp_path / f"gateway-{n}.conf"
        write_gateway_conf(conf, port=udp, mqtt_uri=mqtt_uri or broker.uri, prefix=prefix,
                           store=store or str(tmp_path / f"state-{n}.db"), lifetime_min=lifetime_min,
                           lifetime_max=lifetime_max, extra=extra_conf, mqtt_extra=mqtt_conf,
                           lwm2m_extra=lwm2m_conf, store_extra=store_conf,
                           coaps_port=coaps_port, listen=listen)
        log_path = str(tmp_path / f"gateway-{n}.stderr")
        mark = mqtt.mark()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(_gateway_argv(gw_binary, ["-c", str(conf), *args],
                                                  log_path + ".valgrind"), stdout=log,
                                    stderr=log, stdin=subprocess.DEVNULL,
                                    env=_gateway_env(env), start_new_session=True)
        gw = Gateway(proc, udp, prefix, str(conf), log_path)
        started.append(gw)
        if wait_started and not wait_until(
                lambda: " started " in gw.log() or proc.poll() is not None, START_TIMEOUT):
            pytest.fail(f"the gateway did not log 'started' within {START_TIMEOUT} s\n"
                        f"--- gateway stderr ---\n{gw.log()}")
        if proc.poll() is not None:
            pytest.fail(f"the gateway exited with {proc.returncode} at start\n"
                        f"--- gateway stderr ---\n{gw.log()}")
        if wait_online:
            mqtt.wait_for(f"{prefix}/gateway/status", lambda m: m.payload == b"online",
                          timeout=START_TIMEOUT, since=mark)
        return gw

    yield start

    problems = []
    for gw in started:
        if gw.proc.poll() is None:
            rc = gw.stop(signal.SIGTERM)
        else:
            rc = gw.proc.returncode
        report = gw.sanitizer_report()
        if report:
            problems.append(f"sanitizer report in the gateway's stderr:\n{report}")
        report = valgrind_report(gw.log_path + ".valgrind")
        if report:
            problems.append(f"valgrind report ({gw.log_path}.valgrind):\n{report}")
        if gw.expect_exit is not None and rc != gw.expect_exit:
            problems.append(f"the gateway exited with {rc} after SIGTERM, expected "
                            f"{gw.expect_exit}\n--- gateway stderr ---\n{gw.log()}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches each gateway's stderr to the report of a failed test."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for i, gw in enumerate(getattr(item, "_e2e_gateways", [])):
            text = gw.log()
            if len(text) > 20000:
                text = "...\n" + text[-20000:]
            rep.sections.append((f"gateway {i} stderr ({gw.log_path})", text))


# ---------------------------------------------------------------- devsim

@dataclass
class DevsimResult:
    rc: int
    records: List[dict]   # one per finished request, in order
    summary: Optional[dict]
    stderr: str
    argv: List[str]

    def ops(self, op: str, ep: Optional[str] = None) -> List[dict]:
        return [r for r in self.records
                if r.get("op") == op and (ep is None or r.get("ep") == ep)]

    def one(self, op: str, ep: Optional[str] = None) -> dict:
        found = self.ops(op, ep)
        assert len(found) == 1, f"expected one {op} record for {ep}, got {found}\n{self}"
        return found[0]

    def trace(self, event: Optional[str] = None, ep: Optional[str] = None) -> List[dict]:
        """The --trace lines ("request" served, "notify" sent), in order."""
        return [r for r in self.records if "event" in r and (event is None or
                r["event"] == event) and (ep is None or r.get("ep") == ep)]

    def __str__(self) -> str:
        return (f"devsim {' '.join(self.argv)}\nexit {self.rc}\nrecords {self.records}\n"
                f"summary {self.summary}\nstderr {self.stderr}")


def _devsim_argv(devsim_binary: str, server: str, actions, *, count=None, ep=None,
                 ep_prefix=None, lwm2m=None, lifetime=None, binding=None, queue=False,
                 objects=None, root=None, timeout_ms=None, quiet=False, rate=None,
                 format=None, notify=None, trace=False, extra=()) -> List[str]:
    argv = [devsim_binary, "--server", server]
    if count is not None:
        argv += ["--count", str(count)]
    if ep is not None:
        argv += ["--ep", ep]
    if ep_prefix is not None:
        argv += ["--ep-prefix", ep_prefix]
    if lwm2m is not None:
        argv += ["--lwm2m", lwm2m]
    if lifetime is not None:
        argv += ["--lifetime", str(lifetime)]
    if binding is not None:
        argv += ["--binding", binding]
    if queue:
        argv += ["--queue"]
    if objects is not None:
        argv += ["--objects", objects]
    if root is not None:
        argv += ["--root", root]
    if timeout_ms is not None:
        argv += ["--timeout", str(timeout_ms)]
    if quiet:
        argv += ["--quiet"]
    if rate is not None:
        argv += ["--rate", str(rate)]
    if format is not None:
        argv += ["--format", format]
    if notify is not None:
        argv += ["--notify", notify]
    if trace:
        argv += ["--trace"]
    return argv + list(extra) + list(actions)


def _parse_devsim(argv, rc, out, err) -> DevsimResult:
    records, summary = [], None
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if obj.get("summary"):
            summary = obj
        else:
            records.append(obj)
    return DevsimResult(rc, records, summary, err, argv)


class DevsimProcess:
    """A devsim running in the background (for scenarios that watch it while it runs). Its
    output is read as it comes: a devsim with --trace writes a line per notification, and one
    whose pipe nobody reads blocks when the pipe is full (64 KiB), a whole fleet with it."""

    def __init__(self, argv: List[str]):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self._out: List[str] = []
        self._err: List[str] = []
        self._pumps = [threading.Thread(target=self._pump, args=(f, buf), daemon=True)
                       for f, buf in ((self.proc.stdout, self._out),
                                      (self.proc.stderr, self._err))]
        for t in self._pumps:
            t.start()

    @staticmethod
    def _pump(f, buf: List[str]) -> None:
        for line in f:
            buf.append(line)

    def wait(self, timeout: float = 20.0) -> DevsimResult:
        try:
            self.proc.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill(self.proc)
            timed_out = True
        for t in self._pumps:
            t.join(5)
        out, err = "".join(self._out), "".join(self._err)
        if timed_out:
            pytest.fail(f"devsim did not finish within {timeout} s: {' '.join(self.argv)}\n"
                        f"{out}\n{err}")
        if any(marker in err for marker in SANITIZER_MARKERS):
            pytest.fail(f"sanitizer report from devsim:\n{err}", pytrace=False)
        return _parse_devsim(self.argv, self.proc.returncode, out, err)

    def kill(self) -> None:
        _kill(self.proc)


@pytest.fixture
def devsim(devsim_binary):
    """devsim(server, *actions, **options) runs it to the end and returns a DevsimResult;
    devsim.start(...) runs it in the background and returns a DevsimProcess."""
    running: List[DevsimProcess] = []

    def run(server: str, *actions: str, wall_timeout: float = 30.0, **options) -> DevsimResult:
        p = DevsimProcess(_devsim_argv(devsim_binary, server, actions, **options))
        running.append(p)
        return p.wait(wall_timeout)

    def start(server: str, *actions: str, **options) -> DevsimProcess:
        p = DevsimProcess(_devsim_argv(devsim_binary, server, actions, **options))
        running.append(p)
        return p

    run.start = start
    yield run
    for p in running:
        p.kill()


# ---------------------------------------------------------------- raw CoAP

@dataclass
class CoapAnswer:
    code: Optional[str]          # "2.01", "4.00", ... or None when nothing came back
    payload: str                 # the diagnostic or body, as coap-client showed it
    location: Optional[str]      # "/rd/abcd1234" from the Location-Path options
    output: str                  # everything coap-client printed

    def __str__(self) -> str:
        return f"code={self.code} payload={self.payload!r} location={self.location}\n{self.output}"


_PDU = re.compile(r"^v:1 t:(?:ACK|CON|NON|RST) c:(\d\.\d\d) i:[0-9a-f]+ \{[0-9a-f]*\} "
                  r"\[(?P<opts>.*?)\](?: :: '(?P<payload>.*)')?\s*$")


def coap_request(port: int, method: str, path: str, query=(), payload: Optional[str] = None,
                 content_format: Optional[int] = None, timeout: int = 3,
                 block: Optional[int] = None) -> CoapAnswer:
    """Sends one request with coap-client-openssl to 127.0.0.1:port. `path` is "/rd" or
    "/rd/ID"; `query` are Uri-Query options sent as they are (no URI escaping rules: '#',
    '/' and '&' reach the gateway unchanged; a bytes item is sent byte for byte). `block`
    sends the payload Block1-wise in blocks of that size."""
    if COAP_CLIENT is None:
        pytest.skip("coap-client-openssl is not installed (apt-get install libcoap3-bin)")
    argv = [COAP_CLIENT, "-v", "6", "-U", "-B", str(timeout), "-m", method]
    if content_format is not None:
        argv += ["-t", str(content_format)]
    if block is not None:
        argv += ["-b", str(block)]
    if payload is not None:
        argv += ["-e", payload]
    for q in query:
        argv += ["-O", b"15," + q if isinstance(q, bytes) else f"15,{q}"]
    argv.append(f"coap://127.0.0.1:{port}{path}")
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 5,
                       stdin=subprocess.DEVNULL)
    output = p.stdout + p.stderr
    code = None
    body = ""
    location = None
    for line in p.stdout.splitlines() + p.stderr.splitlines():
        m = _PDU.match(line.strip())
        if not m or m.group(1) in ("0.01", "0.02", "0.03", "0.04", "0.05", "0.06", "0.07"):
            continue
        code = m.group(1)
        body = m.group("payload") or ""
        locs = re.findall(r"Location-Path:([^,\]\s]+)", m.group("opts"))
        location = "/" + "/".join(locs) if locs else None
    return CoapAnswer(code, body, location, output)


@pytest.fixture
def coap():
    if COAP_CLIENT is None:
        pytest.skip("coap-client-openssl is not installed (apt-get install libcoap3-bin)")
    return coap_request


# ---------------------------------------------------------------- expectations

LOCATION_RX = re.compile(r"^/rd/[A-Za-z0-9_-]{8}$")
ADDRESS_RX = re.compile(r"^127\.0\.0\.1:(\d+)$")


def assert_recent(ms: int, before: int, after: int, slack: int = 1000) -> None:
    assert isinstance(ms, int), f"{ms!r} is not an integer number of ms"
    assert before - slack <= ms <= after + slack, \
        f"{ms} ms is not between {before} and {after} (the test's clock)"


def summarize(msgs: List[Msg]) -> List[tuple]:
    """(topic, payload, retain) for comparing whole sequences; JSON payloads parsed."""
    out = []
    for m in msgs:
        try:
            body = json.loads(m.payload) if m.payload[:1] == b"{" else m.payload
        except ValueError:
            body = m.payload
        out.append((m.topic, body, m.retain))
    return out


# ---------------------------------------------------------------- lifecycle expectations

def gateway_address(gw: Gateway, ep: str, location: str) -> str:
    """The peer address the gateway logged for the Register of `ep` at `location`."""
    rid = location.rsplit("/", 1)[-1]
    line = gw.wait_log(rf" registered ep={re.escape(ep)} id={re.escape(rid)} ")
    m = re.search(r" address=(\S+)", line)
    assert m, line
    return m.group(1)


def expected_registration(ep: str, location: str, *, lifetime: int, lwm2m: str, binding: str,
                          queue: bool, objects: List[str], address: str, registered_at: int,
                          updated_at: int, root: Optional[str] = None, ct: Optional[str] = None,
                          versions: Optional[dict] = None) -> dict:
    doc = {"ep": ep, "location": location, "lifetime": lifetime, "lwm2m": lwm2m,
           "binding": binding, "queue_mode": queue, "objects": objects, "address": address,
           "registered_at": registered_at, "updated_at": updated_at}
    if versions:
        doc["object_versions"] = versions
    if root:
        doc["root_path"] = root
    if ct:
        doc["content_formats"] = ct
    return doc


def ep_messages(mqtt: Collector, ep: str, since: int = 0, settle: bool = True) -> List[Msg]:
    if settle:
        mqtt.settle()
    return mqtt.messages_for(ep, since)


def check_register_messages(mqtt: Collector, gw: Gateway, ep: str, location: str, *,
                            before: int, after: int, since: int = 0, lifetime: int,
                            lwm2m: str, binding: str, queue: bool, objects: List[str],
                            root: Optional[str] = None, ct: Optional[str] = None,
                            versions: Optional[dict] = None, exact: bool = True) -> dict:
    """Checks that a Register of `ep` produced exactly: the retained `online` status, the
    retained registration document, and the `registered` event (not retained), in that
    order and nothing else (with `exact` false: as its first three messages from `since`).
    Returns the registration document."""
    assert LOCATION_RX.match(location), location
    mqtt.wait_for(mqtt.topic(ep, "event"), lambda m: m.json().get("event") == "registered",
                  since=since)
    msgs = ep_messages(mqtt, ep, since)
    if not exact:
        msgs = msgs[:3]
    assert [(m.topic, m.retain) for m in msgs] == [
        (mqtt.topic(ep, "status"), True),
        (mqtt.topic(ep, "registration"), True),
        (mqtt.topic(ep, "event"), False),
    ], summarize(msgs)
    status, reg_msg, event_msg = msgs
    assert status.payload == b"online"
    reg = reg_msg.json()
    event = event_msg.json()
    address = gateway_address(gw, ep, location)
    assert ADDRESS_RX.match(address), address
    assert_recent(reg.get("registered_at"), before, after)
    assert reg.get("updated_at") == reg.get("registered_at"), reg
    assert reg == expected_registration(
        ep, location, lifetime=lifetime, lwm2m=lwm2m, binding=binding, queue=queue,
        objects=objects, address=address, registered_at=reg["registered_at"],
        updated_at=reg["registered_at"], root=root, ct=ct, versions=versions)
    assert_recent(event.get("ts"), before, after)
    assert event == {"event": "registered", "ep": ep, "ts": event["ts"], "lifetime": lifetime,
                     "lwm2m": lwm2m, "binding": binding, "queue_mode": queue,
                     "address": address}
    return reg


# ---------------------------------------------------------------- CoAP datagrams by hand

COAP_CON, COAP_NON, COAP_ACK, COAP_RST = 0, 1, 2, 3
OPT_URI_PATH, OPT_CONTENT_FORMAT, OPT_URI_QUERY, OPT_LOCATION_PATH = 11, 12, 15, 8


def coap_code(text: str) -> int:
    cls, detail = text.split(".")
    return (int(cls) << 5) | int(detail)


def coap_encode(mtype: int, code: str, mid: int, token: bytes, options, payload: bytes = b""
                ) -> bytes:
    """One CoAP message (RFC 7252 section 3); `options` are (number, bytes) pairs."""
    out = bytearray([0x40 | (mtype << 4) | len(token), coap_code(code), mid >> 8, mid & 0xff])
    out += token
    last = 0
    for number, value in sorted(options, key=lambda o: o[0]):
        delta, length = number - last, len(value)
        last = number

        def nibble(v):
            if v < 13:
                return v, b""
            if v < 269:
                return 13, bytes([v - 13])
            return 14, (v - 269).to_bytes(2, "big")

        dn, dx = nibble(delta)
        ln, lx = nibble(length)
        out += bytes([(dn << 4) | ln]) + dx + lx + value
    if payload:
        out += b"\xff" + payload
    return bytes(out)


@dataclass
class CoapMessage:
    mtype: int
    code: str
    mid: int
    token: bytes
    options: List[tuple]
    payload: bytes

    def option_values(self, number: int) -> List[bytes]:
        return [v for n, v in self.options if n == number]

    @property
    def location(self) -> Optional[str]:
        parts = self.option_values(OPT_LOCATION_PATH)
        return "/" + "/".join(p.decode() for p in parts) if parts else None


def coap_decode(data: bytes) -> CoapMessage:
    tkl = data[0] & 0x0f
    mtype = (data[0] >> 4) & 3
    code = f"{data[1] >> 5}.{data[1] & 0x1f:02d}"
    mid = (data[2] << 8) | data[3]
    token = data[4:4 + tkl]
    i, number, options = 4 + tkl, 0, []
    while i < len(data) and data[i] != 0xff:
        b = data[i]
        i += 1

        def ext(v):
            nonlocal i
            if v == 13:
                v = data[i] + 13
                i += 1
            elif v == 14:
                v = int.from_bytes(data[i:i + 2], "big") + 269
                i += 2
            return v

        delta = ext(b >> 4)
        length = ext(b & 0x0f)
        number += delta
        options.append((number, data[i:i + length]))
        i += length
    payload = data[i + 1:] if i < len(data) else b""
    return CoapMessage(mtype, code, mid, token, options, payload)


class CoapSocket:
    """A UDP socket that sends hand-made CoAP datagrams to the gateway (one source port)."""

    def __init__(self, port: int):
        self.dest = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def close(self) -> None:
        self.sock.close()

    def exchange(self, datagram: bytes, timeout: float = 3.0) -> CoapMessage:
        self.sock.sendto(datagram, self.dest)
        return self.receive(timeout)

    def receive(self, timeout: float = 3.0) -> CoapMessage:
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65536)
        except socket.timeout:
            pytest.fail(f"no CoAP answer within {timeout} s")
        return coap_decode(data)


@pytest.fixture
def coap_socket():
    socks: List[CoapSocket] = []

    def make(port: int) -> CoapSocket:
        s = CoapSocket(port)
        socks.append(s)
        return s

    yield make
    for s in socks:
        s.close()


def register_datagram(mid: int, token: bytes, query: List[str], links: str,
                      mtype: int = COAP_CON) -> bytes:
    opts = [(OPT_URI_PATH, b"rd"), (OPT_CONTENT_FORMAT, bytes([40]))]
    opts += [(OPT_URI_QUERY, q.encode() if isinstance(q, str) else q) for q in query]
    return coap_encode(mtype, "0.02", mid, token, opts, links.encode())


# ---------------------------------------------------------------- a device by hand

OPT_OBSERVE, OPT_BLOCK2, OPT_BLOCK1, OPT_SIZE1, OPT_ETAG = 6, 23, 27, 60, 4
CF_TEXT, CF_TLV, CF_SENML_JSON, CF_SENML_CBOR = 0, 11542, 110, 112


def coap_uint(value: int) -> bytes:
    """An unsigned integer option value in as few bytes as it takes (0 is empty)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def tlv(kind: int, ident: int, value: bytes) -> bytes:
    """One LwM2M TLV: kind 0 object instance, 1 resource instance, 2 multiple resource,
    3 resource with value."""
    head = kind << 6
    ident_bytes = bytes([ident]) if ident < 256 else ident.to_bytes(2, "big")
    if ident >= 256:
        head |= 0x20
    n = len(value)
    if n < 8:
        head |= n
        length = b""
    elif n < 0x100:
        head |= 0x08
        length = bytes([n])
    elif n < 0x10000:
        head |= 0x10
        length = n.to_bytes(2, "big")
    else:
        head |= 0x18
        length = n.to_bytes(3, "big")
    return bytes([head]) + ident_bytes + length + value


def tlv_instance(iid: int, resources: dict) -> bytes:
    """An object instance TLV of single resources {rid: float | int | str | bool}: floats as
    8-byte doubles, integers in 1, 2, 4 or 8 bytes, strings as UTF-8."""
    import struct
    body = b""
    for rid, v in resources.items():
        if isinstance(v, bool):
            raw = bytes([1 if v else 0])
        elif isinstance(v, float):
            raw = struct.pack(">d", v)
        elif isinstance(v, int):
            size = next(s for s in (1, 2, 4, 8) if -(1 << (8 * s - 1)) <= v < (1 << (8 * s - 1)))
            raw = v.to_bytes(size, "big", signed=True)
        else:
            raw = str(v).encode()
        body += tlv(3, rid, raw)
    return tlv(0, iid, body)


class RawDevice:
    """A device made by hand on one UDP socket, for what devsim will not do (broken or stale
    notifications, tokens nobody observes): it registers, answers the gateway's requests as
    `serve` is told, and sends notifications as the test says. Every request the gateway
    sends is kept in `requests` as (method code, path, query list, Observe value or None), in
    order of arrival, and `before_register_reply` records anything that came before the 2.01."""

    def __init__(self, port: int, ep: str):
        self.dest = ("127.0.0.1", port)
        self.ep = ep
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self._mid = int.from_bytes(os.urandom(2), "big")
        self.location: Optional[str] = None
        self.tokens: dict = {}      # path -> the token of the gateway's Observe
        self.requests: List[tuple] = []
        self.request_tokens: List[bytes] = []   # the token of each of `requests`
        self.request_block2: List[Optional[tuple]] = []   # its Block2 (num, m, szx) or None
        self.request_block1: List[Optional[tuple]] = []   # its Block1 (num, m, szx) or None
        self.written: dict = {}     # path -> the body of the last Write, put together
        self._partial: dict = {}    # path -> the blocks of a Write taken so far
        self.before_register_reply: List[CoapMessage] = []
        self._pending: List[CoapMessage] = []   # received, not consumed yet

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def next_mid(self) -> int:
        self._mid = (self._mid + 1) & 0xffff
        return self._mid

    def send(self, datagram: bytes) -> None:
        self.sock.sendto(datagram, self.dest)

    def _recv(self, timeout: float) -> Optional[CoapMessage]:
        if self._pending:
            return self._pending.pop(0)
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, _ = self.sock.recvfrom(65536)
        except socket.timeout:
            return None
        return coap_decode(data)

    def _reply_to(self, mid: int, timeout: float) -> Optional[CoapMessage]:
        """Waits for the ACK or RST with Message ID `mid`; requests met meanwhile are kept."""
        deadline = time.monotonic() + timeout
        kept = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                m = self._recv(left)
                if m is None:
                    return None
                if m.mtype in (COAP_ACK, COAP_RST) and m.mid == mid:
                    return m
                kept.append(m)
        finally:
            self._pending[:0] = kept

    def register(self, links: str, lifetime: int = 300, lwm2m: str = "1.1") -> CoapMessage:
        mid = self.next_mid()
        self.send(register_datagram(mid, os.urandom(4), [f"ep={self.ep}", f"lt={lifetime}",
                                                         f"lwm2m={lwm2m}", "b=U"], links))
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            m = self._recv(deadline - time.monotonic())
            if m is None:
                pytest.fail(f"{self.ep}: no answer to the Register")
            if m.mtype == COAP_ACK and m.mid == mid:
                break
            self.before_register_reply.append(m)
            self._pending.append(m)
        assert m.code == "2.01", m
        self.location = m.location
        self.tokens.clear()
        return m

    def deregister(self) -> CoapMessage:
        mid = self.next_mid()
        parts = [(OPT_URI_PATH, p.encode()) for p in self.location.strip("/").split("/")]
        self.send(coap_encode(COAP_CON, "0.04", mid, os.urandom(4), parts))
        m = self._reply_to(mid, WAIT_TIMEOUT)
        assert m is not None and m.code == "2.02", m
        return m

    def serve(self, answers: dict, until: Callable[[], bool], timeout: float = WAIT_TIMEOUT,
              seq: int = 1, block_size: Optional[int] = None,
              block1_size: Optional[int] = None,
              etag: Optional[Callable[[int], bytes]] = None, block_skip: int = 0) -> None:
        """Answers the gateway's requests until `until()` holds (fails after `timeout`):
        Write-Attributes with 2.04; an Observe of a path in `answers` ({path: (payload,
        content format)}) with 2.05, Observe `seq` and that payload (the token is kept in
        `tokens`); anything else with 4.04. With `block_size` (16..1024), or when the
        request has a Block2 option, a GET is answered block-wise (RFC 7959): the block the
        request asks for (block 0 if none), of the smaller of the two sizes, with Block2; only
        the answer to block 0 of an Observe carries the Observe option. A Write (PUT) is kept
        in `written`; one in blocks (Block1) is put together, each block but the last answered
        2.31, and with `block1_size` the device asks for blocks no larger than that. Broken
        block-wise answers, on purpose: `etag(num)` is the ETag of the answer to block `num`,
        and a request for block num > 0 gets block num + `block_skip`."""
        deadline = time.monotonic() + timeout
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"{self.ep}: gave up serving; requests so far {self.requests}")
            m = self._recv(min(left, 0.1))
            if m is None:
                continue
            if m.mtype not in (COAP_CON, COAP_NON) or not m.code.startswith("0."):
                continue  # a late ACK or RST of ours
            path = "/" + "/".join(v.decode() for v in m.option_values(OPT_URI_PATH))
            query = [v.decode() for v in m.option_values(OPT_URI_QUERY)]
            obs = m.option_values(OPT_OBSERVE)
            obs_value = int.from_bytes(obs[0], "big") if obs else None
            self.requests.append((m.code, path, query, obs_value))
            self.request_tokens.append(m.token)
            blk = m.option_values(OPT_BLOCK2)
            block2 = None
            if blk:
                v = int.from_bytes(blk[0], "big")
                block2 = (v >> 4, (v >> 3) & 1, v & 7)
            self.request_block2.append(block2)
            blk1 = m.option_values(OPT_BLOCK1)
            block1 = None
            if blk1:
                v = int.from_bytes(blk1[0], "big")
                block1 = (v >> 4, (v >> 3) & 1, v & 7)
            self.request_block1.append(block1)
            opts, payload, code = [], b"", "4.04"
            if m.code == "0.03" and block1 is not None:
                num, more, szx = block1
                got = self._partial.setdefault(path, bytearray())
                if num == 0:
                    got.clear()
                if len(got) != num * (16 << szx):
                    code = "4.08"
                else:
                    got += m.payload
                    code = "2.31" if more else "2.04"
                    if more and block1_size is not None:
                        szx = min(szx, block1_size.bit_length() - 5)
                    opts.append((OPT_BLOCK1, coap_uint((num << 4) | (more << 3) | szx)))
                    if not more:
                        self.written[path] = bytes(self._partial.pop(path))
            elif m.code == "0.03":
                code = "2.04"
                self.written[path] = m.payload
            elif m.code == "0.01" and path in answers:
                payload, cf = answers[path]
                code = "2.05"
                opts.append((OPT_CONTENT_FORMAT, coap_uint(cf)))
                num = 0
                if block_size is not None or block2 is not None:
                    szx = (block_size.bit_length() - 5) if block_size is not None else 6
                    num, szx = (block2[0], min(block2[2], szx)) if block2 else (0, szx)
                    if num > 0:
                        num += block_skip
                    if etag is not None:
                        opts.append((OPT_ETAG, etag(num)))
                    size = 16 << szx
                    more = len(payload) > (num + 1) * size
                    payload = payload[num * size:(num + 1) * size]
                    opts.append((OPT_BLOCK2, coap_uint((num << 4) | (more << 3) | szx)))
                if obs_value == 0 and num == 0:
                    opts.append((OPT_OBSERVE, coap_uint(seq)))
                    self.tokens[path] = m.token
            self.send(coap_encode(COAP_ACK, code, m.mid, m.token, opts, payload))

    def notify(self, path: str, payload: bytes, cf: int, seq: int, confirmable: bool = False,
               token: Optional[bytes] = None, reply_wait: Optional[float] = None
               ) -> Optional[CoapMessage]:
        """Sends a 2.05 notification of `path` (under the gateway's token for it, or `token`).
        Returns the gateway's ACK or RST, or None when none came within `reply_wait` (default:
        WAIT_TIMEOUT when confirmable, else SETTLE; None is the normal case for a
        non-confirmable notification that the gateway takes)."""
        if reply_wait is None:
            reply_wait = WAIT_TIMEOUT if confirmable else SETTLE
        mid = self.next_mid()
        tok = token if token is not None else self.tokens[path]
        opts = [(OPT_OBSERVE, coap_uint(seq)), (OPT_CONTENT_FORMAT, coap_uint(cf))]
        self.send(coap_encode(COAP_CON if confirmable else COAP_NON, "2.05", mid, tok, opts,
                              payload))
        return self._reply_to(mid, reply_wait)

    def request(self, code: str, path: str, options=(), payload: bytes = b"",
                token: Optional[bytes] = None) -> Optional[CoapMessage]:
        """A confirmable request to `path` with more `options` ((number, bytes), in ascending
        order after Uri-Path); returns the piggybacked answer, or None."""
        mid = self.next_mid()
        opts = [(OPT_URI_PATH, p.encode()) for p in path.strip("/").split("/")] + list(options)
        self.send(coap_encode(COAP_CON, code, mid, token or os.urandom(4), opts, payload))
        return self._reply_to(mid, WAIT_TIMEOUT)

    def post(self, path: str, payload: bytes, cf: Optional[int]) -> Optional[CoapMessage]:
        """A confirmable POST to `path` (e.g. a Send to /dp); returns the piggybacked answer."""
        opts = [(OPT_CONTENT_FORMAT, coap_uint(cf))] if cf is not None else []
        return self.request("0.02", path, opts, payload)

    def post_blocks(self, path: str, payload: bytes, cf: int, size: int) -> List[CoapMessage]:
        """POSTs `payload` to `path` in Block1 blocks of `size` bytes (RFC 7959), each under a
        token of its own; returns the answer to every block, stopping at the first that is not
        2.31 Continue."""
        szx, got = size.bit_length() - 5, []
        for num in range(max(1, -(-len(payload) // size))):
            more = (num + 1) * size < len(payload)
            opts = [(OPT_CONTENT_FORMAT, coap_uint(cf)),
                    (OPT_BLOCK1, coap_uint((num << 4) | (more << 3) | szx))]
            m = self.request("0.02", path, opts, payload[num * size:(num + 1) * size])
            assert m is not None, f"{self.ep}: no answer to block {num} of {path}"
            got.append(m)
            if m.code != "2.31":
                break
        return got


@pytest.fixture
def raw_device():
    """raw_device(port, ep) -> a RawDevice, closed at teardown."""
    made: List[RawDevice] = []

    def make(port: int, ep: str) -> RawDevice:
        d = RawDevice(port, ep)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


# ---------------------------------------------------------------- build and process facts

def sanitized_build(binary: Optional[str] = None) -> bool:
    """Whether the gateway under test (GW_BINARY, or `binary`) was built with AddressSanitizer
    (cmake -DGW_SANITIZE=ON): everything runs about three times slower there, so load tests
    scale down."""
    path = binary or os.environ.get("GW_BINARY", "")
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def vm_rss_kb(pid: int) -> int:
    """The resident set size of process `pid` in KiB (VmRSS in /proc/PID/status), 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Requester:
    """Publishes requests (QoS 1, MQTT 3.1.1 or 5) for one endpoint and collects its answers
    on {prefix}/{ep}/response."""

    def __init__(self, broker, mqtt, prefix, ep, v5=False):
        self.mqtt, self.prefix, self.ep = mqtt, prefix, ep
        kw = {"protocol": paho.MQTTv5} if v5 else {}
        self.client = paho.Client(client_id=f"req-{uuid.uuid4().hex[:8]}", **kw)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()

    def send(self, doc, topic=None, properties=None, raw=None):
        payload = raw if raw is not None else json.dumps(doc)
        info = self.client.publish(topic or f"{self.prefix}/{self.ep}/request", payload, qos=1,
                                   properties=properties)
        info.wait_for_publish(5)

    def answers(self, since=0, rid=None):
        out = []
        for m in self.mqtt.on(f"{self.prefix}/{self.ep}/response", since):
            doc = m.json()
            if rid is None or doc.get("id") == rid:
                out.append(doc)
        return out

    def final(self, rid, since=0, timeout=3 * WAIT_TIMEOUT):
        def done():
            return [a for a in self.answers(since, rid) if a["status"] != "held"]
        assert wait_until(lambda: done(), timeout), \
            f"no final answer for {rid}: {self.answers(since, rid)}"
        return done()[0]


@pytest.fixture
def req(broker, mqtt, prefix):
    """req(ep, v5=False) -> a Requester for `ep`, closed at teardown."""
    made = []

    def make(ep, v5=False):
        r = Requester(broker, mqtt, prefix, ep, v5)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()
