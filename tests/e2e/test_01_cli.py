"""01 cli: the command line, the exit statuses, the signals and the environment (SPEC 1),
and the gateway's own status topic (SPEC 3: {prefix}/gateway/status, `offline` as the will)."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (STOP_TIMEOUT, Collector, free_tcp_port, free_udp_port, retained,
                      run_gateway, start_mosquitto, stop_mosquitto, summarize, wait_until,
                      write_gateway_conf)


def test_version_prints_the_version_and_exits_0(gw_binary):
    for flag in ("--version", "-V"):
        p = run_gateway(gw_binary, flag)
        assert p.returncode == 0, p
        assert re.fullmatch(r"lwm2m-mqtt-gateway \d+\.\d+\.\d+\n", p.stdout), p.stdout
        assert p.stderr == ""


def test_help_prints_the_usage_and_exits_0(gw_binary):
    for flag in ("--help", "-h"):
        p = run_gateway(gw_binary, flag)
        assert p.returncode == 0, p
        assert p.stdout.startswith("usage: lwm2m-mqtt-gateway [-c FILE] [--check-config] "
                                   "[--log-level LEVEL] [--version] [--help]\n"), p.stdout
        for word in ("--check-config", "--log-level", "LWM2M_GW_MQTT_URI",
                     "LWM2M_GW_LOG_LEVEL"):
            assert word in p.stdout
        assert p.stderr == ""


@pytest.mark.parametrize("argv", [
    ["--bogus"],
    ["-x"],
    ["-c"],
    ["--log-level", "loud"],
    ["extra-argument"],
], ids=["unknown-long-option", "unknown-short-option", "c-without-file", "bad-log-level",
        "unexpected-operand"])
def test_bad_usage_exits_2_with_the_usage_on_stderr(gw_binary, argv):
    p = run_gateway(gw_binary, *argv)
    assert p.returncode == 2, p
    assert "usage: lwm2m-mqtt-gateway" in p.stderr or "lwm2m-mqtt-gateway:" in p.stderr, p
    assert p.stdout == ""


@pytest.mark.parametrize("name", ["gateway.conf", "minimal.conf"])
def test_check_config_accepts_the_shipped_example(gw_binary, source_dir, name):
    conf = os.path.join(source_dir, "conf", name)
    assert os.path.exists(conf), f"{conf} is missing from the source tree"
    p = run_gateway(gw_binary, "-c", conf, "--check-config")
    assert p.returncode == 0, p
    assert p.stdout == f"{conf}: ok\n", p
    assert p.stderr == "", p


def test_check_config_accepts_the_tls_example_with_its_files_in_place(gw_binary, source_dir,
                                                                       tmp_path):
    """conf/tls.conf names key and certificate files under /etc/lwm2m-mqtt-gateway/: with
    files at those names (here under a temporary directory) it checks clean, and without
    them every missing file is reported with its line."""
    text = open(os.path.join(source_dir, "conf", "tls.conf")).read()
    conf = tmp_path / "tls.conf"
    conf.write_text(text.replace("/etc/lwm2m-mqtt-gateway/", f"{tmp_path}/"))
    p = run_gateway(gw_binary, "-c", str(conf), "--check-config")
    assert p.returncode == 1 and "cannot read" in p.stderr, p
    for name in ("fleet.psk", "devices-ca.pem", "gateway.pem", "gateway.key", "broker-ca.pem",
                 "client.pem", "client.key"):
        (tmp_path / name).write_text("placeholder\n")
    p = run_gateway(gw_binary, "-c", str(conf), "--check-config")
    assert p.returncode == 0, p
    assert p.stdout == f"{conf}: ok\n", p


def test_check_config_reports_a_syntax_error_with_file_and_line(gw_binary, tmp_path):
    conf = tmp_path / "broken.conf"
    conf.write_text('lwm2m: {\n'
                    '  listen = [ "coap://127.0.0.1:5683" ];\n'
                    '  lifetime_min = = 30;\n'   # line 3: a syntax error
                    '  lifetime_max = 600;\n'
                    '};\n')
    p = run_gateway(gw_binary, "-c", str(conf), "--check-config")
    assert p.returncode == 1, p
    assert "ok" not in p.stdout
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith(f"{conf}:")]
    assert lines, p.stderr
    m = re.match(rf"^{re.escape(str(conf))}:(\d+): \S", lines[0])
    assert m, lines[0]
    assert int(m.group(1)) == 3, lines[0]


def test_check_config_reports_every_problem_in_file_order(gw_binary, tmp_path):
    conf = tmp_path / "wrong.conf"
    conf.write_text('lwm2m: {\n'                                   # 1
                    '  listen = [ "coap://127.0.0.1:5683" ];\n'    # 2
                    '  lifetime_min = "thirty";\n'                 # 3: not an integer
                    '};\n'                                         # 4
                    'mqtt: {\n'                                    # 5
                    '  uri = "tcp://127.0.0.1:1883";\n'            # 6
                    '  qos = 7;\n'                                 # 7: out of range
                    '  colour = "blue";\n'                         # 8: unknown key
                    '};\n')                                        # 9
    p = run_gateway(gw_binary, "-c", str(conf), "--check-config")
    assert p.returncode == 1, p
    problems = [ln for ln in p.stderr.splitlines() if ln.startswith(f"{conf}:")]
    lines = [int(re.match(rf"^{re.escape(str(conf))}:(\d+): ", ln).group(1)) for ln in problems]
    assert lines == [3, 7, 8], p.stderr
    assert "lifetime_min" in problems[0]
    assert "qos" in problems[1]
    assert "colour" in problems[2]


def test_a_missing_configuration_file_exits_1(gw_binary, tmp_path):
    missing = tmp_path / "nowhere.conf"
    for extra in ([], ["--check-config"]):
        p = run_gateway(gw_binary, "-c", str(missing), *extra)
        assert p.returncode == 1, p
        assert str(missing) in p.stderr, p


def test_a_bogus_log_level_in_the_environment_exits_2(gw_binary, tmp_path):
    conf = tmp_path / "gateway.conf"
    write_gateway_conf(conf, port=free_udp_port(), mqtt_uri="tcp://127.0.0.1:1", prefix="x",
                       store=str(tmp_path / "s.db"))
    p = run_gateway(gw_binary, "-c", str(conf), env={"LWM2M_GW_LOG_LEVEL": "bogus"})
    assert p.returncode == 2, p
    assert "LWM2M_GW_LOG_LEVEL" in p.stderr, p


def test_a_listen_port_already_in_use_exits_3(gw_binary, broker, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        conf = tmp_path / "gateway.conf"
        write_gateway_conf(conf, port=port, mqtt_uri=broker.uri, prefix="e2e-inuse",
                           store=str(tmp_path / "s.db"))
        p = run_gateway(gw_binary, "-c", str(conf), timeout=15)
    assert p.returncode == 3, p
    assert re.search(rf"listen-failed uri=coap://127\.0\.0\.1:{port}\b", p.stderr), p.stderr
    assert " started " not in p.stderr


def test_sigint_stops_cleanly_and_the_broker_sees_offline(gateway, mqtt, broker, prefix):
    gw = gateway()
    status = f"{prefix}/gateway/status"
    online = mqtt.on(status)
    assert [(m.payload, m.retain) for m in online] == [(b"online", True)]
    mark = mqtt.mark()
    assert gw.stop(signal.SIGINT) == 0, gw.log()
    m = mqtt.wait_for(status, since=mark)
    assert (m.payload, m.retain) == (b"offline", True)
    assert retained(broker, status) == {status: b"offline"}
    assert gw.log_lines(r" stopping signal=Interrupt"), gw.log()
    assert gw.log_lines(r" stopped status=0$"), gw.log()


def test_sigterm_stops_cleanly_and_the_broker_sees_offline(gateway, mqtt, broker, prefix):
    gw = gateway()
    status = f"{prefix}/gateway/status"
    mark = mqtt.mark()
    assert gw.stop(signal.SIGTERM) == 0, gw.log()
    m = mqtt.wait_for(status, since=mark)
    assert (m.payload, m.retain) == (b"offline", True)
    assert retained(broker, status) == {status: b"offline"}
    # Exactly one online then one offline, nothing else under the prefix.
    assert [(x.topic, x.payload, x.retain) for x in mqtt.all()] == [
        (status, b"online", True), (status, b"offline", True)]


def test_a_killed_gateway_goes_offline_through_its_will(gateway, mqtt, broker, prefix):
    gw = gateway()
    gw.expect_exit = None  # killed: no exit status to check
    status = f"{prefix}/gateway/status"
    mark = mqtt.mark()
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait(timeout=STOP_TIMEOUT)
    m = mqtt.wait_for(status, since=mark)
    assert (m.payload, m.retain) == (b"offline", True)
    assert retained(broker, status) == {status: b"offline"}


def test_the_retained_online_status_is_there_for_a_late_subscriber(gateway, broker, prefix):
    gateway()
    status = f"{prefix}/gateway/status"
    assert retained(broker, status) == {status: b"online"}


def test_env_mqtt_uri_overrides_the_file(gateway, broker, mqtt, prefix):
    dead = free_tcp_port()  # nothing listens there
    gw = gateway(mqtt_uri=f"tcp://127.0.0.1:{dead}", env={"LWM2M_GW_MQTT_URI": broker.uri})
    # gateway() has waited for the retained `online`: it reached the broker through the
    # environment's URI, and never tried the file's.
    assert not gw.log_lines(rf"127\.0\.0\.1:{dead}\b"), gw.log()
    assert gw.log_lines(rf"mqtt-connected uri={re.escape(broker.uri)} "), gw.log()


def test_log_level_from_the_environment_is_taken(gateway, prefix):
    gw = gateway(env={"LWM2M_GW_LOG_LEVEL": "warn"}, args=(), wait_started=False)
    assert not gw.log_lines(r" info  "), gw.log()  # info lines are filtered out


def test_the_command_line_log_level_wins_over_the_environment(gateway):
    gw = gateway(env={"LWM2M_GW_LOG_LEVEL": "error"}, args=("--log-level", "debug"))
    assert gw.log_lines(r" info  started "), gw.log()


def test_a_bad_mqtt_uri_in_the_environment_is_a_configuration_problem(gw_binary, tmp_path):
    conf = tmp_path / "gateway.conf"
    write_gateway_conf(conf, port=free_udp_port(), mqtt_uri="tcp://127.0.0.1:1883",
                       prefix="x", store=str(tmp_path / "s.db"))
    for extra in (["--check-config"], []):
        p = run_gateway(gw_binary, "-c", str(conf), *extra,
                        env={"LWM2M_GW_MQTT_URI": "gopher://127.0.0.1:1883"})
        assert p.returncode == 1, p
        assert re.search(r"^LWM2M_GW_MQTT_URI: \S", p.stderr, re.M), p.stderr


def test_a_store_that_cannot_be_opened_exits_3(gw_binary, broker, tmp_path):
    conf = tmp_path / "gateway.conf"
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store's directory should be\n")
    write_gateway_conf(conf, port=free_udp_port(), mqtt_uri=broker.uri, prefix="e2e-store",
                       store=str(blocker / "state.db"))
    proc = subprocess.Popen([gw_binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        rc = proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=STOP_TIMEOUT)
        rc = "still running after 3 s"
    assert rc == 3, rc


def test_the_store_and_its_directories_are_created(gateway, tmp_path):
    """The store is a SQLite database in WAL mode; missing directories above it are made."""
    db = tmp_path / "deep" / "er" / "state.db"
    gw = gateway(env={"LWM2M_GW_STORE_PATH": str(db)})
    assert db.is_file()
    assert db.read_bytes()[:16] == b"SQLite format 3\x00"
    assert gw.log_lines(rf" store-opened path={re.escape(str(db))} ")


DDF_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<LWM2M><Object ObjectType="MODefinition"><Name>{name}</Name><ObjectID>{oid}</ObjectID>
<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
<Resources><Item ID="1"><Name>Level</Name><Operations>R</Operations>
<MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory>
<Type>Integer</Type><Units>%</Units></Item></Resources></Object></LWM2M>
"""


