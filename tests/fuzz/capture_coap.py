#!/usr/bin/python3
"""capture_coap.py - records the CoAP traffic between devsim and the real gateway and writes it
as seeds of the fuzz_coap target (tests/fuzz/corpus/coap/devsim_*): real Registers, Updates,
Sends, De-registers, answers to the gateway's Write-Attributes and Observes, notifications in
every content format, and answers to each request of fuzz_coap.c's table, sent from MQTT.

A UDP proxy sits between devsim and the gateway and logs every datagram; each device's flow
becomes one seed in fuzz_coap.c's record form: the device's datagrams in order, with the
gateway's tokens and message ids referred to by the number of the gateway's request they answer
(flags bits 0-1 and `sel`), the registration's location as XXXXXXXX, and the requests that came
from MQTT submitted by the harness (flags bits 4-7) just before the device's next datagram.
The gateway's observe rules here are the ones fuzz_coap.c's callbacks ask for.

Needs mosquitto and python3-paho-mqtt (as the end-to-end tests do). Run from anywhere:
    tests/fuzz/capture_coap.py --gateway build/lwm2m-mqtt-gateway --devsim build/tests/devsim
Run it again after changing fuzz_coap.c's request table or record form.
"""
import argparse
import json
import os
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as paho

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "coap")

# fuzz_coap.c's request table: number -> the MQTT request that makes the same CoAP request.
OPS = {
    1: {"op": "read", "path": "/3/0/0"},
    2: {"op": "read", "path": "/3/0", "format": "senml-json"},
    3: {"op": "write", "path": "/1/0/1", "value": 321},
    4: {"op": "write", "path": "/1/0", "mode": "update", "values": {"1": 60, "6": True}},
    5: {"op": "execute", "path": "/3/0/4", "args": "0='now'"},
    6: {"op": "discover", "path": "/3/0"},
    7: {"op": "write-attributes", "path": "/3303/0/5700",
        "attributes": {"pmin": 5, "pmax": 60, "gt": 30.5}},
    8: {"op": "create", "path": "/3303", "iid": 7, "values": {"5700": 21.5}},
    9: {"op": "delete", "path": "/3303/7"},
    10: {"op": "observe", "path": "/3303/0/5700"},
    11: {"op": "cancel-observe", "path": "/3303/0/5700"},
    12: {"op": "read-composite", "paths": ["/3/0/0", "/3303/0/5700"]},
    13: {"op": "write-composite", "values": {"/1/0/1": 5, "/3303/0/5701": "Cel"}},
    14: {"op": "observe-composite", "paths": ["/3303/0/5700", "/3/0/9"]},
    15: {"op": "create", "path": "/3303", "format": "tlv", "values": {"5700": -3.25}},
}

OBSERVE_CONF = ('observe = ( { path = "/3303"; },\n'
                '            { path = "/3/0/9"; pmin = 1; pmax = 60; } );\n')


# ---- CoAP, as much as the conversion needs

def parse(buf):
    """(type, code, mid, token, options [(number, bytes)], payload) or None."""
    if len(buf) < 4 or buf[0] >> 6 != 1 or (buf[0] & 15) > 8:
        return None
    t, tkl, code, mid = (buf[0] >> 4) & 3, buf[0] & 15, buf[1], struct.unpack(">H", buf[2:4])[0]
    token, i, num, opts = buf[4:4 + tkl], 4 + tkl, 0, []
    while i < len(buf) and buf[i] != 0xFF:
        d, ln = buf[i] >> 4, buf[i] & 15
        i += 1
        vals = []
        for f in (d, ln):
            if f == 13:
                f, i = 13 + buf[i], i + 1
            elif f == 14:
                f, i = 269 + struct.unpack(">H", buf[i:i + 2])[0], i + 2
            vals.append(f)
        num += vals[0]
        opts.append((num, bytes(buf[i:i + vals[1]])))
        i += vals[1]
    payload = bytes(buf[i + 1:]) if i < len(buf) else b""
    return t, code, mid, bytes(token), opts, payload


def uint(b):
    return int.from_bytes(b, "big") if b else 0


