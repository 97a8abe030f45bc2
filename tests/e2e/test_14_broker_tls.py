"""14 broker TLS: the gateway's broker side over TLS (SPEC 1-2, README "Configuration":
mqtt.uri ssl://, mqtt.tls { ca_file cert_file key_file verify_hostname }, username and
password from the file and from LWM2M_GW_MQTT_USERNAME / LWM2M_GW_MQTT_PASSWORD, version 5).

Each test starts its own mosquitto with two listeners: the plain one start_mosquitto() makes
(the collector's, to watch what the gateway publishes) and a TLS one (cafile, certfile,
keyfile, require_certificate where the test says) that the gateway alone uses. The
certificates are made with `openssl` for this file: a CA, a server certificate for
127.0.0.1 and localhost, one for another name, one from a CA nobody trusts, and client
certificates from both CAs. mosquitto's own log ("New connection ... on port P", "New client
connected ... as ID (pN, cN, kN, u'USER')") tells which listener, which protocol level and
which user name the gateway came with. No password may ever appear in the gateway's log (at
--log-level debug) or on any MQTT topic."""
import os
import re
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from typing import Dict, List, Optional

import pytest

from conftest import (START_TIMEOUT, Broker, Collector, free_tcp_port, run_gateway,
                      start_mosquitto, stop_mosquitto, wait_until, write_gateway_conf)

OPENSSL = shutil.which("openssl")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or (
    "/usr/bin/mosquitto_passwd" if os.access("/usr/bin/mosquitto_passwd", os.X_OK) else None)

GW_USER = "gw-user"
WATCHER = ("watcher", "w4tcher-pw")   # the collector's account on the plain listener


def secret(tag: str) -> str:
    """A password no other text in the test could contain by chance."""
    return f"pw-{tag}-{uuid.uuid4().hex}"


# ---------------------------------------------------------------- certificates

@dataclass
class Cert:
    cert: str
    key: str


@dataclass
class Pki:
    ca: str             # the CA the broker and the gateway trust
    server: Cert        # CN 127.0.0.1, SAN IP:127.0.0.1, DNS:localhost; signed by `ca`
    wrong_name: Cert    # CN/SAN broker.other.invalid only; signed by `ca`
    untrusted: Cert     # CN/SAN 127.0.0.1 and localhost, signed by a CA nobody trusts
    client: Cert        # a client certificate signed by `ca`
    rogue_client: Cert  # a client certificate signed by the untrusted CA