def test_object_directories_are_loaded_and_a_broken_file_is_skipped(gateway, tmp_path):
    """objects.dirs: every DDF file is read at start; a malformed one is reported with its
    file and line and skipped, the others count."""
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "30001.xml").write_text(DDF_TEMPLATE.format(name="Tank", oid=30001))
    (objects / "30002.xml").write_text(DDF_TEMPLATE.format(name="Pump", oid=30002))
    (objects / "broken.xml").write_text("<LWM2M><Object>\n<ObjectID>7</Object>\n")
    gw = gateway(extra_conf=f'objects: {{ dirs = [ "{objects}" ]; }};\n')
    assert gw.log_lines(rf" objects-loaded dir={re.escape(str(objects))} files=2$")
    assert gw.log_lines(re.escape(str(objects / "broken.xml")) + r":2: ")
    started = gw.log_lines(r" started ")[0]
    builtin = int(re.search(r" objects=(\d+) ", started).group(1)) - 2
    assert builtin >= 34, started  # the core objects 0-7 and the common IPSO objects


def test_an_idle_gateway_sleeps(gateway, devsim):
    """Idle means idle: with devices registered (their expiry far away) the loop thread waits
    in epoll_wait without a timeout, so it is not switched in at a fixed rate. Paho's own
    threads are not counted: only the loop thread (its tid is the process id)."""
    gw = gateway(args=("--log-level", "info"))
    r = devsim(gw.server, "register", count=20, lifetime=3600)
    assert r.rc == 0, r
    time.sleep(0.5)

    def switches() -> int:
        with open(f"/proc/{gw.proc.pid}/task/{gw.proc.pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["voluntary_ctxt_switches"]) + int(
            fields["nonvoluntary_ctxt_switches"])

    first = switches()
    time.sleep(3)
    woken = switches() - first
    assert woken <= 5, f"the loop thread was switched in {woken} times in 3 s of idling"


