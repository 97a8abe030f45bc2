"""bench_dtls.py [N] - registrations over DTLS (PSK handshake + Register) beside the same over
plain UDP, in one run against one gateway: registrations/s and the gateway's resident memory
per registered device, each with the plain-UDP baseline and the ratio. A real mosquitto on a
free loopback port, the real binary, devsim devices (one UDP port each). Prints a table;
asserts nothing."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from benchlib import DEVSIM, GW, free_port, rss_kib, summary_row, wait_port

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else \
    (200 if os.environ.get("GW_BENCH_QUICK") else 1000)


def register(server, prefix, extra):
    t0 = time.perf_counter()
    p = subprocess.run([DEVSIM, "--server", server, "--count", str(N), "--ep-prefix", prefix,
                        "--lifetime", "3600", "--rate", "0", "--quiet", "--timeout", "20000",
                        *extra, "register", "silent"], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    ok = re.search(r'"ok":\s*(\d+)', p.stdout)
    return dt, int(ok.group(1)) if ok else -1, p


def main():
    mosquitto = shutil.which("mosquitto")
    if not mosquitto or not os.path.exists(GW) or not os.path.exists(DEVSIM):
        print("bench_dtls: needs mosquitto, the gateway and devsim (tools/bench.sh builds them)")
        return 1
    d = tempfile.mkdtemp(prefix="bench-dtls-")
    mport, udp, dtls = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM), \
        free_port(socket.SOCK_DGRAM)
    with open(f"{d}/m.conf", "w") as f:
        f.write(f"listener {mport} 127.0.0.1\nallow_anonymous true\n"
                + ("user root\n" if os.geteuid() == 0 else ""))
    broker = subprocess.Popen([mosquitto, "-c", f"{d}/m.conf"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    key = "00112233445566778899aabbccddeeff"
    with open(f"{d}/fleet.psk", "w") as f:
        for i in range(N):
            f.write(f"sec-{i} id-sec-{i} {key}\n")
    with open(f"{d}/gw.conf", "w") as f:
        f.write("lwm2m: {\n"
                f'  listen = [ "coap://127.0.0.1:{udp}", "coaps://127.0.0.1:{dtls}" ];\n'
                "  lifetime_max = 86400;\n"
                f'  security: {{ psk_file = "{d}/fleet.psk"; }};\n'
                "};\n"
                f'mqtt: {{ uri = "tcp://127.0.0.1:{mport}"; client_id = "bench-dtls"; '
                'topic_prefix = "bench"; qos = 0; };\n'
                f'store: {{ path = "{d}/state.db"; }};\n')
    gw = None
    try:
        wait_port(mport)
        gw = subprocess.Popen([GW, "-c", f"{d}/gw.conf", "--log-level", "warn"],
                              stdout=subprocess.DEVNULL, stderr=open(f"{d}/gw.log", "w"))
        time.sleep(1.0)
        base = rss_kib(gw.pid)
        t_udp, ok_udp, _ = register(f"coap://127.0.0.1:{udp}", "udp-", [])
        time.sleep(0.5)
        after_udp = rss_kib(gw.pid)
        t_dtls, ok_dtls, p = register(f"coaps://127.0.0.1:{dtls}", "sec-",
                                      ["--psk-file", f"{d}/fleet.psk"])
        time.sleep(0.5)
        after_dtls = rss_kib(gw.pid)
        if ok_udp != N or ok_dtls != N:
            # devsim says why on stderr (too few descriptors for N devices, say)
            print(f"bench_dtls: registered udp={ok_udp} dtls={ok_dtls} of {N}\n"
                  f"{p.stdout[-500:]}{p.stderr[-500:]}")
            return 1  # the figures below divide by N
        r_udp, r_dtls = N / t_udp, N / t_dtls
        kib_udp = (after_udp - base) / N
        kib_dtls = (after_dtls - after_udp) / N
        print(f"{'N devices':34s}{N:>12d}")
        print(f"{'registrations/s, plain UDP':34s}{r_udp:12.0f}")
        print(f"{'registrations/s, DTLS PSK':34s}{r_dtls:12.0f}   (handshake + Register)")
        print(f"{'ratio DTLS / UDP':34s}{r_dtls / r_udp:12.2f}x")
        print(f"{'RSS per device, plain UDP (KiB)':34s}{kib_udp:12.2f}")
        print(f"{'RSS per device, DTLS (KiB)':34s}{kib_dtls:12.2f}")
        ratio = kib_dtls / kib_udp if kib_udp > 0 else float("nan")
        print(f"{'ratio DTLS / UDP':34s}{ratio:12.2f}x")
        print(f"{'devices held (registered)':34s}{ok_udp + ok_dtls:12d}")
        summary_row("dtls", f"registrations/s over DTLS PSK, N={N}", f"{r_dtls:,.0f}",
                    f"plain UDP {r_udp:,.0f}", f"{r_dtls / r_udp:.2f}")
        summary_row("dtls", "RSS per DTLS device (KiB)", f"{kib_dtls:.2f}",
                    f"plain UDP {kib_udp:.2f}",
                    f"{kib_dtls / kib_udp:.2f}" if kib_udp > 0 else "-")
    finally:
        if gw:
            gw.terminate()
            gw.wait(10)
        broker.terminate()
        broker.wait(5)
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