def _openssl(d, *args: str) -> None:
    p = subprocess.run([OPENSSL, *args], cwd=str(d), capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 0, f"openssl {' '.join(args)}:\n{p.stdout}\n{p.stderr}"


def _make_ca(d, name: str) -> Cert:
    (d / f"{name}.ext").write_text("basicConstraints = critical, CA:TRUE\n"
                                   "keyUsage = critical, keyCertSign, cRLSign\n"
                                   "subjectKeyIdentifier = hash\n")
    _openssl(d, "req", "-x509", "-new", "-nodes", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", f"{name}.key",
             "-out", f"{name}.crt", "-days", "3", "-subj", f"/CN=e2e {name}",
             "-extensions", "v3_ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return Cert(str(d / f"{name}.crt"), str(d / f"{name}.key"))


def _make_leaf(d, name: str, ca: Cert, cn: str, san: Optional[str], usage: str) -> Cert:
    ext = ["basicConstraints = critical, CA:FALSE",
           "keyUsage = critical, digitalSignature, keyAgreement",
           f"extendedKeyUsage = {usage}"]
    if san:
        ext.append(f"subjectAltName = {san}")
    (d / f"{name}.ext").write_text("\n".join(ext) + "\n")
    _openssl(d, "req", "-new", "-nodes", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={cn}")
    _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", ca.cert, "-CAkey", ca.key,
             "-set_serial", "0x" + uuid.uuid4().hex[:16], "-days", "2",
             "-extfile", f"{name}.ext", "-out", f"{name}.crt")
    return Cert(str(d / f"{name}.crt"), str(d / f"{name}.key"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    ca = _make_ca(d, "ca")
    rogue_ca = _make_ca(d, "rogue-ca")
    both = "IP:127.0.0.1, DNS:localhost"
    return Pki(
        ca=ca.cert,
        server=_make_leaf(d, "server", ca, "127.0.0.1", both, "serverAuth"),
        wrong_name=_make_leaf(d, "wrong-name", ca, "broker.other.invalid",
                              "DNS:broker.other.invalid", "serverAuth"),
        untrusted=_make_leaf(d, "untrusted", rogue_ca, "127.0.0.1", both, "serverAuth"),
        client=_make_leaf(d, "client", ca, "lwm2m-gw", None, "clientAuth"),
        rogue_client=_make_leaf(d, "rogue-client", rogue_ca, "lwm2m-gw", None, "clientAuth"))


# ---------------------------------------------------------------- the broker

@dataclass
class TlsBroker:
    plain: Broker     # start_mosquitto()'s listener: the collector's way in
    tls_port: int     # the TLS listener: the gateway's
    anonymous: bool   # False: the collector logs in as WATCHER

    def uri(self, host: str = "127.0.0.1", scheme: str = "ssl") -> str:
        return f"{scheme}://{host}:{self.tls_port}"

    def log(self) -> str:
        try:
            with open(self.plain.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def sessions(self, client_id: str) -> List[Dict[str, str]]:
        """Every accepted CONNECT of `client_id`: the listener port it came through, the
        protocol level (`p2` is 3.1.1, `p5` is 5) and the user name (None without one)."""
        text = self.log()
        ports = dict(re.findall(r"New connection from (\S+?) on port (\d+)\.", text))
        out = []
        for addr, rest in re.findall(
                r"New client connected from (\S+) as " + re.escape(client_id) + r" \(([^)]*)\)",
                text):
            user = re.search(r"u'([^']*)'", rest)
            out.append({"port": ports.get(addr), "proto": rest.split(",")[0].strip(),
                        "user": user.group(1) if user else None})
        return out


def start_tls_broker(tmp_path, name: str, server: Cert, pki: Pki, *,
                     require_certificate: bool = False,
                     passwords: Optional[Dict[str, str]] = None) -> TlsBroker:
    """mosquitto with a TLS listener serving `server`; with `passwords` ({user: password})
    a password file made by mosquitto_passwd and allow_anonymous false (the collector's
    account WATCHER is added)."""
    d = tmp_path / name
    d.mkdir()
    conf = ""
    if passwords is not None:
        if MOSQUITTO_PASSWD is None:
            pytest.skip("mosquitto_passwd is not installed (apt-get install mosquitto)")
        pwfile = d / "passwords"
        users = dict(passwords)
        users[WATCHER[0]] = WATCHER[1]
        for i, (user, password) in enumerate(users.items()):
            argv = [MOSQUITTO_PASSWD] + (["-c"] if i == 0 else []) + ["-b", str(pwfile), user,
                                                                        password]
            subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL,
                           timeout=30)
        conf += f"password_file {pwfile}\n"
    tls_port = free_tcp_port()
    conf += (f"listener {tls_port} 127.0.0.1\n"
             f"cafile {pki.ca}\n"
             f"certfile {server.cert}\n"
             f"keyfile {server.key}\n"
             f"require_certificate {'true' if require_certificate else 'false'}\n")
    b = start_mosquitto(d, extra_conf=conf, anonymous=passwords is None)

    def accepts() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", tls_port), timeout=0.2):
                return True
        except OSError:
            return False

    if not wait_until(accepts, START_TIMEOUT, 0.05):
        stop_mosquitto(b)
        pytest.fail(f"mosquitto's TLS listener on {tls_port} is not up; see {b.log_path}")
    return TlsBroker(b, tls_port, passwords is None)


def watch(tb: TlsBroker, prefix: str, topic_filter: str = "#") -> Collector:
    """A collector on the plain listener (with the watcher's account where there is a
    password file; anonymous otherwise)."""
    if tb.anonymous:
        return Collector(tb.plain, topic_filter, prefix)
    return Collector(tb.plain, topic_filter, prefix, username=WATCHER[0], password=WATCHER[1])


# ---------------------------------------------------------------- the gateway side

def tls_conf(*, ca: Optional[str] = None, client: Optional[Cert] = None,
             verify_hostname: Optional[bool] = None, username: Optional[str] = None,
             password: Optional[str] = None, version: Optional[str] = None) -> str:
    """The lines added inside the gateway's mqtt group."""
    out = ""
    if username is not None:
        out += f'  username = "{username}";\n'
    if password is not None:
        out += f'  password = "{password}";\n'
    if version is not None:
        out += f'  version = "{version}";\n'
    tls = []
    if ca:
        tls.append(f'ca_file = "{ca}";')
    if client:
        tls.append(f'cert_file = "{client.cert}"; key_file = "{client.key}";')
    if verify_hostname is not None:
        tls.append(f"verify_hostname = {'true' if verify_hostname else 'false'};")
    if tls:
        out += "  tls: { " + " ".join(tls) + " };\n"
    return out


def wait_online(c: Collector, prefix: str) -> None:
    c.wait_for(f"{prefix}/gateway/status", lambda m: m.payload == b"online",
               timeout=START_TIMEOUT)


def assert_refused(gw, c: Collector, prefix: str, attempts: int = 2) -> None:
    """The gateway is refused and keeps trying (reconnect_min 1 s, reconnect_max 2 s): at
    least `attempts` mqtt-connect-failed lines, still running, never connected, never
    `online`."""
    ok = wait_until(lambda: len(gw.log_lines(r" mqtt-connect-failed ")) >= attempts
                    or gw.proc.poll() is not None, 12)
    assert gw.proc.poll() is None, f"the gateway exited ({gw.proc.returncode}):\n{gw.log()}"
    assert ok, f"fewer than {attempts} mqtt-connect-failed lines:\n{gw.log()}"
    assert not gw.log_lines(r" mqtt-connected "), gw.log()
    c.settle()
    assert c.on(f"{prefix}/gateway/status") == [], c.all()


def assert_secret_kept(secrets: List[str], gw_logs: List[str], c: Collector) -> None:
    for s in secrets:
        for text in gw_logs:
            assert s not in text, f"the password {s!r} is in the gateway's log:\n{text}"
        for m in c.all():
            assert s.encode() not in m.payload and s not in m.topic, \
                f"the password {s!r} went out on MQTT: {m!r}"


# ---------------------------------------------------------------- ssl:// with a CA

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_ssl_with_a_ca_only_says_online_and_carries_data(gateway, devsim, pki, tmp_path,
                                                         prefix, host):
    """ssl:// and mqtt.tls.ca_file alone (hostname verification on, the default): the
    gateway connects through the TLS listener, says `online`, and a device's registration
    reaches the broker; a clean stop says `offline`."""
    tb = start_tls_broker(tmp_path, "broker", pki.server, pki)
    c = None
    try:
        c = watch(tb, prefix)
        gw = gateway(mqtt_uri=tb.uri(host), wait_online=False, mqtt_conf=tls_conf(ca=pki.ca))
        wait_online(c, prefix)
        sessions = tb.sessions(f"gw-{prefix}")
        assert sessions and all(s["port"] == str(tb.tls_port) and s["proto"] == "p2"
                                for s in sessions), (sessions, tb.log())
        r = devsim(gw.server, "register", ep="tls-dev", lifetime=300)
        assert r.rc == 0, r
        reg = c.wait_for(f"{prefix}/tls-dev/registration")
        assert reg.retain and reg.json()["ep"] == "tls-dev"
        assert gw.stop() == 0, gw.log()
        c.wait_for(f"{prefix}/gateway/status", lambda m: m.payload == b"offline")
    finally:
        if c:
            c.close()
        stop_mosquitto(tb.plain)


def test_a_broker_certificate_from_an_unknown_ca_is_refused(gateway, pki, tmp_path, prefix):
    """The CA is really checked: a broker whose certificate another CA signed (for the
    right name) is refused, again and again."""
    tb = start_tls_broker(tmp_path, "broker", pki.untrusted, pki)
    c = None
    try:
        c = watch(tb, prefix)
        gw = gateway(mqtt_uri=tb.uri(), wait_online=False, mqtt_conf=tls_conf(ca=pki.ca))
        assert_refused(gw, c, prefix)
        assert tb.sessions(f"gw-{prefix}") == [], tb.log()
    finally:
        if c:
            c.close()
        stop_mosquitto(tb.plain)


def test_the_uri_from_the_environment_can_be_ssl(gateway, pki, tmp_path, prefix):
    """LWM2M_GW_MQTT_URI overrides the file's ssl:// URI (a port nobody listens on) and
    the file's tls group applies to it."""
    tb = start_tls_broker(tmp_path, "broker", pki.server, pki)
    c = None
    try:
        c = watch(tb, prefix)
        gateway(mqtt_uri=f"ssl://127.0.0.1:{free_tcp_port()}", wait_online=False,
                mqtt_conf=tls_conf(ca=pki.ca), env={"LWM2M_GW_MQTT_URI": tb.uri("localhost")})
        wait_online(c, prefix)
        assert [s["port"] for s in tb.sessions(f"gw-{prefix}")][:1] == [str(tb.tls_port)]
    finally:
        if c:
            c.close()
        stop_mosquitto(tb.plain)


# ---------------------------------------------------------------- client certificates

@pytest.mark.parametrize("client", ["ca-signed", "none", "other-ca"])
def test_a_client_certificate_when_the_broker_requires_one(gateway, pki, tmp_path, prefix,
                                                          client):
    """require_certificate true: with the CA's client certificate and key the gateway is
    `online`; without one, or with one from a CA the broker does not trust, it is refused,
    logs mqtt-connect-failed, keeps retrying and never says `online`."""
    tb = start_tls_broker(tmp_path, "broker", pki.server, pki, require_certificate=True)
    c = None
    try:
        c = watch(tb, prefix)
        cert = {"ca-signed": pki.client, "none": None, "other-ca": pki.rogue_client}[client]
        gw = gateway(mqtt_uri=tb.uri(), wait_online=False,
                     mqtt_conf=tls_conf(ca=pki.ca, client=cert))
        if client == "ca-signed":
            wait_online(c, prefix)
            assert tb.sessions(f"gw-{prefix}")[0]["port"] == str(tb.tls_port)
        else:
            assert_refused(gw, c, prefix, attempts=3)
            assert tb.sessions(f"gw-{prefix}") == [], tb.log()
    finally:
        if c:
            c.close()
        stop_mosquitto(tb.plain)


# ---------------------------------------------------------------- user name and password

@pytest.mark.parametrize("source,right", [("file", True), ("file", False),
                                          ("env", True), ("env", False)])
def test_username_and_password_over_tls(gateway, pki, tmp_path, prefix, source, right):
    """A password file and allow_anonymous false. From the file: the right password is
    accepted, a wrong one refused. From LWM2M_GW_MQTT_USERNAME / LWM2M_GW_MQTT_PASSWORD:
    they override the file both ways (the environment's right password wins over a wrong
    one and a wrong user name in the file; its wrong password loses even though the file's
    is right). Neither password ever reaches the log or the broker's topics."""
    good, bad = secret("good"), secret("bad")
    tb = start_tls_broker(tmp_path, "broker", pki.server, pki, passwords={GW_USER: good})
    c = None
    try:
        c = watch(tb, prefix)
        if source == "file":
            conf = tls_conf(ca=pki.ca, username=GW_USER, password=good if right else bad)
            env = None
        else:
            conf = tls_conf(ca=pki.ca, username="nobody" if right else GW_USER,
                            password=bad if right else good)
            env = {"LWM2M_GW_MQTT_USERNAME": GW_USER,
                   "LWM2M_GW_MQTT_PASSWORD": good if right else bad}
        gw = gateway(mqtt_uri=tb.uri(), wait_online=False, mqtt_conf=conf, env=env)
        if right:
            wait_online(c, prefix)
            s = tb.sessions(f"gw-{prefix}")
            assert s and s[0]["port"] == str(tb.tls_port) and s[0]["user"] == GW_USER, s
        else:
            assert_refused(gw, c, prefix)
            line = gw.log_lines(r" mqtt-connect-failed ")[0]
            assert f"uri={tb.uri()}" in line, line
            assert tb.sessions(f"gw-{prefix}") == [], tb.log()
        assert gw.stop() == 0, gw.log()
        assert_secret_kept([good, bad], [gw.log()], c)
    finally:
        if c:
            c.close()
        stop_mosquitto(tb.plain)


# ---------------------------------------------------------------- hostname verification

@pytest.mark.parametrize("verify", [None, True, False])
def test_hostname_verification(gateway, pki, tmp_path, prefix, verify):
    """The broker's certificate is the CA's but for broker.other.invalid: refused with
    mqtt.tls.verify_hostname unset (true by default) or true; accepted with false."""
    tb = start_tls_broker(tmp_path, "broker", pki.wrong_name, pki)
    c = None
    try:
        c = watch(tb, prefix)
        gw = gateway(mqtt_uri=tb.uri(), wait_online=False,
                     mqtt_conf=tls_conf(ca=pki.ca, verify_hostname=verify))
        if verify is False:
            wait_online(c, prefix)
        else:
            assert_refused(gw, c, prefix)
            assert tb.sessions(f"gw-{prefix}") == [], tb.log()
    finally:
        if c:
            c.close()
        stop_mosquitto(tb.plain)


def test_hostname_verification_by_dns_name(gateway, pki, tmp_path, prefix):
    """The name checked is the URI's host: `localhost` matches the server certificate's
    DNS name (and 127.0.0.1 its IP address, in the first test), both with verification on."""
    tb = start_tls_broker(tmp_path, "broker", pki.server, pki)
    c = None
    try:
        c = watch(tb, prefix)
        gateway(mqtt_uri=tb.uri("localhost"), wait_online=False,
                mqtt_conf=tls_conf(ca=pki.ca, verify_hostname=True))
        wait_online(c, prefix)
    finally:
        if c:
            c.close()
        stop_mosquitto(tb.plain)


# ---------------------------------------------------------------- MQTT 5 over TLS

@pytest.mark.parametrize("right", [True, False])
def test_mqtt5_over_tls_with_client_certificate_and_password(gateway, devsim, pki, tmp_path,
                                                             prefix, right):
    """version "5" over ssl://, with a client certificate (required) and a password: the
    broker sees protocol level 5 from the gateway's user, the gateway is `online` and a
    device's messages arrive; with a wrong password (an MQTT 5 CONNACK reason code) it is
    refused and retries."""
    good, bad = secret("v5-good"), secret("v5-bad")
    tb = start_tls_broker(tmp_path, "broker", pki.server, pki, require_certificate=True,
                          passwords={GW_USER: good})
    c = None
    try:
        c = watch(tb, prefix)
        gw = gateway(mqtt_uri=tb.uri(), wait_online=False,
                     mqtt_conf=tls_conf(ca=pki.ca, client=pki.client, username=GW_USER,
                                        password=good if right else bad, version="5"))
        if right:
            wait_online(c, prefix)
            s = tb.sessions(f"gw-{prefix}")
            assert s and s[0] == {"port": str(tb.tls_port), "proto": "p5", "user": GW_USER}, s
            r = devsim(gw.server, "register", ep="v5-dev", lifetime=300)
            assert r.rc == 0, r
            c.wait_for(f"{prefix}/v5-dev/status", lambda m: m.payload == b"online")
            c.wait_for(f"{prefix}/v5-dev/event", lambda m: m.json()["event"] == "registered")
        else:
            assert_refused(gw, c, prefix)
            assert tb.sessions(f"gw-{prefix}") == [], tb.log()
        assert gw.stop() == 0, gw.log()
        assert_secret_kept([good, bad], [gw.log()], c)
    finally:
        if c:
            c.close()
        stop_mosquitto(tb.plain)


# ---------------------------------------------------------------- the password stays secret

def test_the_password_never_appears_in_the_log_or_on_any_topic(gateway, devsim, pki,
                                                               tmp_path, prefix):
    """Everything that could carry the password, at --log-level debug, one collector on '#'
    from the start: a refused connection (wrong password in the file, then, after a stop, a
    wrong one from the environment), an accepted one (the right password from the
    environment), a device registering, updating and leaving, a request and its answer,
    and clean stops. Neither password is in any log line or any message."""
    good, bad, bad_env = secret("good"), secret("bad"), secret("bad-env")
    tb = start_tls_broker(tmp_path, "broker", pki.server, pki, require_certificate=True,
                          passwords={GW_USER: good})
    c = None
    logs = []
    try:
        c = watch(tb, prefix, "#")
        conf = tls_conf(ca=pki.ca, client=pki.client, username=GW_USER, password=bad)
        refused = gateway(mqtt_uri=tb.uri(), wait_online=False, mqtt_conf=conf)
        assert_refused(refused, c, prefix)
        assert refused.stop() == 0
        logs.append(refused.log())
        refused_env = gateway(mqtt_uri=tb.uri(), wait_online=False, mqtt_conf=conf,
                              env={"LWM2M_GW_MQTT_PASSWORD": bad_env})
        assert_refused(refused_env, c, prefix)
        assert refused_env.stop() == 0
        logs.append(refused_env.log())
        gw = gateway(mqtt_uri=tb.uri(), wait_online=False, mqtt_conf=conf,
                     env={"LWM2M_GW_MQTT_PASSWORD": good})
        wait_online(c, prefix)
        r = devsim(gw.server, "register", "update", "deregister", ep="secret-dev",
                   lifetime=300)
        assert r.rc == 0, r
        c.wait_for(f"{prefix}/secret-dev/event", lambda m: m.json()["event"] == "deregistered")
        c.client.publish(f"{prefix}/secret-dev/request",
                         '{"id":"s1","op":"read","path":"/3/0/0","ttl":0}', qos=1)
        answer = c.wait_for(f"{prefix}/secret-dev/response")
        assert answer.json()["status"] == "offline", answer
        assert gw.stop() == 0, gw.log()
        c.wait_for(f"{prefix}/gateway/status", lambda m: m.payload == b"offline")
        logs.append(gw.log())
        assert " mqtt-connected " in logs[-1], logs[-1]
        assert_secret_kept([good, bad, bad_env], logs, c)
    finally:
        if c:
            c.close()
        stop_mosquitto(tb.plain)


@pytest.mark.parametrize("where", ["file", "env"])
def test_a_password_in_the_uri_is_refused_without_being_printed(gw_binary, tmp_path, where):
    """user:password@ in the URI is not supported: the configuration is refused (exit 1)
    and the message does not quote the URI, so the password is not printed."""
    pw = secret("in-uri")
    uri = f"ssl://{GW_USER}:{pw}@127.0.0.1:8883"
    conf = tmp_path / "gateway.conf"
    write_gateway_conf(conf, port=5683, mqtt_uri=uri if where == "file" else
                       "ssl://127.0.0.1:8883", prefix="p", store=str(tmp_path / "s.db"))
    env = {"LWM2M_GW_MQTT_URI": uri} if where == "env" else None
    for args in (("--check-config",), ("--log-level", "debug")):
        p = run_gateway(gw_binary, "-c", str(conf), *args, env=env)
        assert p.returncode == 1, p
        assert "user:password@ is not supported" in p.stderr + p.stdout, p
        assert pw not in p.stderr + p.stdout, p


def test_the_environment_can_turn_the_broker_into_tls(gw_binary, tmp_path):
    """A file with a `tls` group and a tcp:// uri is refused on its own, and accepted when
    LWM2M_GW_MQTT_URI makes the broker ssl://; the pair is checked as it will run."""
    from conftest import run_gateway
    conf = tmp_path / "tls-env.conf"
    ca = tmp_path / "ca.pem"
    ca.write_text("not read by --check-config\n")
    conf.write_text(f'mqtt: {{ uri = "tcp://127.0.0.1:1883"; tls: {{ ca_file = "{ca}"; }}; }};\n'
                    f'store: {{ path = "{tmp_path}/s.db"; }};\n')
    assert run_gateway(gw_binary, "-c", str(conf), "--check-config").returncode == 1
    ok = run_gateway(gw_binary, "-c", str(conf), "--check-config",
                     env={"LWM2M_GW_MQTT_URI": "ssl://127.0.0.1:8883"})
    assert ok.returncode == 0, ok.stderr
    bad = run_gateway(gw_binary, "-c", str(conf), "--check-config",
                      env={"LWM2M_GW_MQTT_URI": "tcp://127.0.0.1:8883"})
    assert bad.returncode == 1 and "LWM2M_GW_MQTT_URI" in bad.stderr, bad.stderr