def test_sighup_reloads_without_dropping_registrations(gateway, mqtt, devsim, coap, prefix):
    gw = gateway()
    r = devsim(gw.server, "register", ep="stays-on", lifetime=300)
    assert r.rc == 0, r
    mqtt.wait_for(f"{prefix}/stays-on/event")
    mqtt.settle()
    mark = mqtt.mark()
    gw.proc.send_signal(signal.SIGHUP)
    gw.wait_log(r" reloaded file=")
    mqtt.settle()
    assert mqtt.all()[mark:] == [], summarize(mqtt.all()[mark:])
    assert gw.proc.poll() is None
    a = coap(gw.port, "post", r.one("register")["location"])
    assert a.code == "2.04", a


def test_sighup_with_a_broken_file_keeps_running(gateway, mqtt, devsim, coap, prefix):
    gw = gateway()
    r = devsim(gw.server, "register", ep="steady", lifetime=300)
    assert r.rc == 0, r
    mqtt.wait_for(f"{prefix}/steady/event")
    with open(gw.conf_path, "a") as f:
        f.write("observe = ( { path = 42; } );\nthis is not libconfig\n")
    mqtt.settle()
    mark = mqtt.mark()
    gw.proc.send_signal(signal.SIGHUP)
    gw.wait_log(r" reload-failed file=")
    assert gw.proc.poll() is None
    a = coap(gw.port, "post", r.one("register")["location"])
    assert a.code == "2.04", a
    mqtt.wait_for(f"{prefix}/steady/event", since=mark)
    mqtt.settle()
    assert [m.topic for m in mqtt.all()[mark:]] == [f"{prefix}/steady/registration",
                                                     f"{prefix}/steady/event"]


