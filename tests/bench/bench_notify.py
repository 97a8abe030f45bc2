"""bench_notify.py - notification flood and latency: devsim devices notify 3303/0/5700, which
the gateway observes (observe rule, no attributes: every change), through the gateway to a C
subscriber (mqttload) on `bench/+/data/3303/0/5700`, at QoS 0 and QoS 1 (mqtt.qos and the
subscription). Beside them, in the same run: the plain Paho publisher (mqttload pub, the same
JSON on the same kind of topics, same broker and subscriber) and a plain loopback UDP
send/receive rate.

1. Saturation: D devices at a rate far above what devsim can send; sent (devsim's count),
   received, delivered/s. The gateway is recorded with perf (build-bench/perf-notify.data).
2. Max sustainable rate: offered rates of 1/2, 3/4 and 1 of the saturated delivery; the
   highest that arrives with loss <= 1 % (a start-up loss of about 100-500 messages, found
   at any rate and any duration, would otherwise hide every rate).
3. Latency at 10 % and 80 % of that rate: devsim --stamp makes each value the sender's
   CLOCK_REALTIME in microseconds, the subscriber subtracts it from its receive time
   (p50/p99/max, after a warm-up); the baseline is the plain publisher at the same rate.

devsim sends from one thread: where its sent rate stays below the offered one, devsim, not the
gateway, is what saturated; the gateway's CPU per notification then says how far it could go.

Counts: every device's first value (the answer to the Observe) is published too, so a run
expects notifications + D messages. No assertion on any figure."""
import sys
import time

import benchlib as b

D = 500 if b.QUICK else 1000
T = 3.0 if b.QUICK else 5.0
TOPIC = f"{b.PREFIX}/+/data/3303/0/5700"
OBSERVE = '{ path = "/3303/0/5700"; }'


def flood(qos, offered, perf=False):
    """D devices changing offered/D times a second for T s. Returns the figures."""
    with b.Workdir("notify") as w:
        broker = b.Broker(w.path)
        w.procs.append(broker)
        gw = b.Gateway(w.path, broker, qos=qos, observe=OBSERVE, name="notify")
        w.procs.append(gw)
        sub = b.Subscriber(broker, [TOPIC], qos=qos, idle=3.0, warmup=1.5, max_seconds=120)
        rec = b.perf_start(gw.pid, "notify") if perf else None
        c0 = b.cpu_seconds(gw.pid)
        fleet = b.Fleet(gw.server, D, ["register", f"wait:{T + 1.0}", "silent"], "--stamp",
                        rate=offered / D, concurrency=256)
        s = fleet.summary()
        cpu = b.cpu_seconds(gw.pid) - c0
        top = b.perf_stop(rec)
        r = sub.result()
        expected = s["notifications"] + D
        span = (r["last_us"] - r["first_us"]) / 1e6 if r["count"] > 1 else 0
        # devsim notifies from the first observation (about the first message the
        # subscriber sees) until it prints its summary
        sent_span = s["end"] - r["first_us"] / 1e6 if r["count"] else 0
        return {"qos": qos, "offered": offered, "sent": s["notifications"],
                "sent_rate": s["notifications"] / sent_span if sent_span > 0 else 0.0,
                "received": r["count"],
                "expected": expected, "lost": expected - r["count"],
                "rate": r["count"] / span if span > 0 else 0.0, "p50": r.get("p50_us"),
                "p99": r.get("p99_us"), "max": r.get("max_us"), "gw_cpu": cpu, "perf": top}


def plain_publisher(qos, rate=0.0, count=None):
    """The baseline: mqttload pub with the gateway's JSON, same broker setup and subscriber."""
    with b.Workdir("notify-base") as w:
        broker = b.Broker(w.path)
        w.procs.append(broker)
        sub = b.Subscriber(broker, ["base/+/data/3303/0/5700"], qos=qos, idle=3.0,
                           warmup=1.0 if rate else 0.0, max_seconds=120)
        n = count or int(rate * (T + 1.0))
        p = b.mqttload("pub", "--uri", broker.uri, "--prefix", "base", "--devices", D,
                       "--count", n, "--qos", qos, "--rate", rate)
        r = sub.result()
        return {"sent": p["sent"], "received": r["count"], "rate": r["rate"],
                "p50": r.get("p50_us"), "p99": r.get("p99_us"), "max": r.get("max_us")}


