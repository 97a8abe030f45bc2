"""17 metrics and health: http.listen serves Prometheus text on /metrics, liveness on /health
and readiness on /ready (503 while the broker is away); the counters follow what devices and
cloud applications do, and {prefix}/gateway/stats says the same figures."""
import json
import re
import urllib.error
import urllib.request

from conftest import (coap_request, free_tcp_port, free_udp_port, run_gateway, start_mosquitto, stop_mosquitto,
                      wait_until, write_gateway_conf)

WAIT = 15.0
OBSERVE = 'observe = ( { path = "/3303/0/5700"; pmin = 0; pmax = 1; } );\n'


def http_conf(port):
    return f'http: {{ listen = "http://127.0.0.1:{port}"; }};\n'


def get(port, path, method="GET"):
    """(status, content type, body) of one request."""
    r = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(r, timeout=5) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


_SAMPLE = re.compile(r'^([a-z_][a-z0-9_]*)(\{[^}]*\})? (\d+)$')


def metrics(port):
    """{ 'name{labels}': value } of /metrics, checking the exposition format on the way: every
    family has HELP and TYPE before its first sample, every sample line parses."""
    status, ctype, body = get(port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), (status, ctype)
    out, typed = {}, set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind in ("counter", "gauge"), line
            typed.add(name)
            continue
        if line.startswith("# HELP "):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        assert m.group(1) in typed, f"sample before its TYPE: {line!r}"
        out[m.group(1) + (m.group(2) or "")] = int(m.group(3))
    return out


def test_metrics_follow_devices_and_requests(gateway, devsim, mqtt, prefix, broker):
    port = free_tcp_port()
    gw = gateway(extra_conf=OBSERVE + http_conf(port), mqtt_conf="  stats_interval = 1;\n")
    assert f"http=http://127.0.0.1:{port}" in gw.wait_log(" started ")
    before = metrics(port)
    assert before["lwm2m_gw_registered_devices"] == 0
    assert before["lwm2m_gw_mqtt_connected"] == 1

    p = devsim.start(gw.server, "register", "serve:30", "deregister", ep="met-1", rate=10)
    data = f"{prefix}/met-1/data/3303/0/5700"
    assert wait_until(lambda: len(mqtt.on(data)) >= 3, WAIT), "no notifications"

    # A Register without an endpoint name is refused (4.00) and counted as such.
    bad = coap_request(gw.port, "post", "/rd", query=("lt=60",), payload="</3/0>",
                       content_format=40)
    assert bad.code == "4.00", bad
    # One request that is carried out, one that is invalid, one on a topic of nobody's.
    import paho.mqtt.client as paho
    c = paho.Client()
    c.connect(broker.host, broker.port)
    c.loop_start()
    mark = mqtt.mark()
    c.publish(f"{prefix}/met-1/request", json.dumps({"id": "r", "op": "read",
                                                     "path": "/3/0/0"}), qos=1).wait_for_publish(5)
    c.publish(f"{prefix}/met-1/request", "{not json", qos=1).wait_for_publish(5)
    assert wait_until(lambda: len(mqtt.on(f"{prefix}/met-1/response", mark)) >= 2, WAIT)
    c.loop_stop()
    c.disconnect()

    def settled():
        m = metrics(port)
        return (m["lwm2m_gw_answers_total{status=\"ok\"}"] >= 1
                and m["lwm2m_gw_answers_total{status=\"invalid\"}"] >= 1
                and m['lwm2m_gw_coap_refused_total{kind="register"}'] >= 1)
    assert wait_until(settled, WAIT), metrics(port)
    published = len(mqtt.on(data))  # read first: the counters can only be ahead of it
    m = metrics(port)
    print(f"notifications published {published}, metrics: " +
          ", ".join(f"{k}={v}" for k, v in m.items() if v))
    assert m["lwm2m_gw_registered_devices"] == 1
    assert m["lwm2m_gw_observations"] == 1
    assert m['lwm2m_gw_coap_requests_total{kind="register"}'] == 2  # met-1 and the bad one
    assert m['lwm2m_gw_coap_refused_total{kind="register"}'] == 1
    # The first value came with the answer to the Observe, the others as notifications.
    assert m['lwm2m_gw_coap_responses_total{kind="notification"}'] >= published - 1
    assert m['lwm2m_gw_mqtt_published_total{kind="data"}'] >= published
    assert m['lwm2m_gw_mqtt_published_total{kind="status"}'] >= 2  # the gateway's, met-1's
    assert m['lwm2m_gw_mqtt_published_total{kind="registration"}'] == 1
    assert m['lwm2m_gw_mqtt_requests_total{result="accepted"}'] == 1
    assert m['lwm2m_gw_mqtt_requests_total{result="invalid"}'] == 1
    assert m['lwm2m_gw_answers_total{status="ok"}'] == 1
    assert m['lwm2m_gw_device_requests_total'] >= 2  # the observe and the read
    assert m['lwm2m_gw_mqtt_dropped_total'] == 0

    # The stats topic summarises the same counters.
    s = mqtt.wait_for(f"{prefix}/gateway/stats", lambda x: x.json()["answers_ok"] == 1,
                      timeout=WAIT).json()
    assert s["registered"] == 1 and s["mqtt_connected"] is True, s
    assert s["coap_register"] == 2 and s["coap_register_refused"] == 1, s
    assert s["requests"] == 1 and s["invalid"] == 1 and s["answers_invalid"] == 1, s

    p.kill()