def signature(msg):
    """The number of fuzz_coap.c's request this gateway request is, or None (observations)."""
    t, code, mid, token, opts, payload = msg
    path = "/" + "/".join(v.decode() for n, v in opts if n == 11)
    obs = next((uint(v) for n, v in opts if n == 6), None)
    accept = next((uint(v) for n, v in opts if n == 17), None)
    cf = next((uint(v) for n, v in opts if n == 12), None)
    method = {1: "GET", 2: "POST", 3: "PUT", 4: "DELETE", 5: "FETCH", 7: "IPATCH"}.get(code)
    table = {
        ("GET", "/3/0/0", None): 1, ("PUT", "/1/0/1", None): 3, ("POST", "/1/0", None): 4,
        ("POST", "/3/0/4", None): 5, ("PUT", "/3303/0/5700", None): 7,
        ("DELETE", "/3303/7", None): 9, ("GET", "/3303/0/5700", 0): 10,
        ("GET", "/3303/0/5700", 1): 11, ("FETCH", "/", None): 12, ("IPATCH", "/", None): 13,
        ("FETCH", "/", 0): 14,
    }
    if (method, path) == ("GET", "/3/0"):
        return 6 if accept == 40 else 2
    if (method, path) == ("POST", "/3303"):
        return 15 if cf == 11542 else 8
    return table.get((method, path, obs))


def is_request(msg):
    return msg[1] != 0 and msg[1] >> 5 == 0


# ---- the proxy

class Proxy:
    """Forwards datagrams between clients and the gateway, one upstream socket per client, and
    logs (client, direction, bytes) in arrival order."""

    def __init__(self, gw_port):
        self.gw = ("127.0.0.1", gw_port)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.up = {}      # client address -> upstream socket
        self.client = {}  # upstream socket -> client address
        self.log = []
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.front, selectors.EVENT_READ)
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            for key, _ in self.sel.select(0.1):
                s = key.fileobj
                data, addr = s.recvfrom(65535)
                if s is self.front:
                    u = self.up.get(addr)
                    if u is None:
                        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        u.bind(("127.0.0.1", 0))
                        self.up[addr], self.client[u] = u, addr
                        self.sel.register(u, selectors.EVENT_READ)
                    self.log.append((addr, "dev", data))
                    u.sendto(data, self.gw)
                else:
                    addr = self.client[s]
                    self.log.append((addr, "gw", data))
                    self.front.sendto(data, addr)

    def stop(self):
        self.running = False
        self.thread.join()


# ---- one flow -> one seed

def convert(flow):
    """The fuzz_coap.c input for one device's flow [(direction, bytes)], and notes."""
    gw_reqs, out, notes = [], bytearray([0]), []
    location, pending = None, None
    for direction, data in flow:
        msg = parse(data)
        if direction == "gw":
            if msg is None:
                continue
            if is_request(msg):
                gw_reqs.append(msg)
                op = signature(msg)
                if op is not None:
                    if pending is not None:
                        notes.append(f"two requests from MQTT before one datagram: {op} lost")
                    pending = op
            elif msg[1] == 0x41:  # 2.01: the location of a Register
                locs = [v for n, v in msg[4] if n == 8]
                if len(locs) == 2 and len(locs[1]) == 8:
                    location = locs[1]
            continue
        flags, sel = 0, 0
        if msg is not None:
            t, code, mid, token, opts, payload = msg
            answer = t in (2, 3) or (code >> 5) >= 2
            if answer:
                for k in range(len(gw_reqs) - 1, -1, -1):
                    g = gw_reqs[k]
                    if token and g[3] == token:
                        flags |= 1
                        if t in (2, 3) and g[2] == mid:
                            flags |= 2
                        sel = k
                        break
                    if not token and t in (2, 3) and g[2] == mid:
                        flags, sel = 2, k
                        break
        if location:
            data = data.replace(location, b"XXXXXXXX")
        if pending is not None:
            flags |= pending << 4
            pending = None
        out += bytes([flags, sel]) + struct.pack(">H", len(data)) + data
    return bytes(out), notes


# ---- running things