def us(v):
    return "-" if v is None else f"{v / 1000:.2f} ms"


def main():
    missing = b.missing_tools()
    if missing:
        print(f"bench_notify: needs {', '.join(missing)} (tools/bench.sh builds them)")
        return 1
    udp = b.mqttload("udp", "--seconds", 1 if b.QUICK else 2, "--size", 100)
    print(f"  plain UDP over loopback (100-byte datagrams, one sender, one receiver): "
          f"{udp['rate']:,.0f}/s received of {udp['sent_rate']:,.0f}/s sent")
    b.summary_row("notify", "plain UDP loopback datagrams/s (baseline)", b.fmt(udp["rate"]))
    for qos in (0, 1):
        base = plain_publisher(qos, count=int(60000 * T) if qos == 0 else int(35000 * T))
        sat = flood(qos, 100000, perf=(qos == 1))
        print(f"  QoS {qos}: plain publisher {base['rate']:,.0f}/s ({base['received']} of "
              f"{base['sent']}); gateway at saturation: devsim sent {sat['sent']} "
              f"({sat['sent_rate']:,.0f}/s), received {sat['received']} of {sat['expected']} "
              f"(lost {sat['lost']}), delivered {sat['rate']:,.0f}/s, gateway CPU "
              f"{sat['gw_cpu']:.1f} s")
        if sat["perf"]:
            with open(sat["perf"]) as f:
                print(f"  perf top symbols ({sat['perf']}):\n    " + "    ".join(f.readlines()))
        best = None
        for frac in (0.5, 0.75, 1.0):
            offered = max(1000.0, round(sat["rate"] * frac, -2))
            r = flood(qos, offered)
            ok = r["lost"] <= 0.01 * r["expected"]
            print(f"  QoS {qos}: offered {offered:,.0f}/s: sent {r['sent']} ({r['sent_rate']:,.0f}/s), "
                  f"received {r['received']} of {r['expected']}, delivered {r['rate']:,.0f}/s"
                  f"{'' if ok else '  (loss > 1 %)'}")
            if ok:
                best = r
        max_rate = best["sent_rate"] if best else sat["rate"]
        b.summary_row("notify", f"QoS {qos}: delivered/s at saturation (sent {sat['sent']}, "
                      f"received {sat['received']} of {sat['expected']})", b.fmt(sat["rate"]),
                      f"plain Paho pub {b.fmt(base['rate'])}", b.ratio(sat["rate"], base["rate"]),
                      ">= 0.8")
        b.summary_row("notify", f"QoS {qos}: gateway CPU per delivered notification at "
                      "saturation (us)", f"{sat['gw_cpu'] / max(1, sat['received']) * 1e6:.1f}",
                      "-", "-", "-")
        b.summary_row("notify", f"QoS {qos}: max sustainable notifications/s (loss <= 1 %)",
                      b.fmt(best["sent_rate"]) if best else "none with loss <= 1 %",
                      f"plain Paho pub {b.fmt(base['rate'])}",
                      b.ratio(best["sent_rate"] if best else None, base["rate"]), ">= 0.8")
        for frac in (0.1, 0.8):
            rate = round(max_rate * frac, -1)
            r = flood(qos, rate)
            bl = plain_publisher(qos, rate=rate)
            print(f"  QoS {qos}: latency at {frac:.0%} ({rate:,.0f}/s): p50 {us(r['p50'])} "
                  f"p99 {us(r['p99'])} max {us(r['max'])}; plain publisher p50 {us(bl['p50'])} "
                  f"p99 {us(bl['p99'])} max {us(bl['max'])}; received {r['received']} of "
                  f"{r['expected']}")
            b.summary_row("latency", f"QoS {qos}: p50 / p99 / max at {frac:.0%} ({rate:,.0f}/s)",
                          f"{us(r['p50'])} / {us(r['p99'])} / {us(r['max'])}",
                          f"plain pub {us(bl['p50'])} / {us(bl['p99'])} / {us(bl['max'])}",
                          b.ratio(r["p99"], bl["p99"], 1) + " (p99)",
                          "p99 < 2 ms" if frac == 0.1 else "-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
