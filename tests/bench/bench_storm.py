"""bench_storm.py [N...] - registration storm, memory per device and idle CPU, against the
real gateway with its store on (store.path in the run's directory) and a real mosquitto.

For each N (default 1000 10000 100000, the issue's largest: about 2.5 minutes for 100000
here; GW_BENCH_QUICK: 1000 10000; `bench_storm.py N...` for others) a fresh broker and gateway;
devsim registers N devices, 256 Registers in flight (with 1000 the burst overflows the
gateway's UDP receive buffer and retransmissions after 2 s dominate), lifetime 3600 s within
the gateway's lifetime_min 30 / lifetime_max 86400. Beyond what one devsim process has
descriptors for, several devsim processes run, each on its own 127.0.0.x source address
(benchlib.Fleet). A C subscriber (mqttload) waits for the N retained `bench/{ep}/status` =
online. Figures: registrations/s (devsim's answered Registers over the time of the action),
the time until every `online` is on the broker, the gateway's resident memory and
descriptors before and after, then the CPU seconds the gateway uses idle with the N devices
registered. The baseline is the same storm answered by libcoap's example resource directory
(coap-rd: in memory, no MQTT, no store); memory per device is the slope between the smallest
and the largest N, beside the idle gateway's RSS. The largest N runs once more, recorded with
perf (build-bench/perf-storm.data, top symbols in perf-storm.txt), for the profile only: perf
takes CPU the storm then lacks. Past some 10000 devices the rate falls: libcoap 4.3.1 walks
every session of the endpoint (counting the idle ones) for each datagram from a new peer,
coap_endpoint_get_session, so a storm of N costs O(N^2)."""
import os
import shutil
import socket
import subprocess
import sys
import time

import benchlib as b

IDLE_S = 3.0 if b.QUICK else 10.0
CONCURRENCY = 256


def storm(n, perf=False):
    with b.Workdir("storm") as w:
        broker = b.Broker(w.path)
        w.procs.append(broker)
        gw = b.Gateway(w.path, broker, qos=1, name="storm")
        w.procs.append(gw)
        time.sleep(0.5)
        rss0, fds0 = b.rss_kib(gw.pid), b.fd_count(gw.pid)
        sub = b.Subscriber(broker, [f"{b.PREFIX}/+/status"], match="online", expect=n + 1,
                           idle=60, max_seconds=600)
        rec = b.perf_start(gw.pid, "storm") if perf else None
        summary = b.Fleet(gw.server, n, ["register", "silent"],
                          concurrency=CONCURRENCY).summary()
        t_start = summary["start"]
        r = sub.result()
        top = b.perf_stop(rec)
        time.sleep(1.0)
        rss1, fds1 = b.rss_kib(gw.pid), b.fd_count(gw.pid)
        c0 = b.cpu_seconds(gw.pid)
        time.sleep(IDLE_S)
        idle_cpu = b.cpu_seconds(gw.pid) - c0
        online_s = (r["last_us"] / 1e6 - t_start) if r["count"] >= n + 1 else None
        return {"n": n, "ok": summary["ok"], "failed": summary["failed"],
                "reg_s": summary["seconds"], "rate": summary["ok"] / summary["seconds"],
                "online": r["count"] - 1, "processes": summary["processes"],
                "online_s": online_s, "rss0": rss0, "rss1": rss1,
                "fds0": fds0, "fds1": fds1, "idle_cpu": idle_cpu, "perf": top}