def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--devsim", required=True)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="capture-coap-")
    mport, gport = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    with open(os.path.join(tmp, "mosquitto.conf"), "w") as f:
        f.write(f"listener {mport} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                + ("user root\n" if os.geteuid() == 0 else ""))
    procs = [subprocess.Popen(["mosquitto", "-c", os.path.join(tmp, "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(0.5)
    conf = os.path.join(tmp, "gateway.conf")
    with open(conf, "w") as f:
        f.write(f'lwm2m: {{ listen = [ "coap://127.0.0.1:{gport}" ]; lifetime_min = 1; }};\n'
                f'mqtt: {{ uri = "tcp://127.0.0.1:{mport}"; topic_prefix = "cap"; }};\n'
                f'store: {{ path = "{tmp}/state.db"; }};\n' + OBSERVE_CONF)
    gw_log = open(os.path.join(tmp, "gateway.log"), "w")
    procs.append(subprocess.Popen([args.gateway, "-c", conf, "--log-level", "debug"],
                                  stdout=gw_log, stderr=gw_log))
    time.sleep(1.0)
    proxy = Proxy(gport)
    server = f"coap://127.0.0.1:{proxy.port}"

    answers = []
    client = paho.Client(client_id="capture-coap")
    client.on_message = lambda c, u, m: answers.append(json.loads(m.payload))
    client.connect("127.0.0.1", mport)
    client.subscribe("cap/+/response", qos=1)
    client.loop_start()

    def devsim(ep, actions, *options):
        return subprocess.Popen([args.devsim, "--server", server, "--ep", ep, "--rate", "4",
                                 *options, *actions], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def requests(ep, ops):
        """Publishes the requests of `ops` to `ep` one at a time, each after the last answer."""
        for n in ops:
            doc = dict(OPS[n], id=str(n))
            before = len(answers)
            client.publish(f"cap/{ep}/request", json.dumps(doc), qos=1)
            deadline = time.time() + 8
            while time.time() < deadline and not any(
                    a.get("id") == str(n) and a.get("status") != "held" for a in answers[before:]):
                time.sleep(0.05)

    lifecycle = ["register", "serve:2.5", "update", "update:lt=120:b=UQ",
                 "send:/3303/0/5700,/3/0/9", "update:objects=</1/0>,</3/0>,</3303/0>,</3303/1>",
                 "serve:1", "deregister"]
    runs = {
        "devsim_lifecycle_senml_json": (lifecycle, ["--format", "senml-json"]),
        "devsim_lifecycle_senml_cbor": (lifecycle, ["--format", "senml-cbor", "--notify", "con"]),
        "devsim_lifecycle_tlv_10": (lifecycle[:4] + lifecycle[5:], ["--lwm2m", "1.0",
                                                                    "--format", "tlv"]),
        "devsim_lifecycle_lwm2m_json": (lifecycle, ["--format", "json", "--notify", "con"]),
        "devsim_lifecycle_text_12": (lifecycle, ["--format", "text", "--lwm2m", "1.2"]),
        "devsim_queue_mode": (["register", "serve:1.5", "update", "deregister"],
                              ["--queue", "--root", "/lwm2m"]),
    }
    for name, (actions, options) in runs.items():
        devsim(name[7:].replace("_", "-")[:40], actions, *options).wait(30)

    request_runs = {
        "devsim_requests_11": ([], list(range(1, 16))),
        "devsim_requests_10_tlv": (["--lwm2m", "1.0", "--format", "tlv"], list(range(1, 12))),
        "devsim_requests_separate": (["--delay-ms", "30"], [1, 3, 5, 6, 8, 9, 12]),
        "devsim_requests_cbor": (["--format", "senml-cbor"], [1, 2, 10, 11, 13, 14]),
    }
    for name, (options, ops) in request_runs.items():
        ep = name[7:].replace("_", "-")
        p = devsim(ep, ["register", "serve:60", "deregister"], *options)
        time.sleep(3.0)  # registered, observations answered
        requests(ep, ops)
        time.sleep(0.5)
        p.terminate()
        p.wait(10)

    time.sleep(0.5)
    proxy.stop()
    client.loop_stop()
    for p in procs:
        p.terminate()
        p.wait(10)

    flows = {}
    for addr, direction, data in proxy.log:
        flows.setdefault(addr, []).append((direction, data))
    os.makedirs(OUT, exist_ok=True)
    names = list(runs) + list(request_runs)
    if len(flows) != len(names):
        print(f"capture: {len(flows)} flows for {len(names)} runs; see {tmp}", file=sys.stderr)
    for name, flow in zip(names, flows.values()):
        seed, notes = convert(flow)
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(seed)
        print(f"{name}: {sum(1 for d, _ in flow if d == 'dev')} datagrams from the device, "
              f"{sum(1 for d, _ in flow if d == 'gw')} from the gateway, {len(seed)} bytes"
              + "".join(f"; {n}" for n in notes))


if __name__ == "__main__":
    main()
