"""bench_commands.py - commands from MQTT to the devices and back: mqttload rr publishes
`{"id":..,"op":"read","path":"/3/0/9"}` on `bench/{ep}/request` with one request in flight
per endpoint (the gateway, too, has one in flight per device) and sends the next when the
final answer is on `bench/{ep}/response`; P endpoints in parallel (1, and every registered
devsim device). The baseline, in the same run and with the same tool: the MQTT round trip
through the broker alone, to an echo client (mqttload echo) that answers every
`echo/{ep}/request` on `echo/{ep}/response`. At QoS 0 and at QoS 1 (the gateway's mqtt.qos,
the requests' and the subscriptions' QoS). Paho C leaves Nagle on: the gateway, mqttload and
the broker (set_tcp_nodelay) all set TCP_NODELAY, else a QoS 1 PUBLISH written right after a
PUBACK waits for the peer's delayed ACK (a lone round trip took 88 ms on either path). The
gateway's profile comes from one more run with every endpoint in parallel, recorded with perf
(build-bench/perf-commands-qos{0,1}.data, top symbols in the .txt beside it): its rate is
printed and is no figure, as perf takes CPU the run then lacks."""
import sys

import benchlib as b

D = 200 if b.QUICK else 1000
S = 2.0 if b.QUICK else 4.0


def rr(broker, prefix, parallel, qos):
    return b.mqttload("rr", "--uri", broker.uri, "--prefix", prefix, "--devices", parallel,
                      "--seconds", S, "--qos", qos, timeout=S + 60)


def run(qos):
    """Returns [(parallel, gateway figures, echo figures, gateway CPU s)]."""
    rows = []
    with b.Workdir("commands") as w:
        broker = b.Broker(w.path)
        w.procs.append(broker)
        gw = b.Gateway(w.path, broker, qos=qos, name="commands")
        w.procs.append(gw)
        online = b.Subscriber(broker, [f"{b.PREFIX}/+/status"], match="online", expect=D + 1,
                              idle=30)
        fleet = b.Fleet(gw.server, D, ["register", "serve"], concurrency=256)
        online.result()
        echo = b.start_mqttload("echo", "--uri", broker.uri, "--prefix", "echo", "--qos", qos)
        try:
            for p in (1, D):
                c0 = b.cpu_seconds(gw.pid)
                g = rr(broker, b.PREFIX, p, qos)
                cpu = b.cpu_seconds(gw.pid) - c0
                e = rr(broker, "echo", p, qos)
                prof = None
                if p == D:  # the profile, from a run of its own: perf takes CPU
                    rec = b.perf_start(gw.pid, f"commands-qos{qos}")
                    prof = rr(broker, b.PREFIX, p, qos)
                    prof["top"] = b.perf_stop(rec)
                rows.append((p, g, e, cpu, prof))
        finally:
            echo.terminate()
            echo.wait(10)
            fleet.interrupt()
            fleet.summary()
    return rows


def main():
    missing = b.missing_tools()
    if missing:
        print(f"bench_commands: needs {', '.join(missing)} (tools/bench.sh builds them)")
        return 1
    for qos in (0, 1):
        report(qos, run(qos))
    return 0


def report(qos, rows):
    for p, g, e, cpu, prof in rows:
        print(f"  QoS {qos}, {p} in parallel: gateway {g['rate']:,.0f} requests/s ({g['ok']} ok, "
              f"{g['other']} other, {g['held']} held; p50 {g.get('p50_us', 0) / 1000:.2f} ms, "
              f"p99 {g.get('p99_us', 0) / 1000:.2f} ms; gateway CPU {cpu:.1f} s) | "
              f"broker echo {e['rate']:,.0f}/s (p50 {e.get('p50_us', 0) / 1000:.2f} ms, "
              f"p99 {e.get('p99_us', 0) / 1000:.2f} ms) | ratio {b.ratio(g['rate'], e['rate'])}")
        if prof and prof["top"]:
            with open(prof["top"]) as f:
                print(f"  QoS {qos}, {p} in parallel once more, recorded with perf (a profile, not "
                      f"a figure): {prof['rate']:,.0f} requests/s; perf top symbols "
                      f"({prof['top']}):\n    " + "    ".join(f.readlines()))
        b.summary_row("commands", f"QoS {qos}: read requests/s, {p} endpoint(s) in parallel",
                      b.fmt(g["rate"]), f"broker echo {b.fmt(e['rate'])}",
                      b.ratio(g["rate"], e["rate"]))
        b.summary_row("commands", f"QoS {qos}: round trip p50 / p99, {p} in parallel",
                      f"{g.get('p50_us', 0) / 1000:.2f} / {g.get('p99_us', 0) / 1000:.2f} ms",
                      f"echo {e.get('p50_us', 0) / 1000:.2f} / {e.get('p99_us', 0) / 1000:.2f} ms",
                      b.ratio(g.get("p99_us"), e.get("p99_us"), 1) + " (p99)")


if __name__ == "__main__":
    sys.exit(main())