def coap_server_baseline(n):
    """The same storm against libcoap's example resource directory, coap-rd (POST /rd ->
    2.01 with a location, kept in memory): a CoAP registration without MQTT or store."""
    exe = shutil.which("coap-rd-notls") or shutil.which("coap-rd")
    if not exe:
        return None
    port = b.free_port(socket.SOCK_DGRAM)
    srv = subprocess.Popen([exe, "-A", "127.0.0.1", "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        summary = b.Fleet(f"coap://127.0.0.1:{port}", n, ["register", "silent"],
                          concurrency=CONCURRENCY).summary()
        answered = summary["ok"] + summary["failed"]
        return answered / summary["seconds"]
    finally:
        b.stop_process(srv)


def main():
    missing = b.missing_tools()
    if missing:
        print(f"bench_storm: needs {', '.join(missing)} (tools/bench.sh builds them)")
        return 1
    ns = [int(a) for a in sys.argv[1:] if a.isdigit()] or \
        ([1000, 10000] if b.QUICK else [1000, 10000, 100000])
    runs = []
    for n in ns:
        try:
            runs.append(storm(n))
        except Exception as e:  # report what ran; a storm that breaks is a finding
            print(f"  N={n}: failed: {e}")
    # the profile, from a storm of its own: perf takes CPU the storm then lacks
    try:
        prof = storm(ns[-1], perf=True)
        print(f"  N={ns[-1]} once more, recorded with perf (a profile, not a figure): "
              f"{b.fmt(prof['rate'])} registrations/s")
    except Exception as e:
        prof = None
        print(f"  N={ns[-1]} recorded with perf: failed: {e}")
    base_n = min(ns[-1], 10000)
    base_rate = coap_server_baseline(base_n)
    rows = []
    for r in runs:
        n = r["n"]
        rows += [
            (f"N={n}: registered (ok/failed)", f"{r['ok']}/{r['failed']}", "", ""),
            (f"N={n}: registrations/s", b.fmt(r["rate"]), b.fmt(base_rate) if base_rate else "-",
             b.ratio(r["rate"], base_rate)),
            (f"N={n}: s until all status=online", b.fmt(r["online_s"], 2),
             f"{r['online']} seen", ""),
            (f"N={n}: RSS idle -> after (KiB)", f"{r['rss0']}->{r['rss1']}", "", ""),
            (f"N={n}: RSS per device (KiB)", b.fmt((r["rss1"] - r["rss0"]) / n, 2), "", ""),
            (f"N={n}: descriptors before -> after", f"{r['fds0']}->{r['fds1']}", "", ""),
            (f"N={n}: idle CPU s over {IDLE_S:.0f} s", b.fmt(r["idle_cpu"], 2), "", ""),
        ]
    print(f"  {'':46s} {'value':>14s} {'baseline':>14s} {'ratio':>9s}")
    print(f"  (baseline: the same storm, {base_n} devices, against libcoap's coap-rd)")
    b.table(rows)
    slope = None
    if len(runs) >= 2:
        lo, hi = runs[0], runs[-1]
        slope = (hi["rss1"] - lo["rss1"]) / (hi["n"] - lo["n"])
        print(f"  RSS slope {lo['n']}..{hi['n']} devices: {slope:.2f} KiB/device "
              f"(idle gateway {lo['rss0']} KiB)")
    if prof and prof["perf"]:
        print(f"  perf top symbols (N={prof['n']}): {prof['perf']}")
        with open(prof["perf"]) as f:
            print("    " + "    ".join(f.readlines()))
    for r in runs:
        n = r["n"]
        b.summary_row("storm", f"registrations/s, N={n}, store on", b.fmt(r["rate"]),
                      f"coap-rd {b.fmt(base_rate)}" if base_rate else "-",
                      b.ratio(r["rate"], base_rate), ">= 5000")
        b.summary_row("storm", f"s until all {n} status=online", b.fmt(r["online_s"], 2),
                      "-", "-", "-")
        b.summary_row("idle CPU", f"CPU s over {IDLE_S:.0f} s, {n} registered",
                      b.fmt(r["idle_cpu"], 3), "-", "-", "not measurable")
        b.summary_row("fds", f"gateway descriptors, {n} registered", f"{r['fds1']}",
                      f"idle {r['fds0']}", "-", "no fd per device")
    if slope is not None:
        b.summary_row("memory", f"RSS per device, slope {runs[0]['n']}..{runs[-1]['n']} (KiB)",
                      f"{slope:.2f}", f"idle gateway {runs[0]['rss0']} KiB", "-", "<= 4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