def test_the_gateway_reconnects_after_a_broker_restart(gateway, devsim, tmp_path, prefix):
    """The broker goes away and comes back on the same port: the gateway reconnects, says
    `online` again, and what happened meanwhile (a device registering) reaches the broker."""
    b = start_mosquitto(tmp_path)
    c = None
    try:
        c = Collector(b, f"{prefix}/#", prefix)
        gw = gateway(mqtt_uri=b.uri, wait_online=False)
        c.wait_for(f"{prefix}/gateway/status", lambda m: m.payload == b"online")
        c.close()
        c = None
        stop_mosquitto(b)
        gw.wait_log(r" mqtt-connection-lost ")
        r = devsim(gw.server, "register", ep="meanwhile", lifetime=300)
        assert r.rc == 0, r  # the CoAP side does not depend on the broker
        b = start_mosquitto(tmp_path, port=b.port)
        gw.wait_log(r" mqtt-connected .*", timeout=1)  # the first connect
        assert wait_until(lambda: len(gw.log_lines(r" mqtt-connected ")) >= 2, 8), gw.log()
        c = Collector(b, f"{prefix}/#", prefix)
        c.wait_for(f"{prefix}/gateway/status", lambda m: m.payload == b"online", timeout=5)
        c.wait_for(f"{prefix}/meanwhile/status", lambda m: m.payload == b"online", timeout=5)
        reg = c.wait_for(f"{prefix}/meanwhile/registration", timeout=5)
        assert reg.retain and reg.json()["location"] == r.one("register")["location"]
    finally:
        if c:
            c.close()
        stop_mosquitto(b)