def test_health_and_readiness_follow_the_broker(gateway, tmp_path, prefix):
    b = start_mosquitto(tmp_path)
    port = free_tcp_port()
    gw = gateway(mqtt_uri=b.uri, extra_conf=http_conf(port), wait_online=False)
    assert wait_until(lambda: get(port, "/ready")[0] == 200, WAIT), get(port, "/ready")
    status, ctype, body = get(port, "/health")
    assert status == 200 and ctype == "application/json", (status, ctype, body)
    assert json.loads(body) == {"status": "ok", "mqtt": "connected", "registered": 0}

    mqtt_port = b.port
    stop_mosquitto(b)
    assert wait_until(lambda: get(port, "/ready")[0] == 503, WAIT), get(port, "/ready")
    status, _, body = get(port, "/health")
    assert status == 200 and json.loads(body)["mqtt"] == "disconnected", body
    assert metrics(port)["lwm2m_gw_mqtt_connected"] == 0

    b = start_mosquitto(tmp_path, port=mqtt_port)
    try:
        assert wait_until(lambda: get(port, "/ready")[0] == 200, 20.0), get(port, "/ready")
    finally:
        gw.stop()
        stop_mosquitto(b)


def test_unknown_paths_and_methods_are_refused(gateway):
    port = free_tcp_port()
    gateway(extra_conf=http_conf(port))
    assert get(port, "/")[0] == 404
    assert get(port, "/metrics/x")[0] == 404
    status, _, body = get(port, "/metrics", method="POST")
    assert status == 405 and "GET" in body, (status, body)


def test_a_port_in_use_stops_the_start(gw_binary, broker, tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        conf = tmp_path / "gw.conf"
        write_gateway_conf(conf, port=free_udp_port(), mqtt_uri=broker.uri, prefix="busy",
                           store=str(tmp_path / "s.db"), extra=http_conf(taken))
        p = run_gateway(gw_binary, "-c", str(conf))
        assert p.returncode == 3, p.stderr
        assert f"listen-failed uri=http://127.0.0.1:{taken}" in p.stderr, p.stderr


def test_the_environment_turns_the_listener_on(gateway):
    port = free_tcp_port()
    gateway(env={"LWM2M_GW_HTTP_LISTEN": f"http://127.0.0.1:{port}"})
    assert get(port, "/health")[0] == 200