def test_env_mqtt_credentials_override_the_file(gateway, tmp_path, prefix):
    pwfile = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), "gw-user", "s3cret"],
                   check=True, capture_output=True)
    subprocess.run(["mosquitto_passwd", "-b", str(pwfile), "watcher", "w4tch"],
                   check=True, capture_output=True)
    b = start_mosquitto(tmp_path, extra_conf=f"password_file {pwfile}\n", anonymous=False)
    c = None
    try:
        c = Collector(b, f"{prefix}/#", prefix, username="watcher", password="w4tch")
        mqtt_conf = '  username = "gw-user";\n  password = "wrong";\n'
        refused = gateway(mqtt_uri=b.uri, wait_online=False, mqtt_conf=mqtt_conf)
        refused.wait_log(r" mqtt-connect-failed ")
        assert c.on(f"{prefix}/gateway/status") == []
        refused.stop()
        assert "s3cret" not in refused.log() and "wrong" not in refused.log()
        gw = gateway(mqtt_uri=b.uri, wait_online=False, mqtt_conf=mqtt_conf,
                     env={"LWM2M_GW_MQTT_USERNAME": "gw-user",
                          "LWM2M_GW_MQTT_PASSWORD": "s3cret"})
        c.wait_for(f"{prefix}/gateway/status", lambda m: m.payload == b"online")
        assert "s3cret" not in gw.log(), "the password must never be logged"
    finally:
        if c:
            c.close()
        stop_mosquitto(b)


def test_sigterm_right_after_a_burst_loses_no_publication(gateway, mqtt, devsim, prefix):
    """SPEC 1: a clean stop loses no accepted data. 100 devices register, and the gateway is
    stopped the moment the last 2.01 is in: every device's three messages still reach the
    broker, before the gateway's `offline`."""
    gw = gateway()
    n = 100
    r = devsim(gw.server, "register", count=n, ep_prefix="burst-", lifetime=300, quiet=True)
    assert r.rc == 0 and r.summary["ok"] == n, r
    assert gw.stop(signal.SIGTERM) == 0, gw.log()
    status = f"{prefix}/gateway/status"
    mqtt.wait_for(status, lambda m: m.payload == b"offline")
    mqtt.settle()
    msgs = mqtt.all()
    device_msgs = [m for m in msgs if m.topic != status]
    assert len(device_msgs) == 3 * n, len(device_msgs)
    offline_at = max(i for i, m in enumerate(msgs) if m.topic == status)
    assert offline_at == len(msgs) - 1, summarize(msgs[offline_at:])
