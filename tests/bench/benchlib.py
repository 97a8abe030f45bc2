"""benchlib.py - what the script benchmarks (bench_*.py) share: a real mosquitto on a free
loopback port, the real gateway binary with a configuration written for the run, devsim,
mqttload (the C subscriber, plain publisher, request/response driver and echo client), the
process figures read from /proc (resident memory, CPU seconds, descriptors), perf recordings,
and the rows of the suite's summary table.

Every benchmark prints its own table and appends its main figures, each beside the baseline
measured in the same run, to $GW_BUILD_DIR/bench-summary.md (tools/bench.sh starts that file
and prints it at the end). Nothing here asserts on time. GW_BENCH_QUICK=1 (tools/bench.sh
--quick) asks every benchmark for a short run with small counts."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BUILD = os.path.abspath(os.environ.get("GW_BUILD_DIR", "build-bench"))
GW = os.path.join(BUILD, "lwm2m-mqtt-gateway")
DEVSIM = os.path.join(BUILD, "tests", "devsim")
MQTTLOAD = os.path.join(BUILD, "tests", "bench", "mqttload")
SUMMARY = os.path.join(BUILD, "bench-summary.md")
QUICK = os.environ.get("GW_BENCH_QUICK", "") not in ("", "0")
PREFIX = "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def missing_tools():
    """Names of what a script benchmark needs and does not find, or []."""
    need = {"mosquitto": shutil.which("mosquitto"), "gateway": os.path.exists(GW),
            "devsim": os.path.exists(DEVSIM), "mqttload": os.path.exists(MQTTLOAD)}
    return [k for k, v in need.items() if not v]


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# ---- /proc ------------------------------------------------------------------------------

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def cpu_seconds(pid):
    """utime + stime of the process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu_seconds(pid):
    """utime + stime of each thread of the process, by thread name (comm), in seconds: the
    gateway's main thread is "lwm2m-mqtt-gate", Paho's are MQTTAsync_send and _rcv."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def runqueue_wait_seconds(pid, tid=None):
    """Seconds the thread (the main thread by default) has waited runnable for a CPU, from
    /proc/PID/task/TID/schedstat: starved, not idle."""
    with open(f"/proc/{pid}/task/{tid or pid}/schedstat") as f:
        return int(f.read().split()[1]) / 1e9


def machine_busy():
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat: the share of the machine
    in use over an interval, whoever used it (the machine may be shared)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


def udp_rcvbuf_errors():
    """Datagrams the kernel dropped for a full receive buffer, machine-wide, since boot."""
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:]))["RcvbufErrors"])


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


# ---- processes --------------------------------------------------------------------------

class Broker:
    """mosquitto on a free loopback port, queues large enough that a fast publisher is not
    cut off by the broker's default limits (1000 queued messages per client)."""

    def __init__(self, workdir):
        self.port = free_port()
        self.uri = f"tcp://127.0.0.1:{self.port}"
        conf = os.path.join(workdir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                    "max_queued_messages 2000000\nmax_inflight_messages 0\n"
                    "persistence false\nset_tcp_nodelay true\n"
                    + ("user root\n" if os.geteuid() == 0 else ""))
        self.proc = subprocess.Popen([shutil.which("mosquitto"), "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        stop_process(self.proc)


class Gateway:
    """The real daemon on a free UDP port, the store in the run's directory. `observe` is the
    text of the `observe` list (e.g. '{ path = "/3303/0/5700"; }'), '' for none."""

    def __init__(self, workdir, broker, *, qos=1, observe="", name="gw", extra=""):
        self.port = free_port(socket.SOCK_DGRAM)
        self.server = f"coap://127.0.0.1:{self.port}"
        self.conf = os.path.join(workdir, f"{name}.conf")
        self.log = os.path.join(workdir, f"{name}.log")
        with open(self.conf, "w") as f:
            f.write("lwm2m: {\n"
                    f'  listen = [ "coap://127.0.0.1:{self.port}" ];\n'
                    "  lifetime_min = 30;\n  lifetime_max = 86400;\n"
                    "};\n"
                    f'mqtt: {{ uri = "{broker.uri}"; client_id = "bench-{name}"; '
                    f'topic_prefix = "{PREFIX}"; qos = {qos}; }};\n'
                    f'store: {{ path = "{workdir}/{name}-state.db"; }};\n'
                    + (f"observe = ( {observe} );\n" if observe else "") + extra)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LWM2M_GW_")}
        self.proc = subprocess.Popen([GW, "-c", self.conf, "--log-level", "warn"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        self.pid = self.proc.pid
        # online: the retained gateway status is on the broker
        r = Subscriber(broker, [f"{PREFIX}/gateway/status"], match="online", expect=1,
                       idle=10).result()
        if r["count"] < 1 or self.proc.poll() is not None:
            raise RuntimeError(f"the gateway did not come online, see {self.log}")

    def stop(self):
        stop_process(self.proc, 20)


def stop_process(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Subscriber:
    """mqttload sub: started and subscribed when the constructor returns; result() waits for
    its end (expect/idle/max_seconds, or stop()) and returns its JSON line as a dict."""

    def __init__(self, broker, topics, *, qos=0, match=None, expect=0, idle=5.0,
                 max_seconds=600.0, warmup=0.0):
        args = [MQTTLOAD, "sub", "--uri", broker.uri, "--qos", str(qos), "--idle", str(idle),
                "--max-seconds", str(max_seconds), "--expect", str(expect),
                "--warmup", str(warmup)]
        for t in topics:
            args += ["--topic", t]
        if match is not None:
            args += ["--match", match]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"mqttload sub did not start: {line!r}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def result(self, timeout=700):
        out, _ = self.proc.communicate(timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])


def mqttload(*args, timeout=300):
    """Runs mqttload to its end; returns its last JSON line as a dict."""
    p = subprocess.run([MQTTLOAD, *map(str, args)], capture_output=True, text=True,
                       timeout=timeout)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"mqttload {args[0]} failed: {p.stderr[-500:]}")
    return json.loads(lines[-1])


def start_mqttload(*args):
    """Starts a long-running mqttload (echo, rr) and waits for its "ready"."""
    p = subprocess.Popen([MQTTLOAD, *map(str, args)], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError(f"mqttload {args[0]} did not start: {line!r}")
    return p


# devsim holds three descriptors per device (socket, epoll, timerfd of its own context) and
# raises its RLIMIT_NOFILE only within the hard limit unless privileged (CAP_SYS_RESOURCE): a
# fleet larger than one process can hold runs as several devsim processes, each on its own
# 127.0.0.x source address (an address has about 28000 ephemeral ports).
def _nofile_hard():
    import resource
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def per_process():
    if os.environ.get("GW_BENCH_PER_PROCESS"):
        return int(os.environ["GW_BENCH_PER_PROCESS"])
    hard = _nofile_hard()
    if hard == -1 or hard >= 3 * 20000 + 100:
        return 20000
    return max(1000, (hard - 100) // 3 // 1000 * 1000)


class Fleet:
    """`count` devsim devices in as few processes as the descriptor limit allows, or in
    `processes` of them when more are wanted (to send faster than one devsim thread can);
    names PREFIX0.. in one process, d{k}-0.. per process k in several, each then on its own
    source address 127.0.0.{k+2}. Every process runs `actions` (--quiet), at niceness `nice`;
    summary() waits for all of them and adds up their summary lines and the CPU seconds they
    used."""

    def __init__(self, server, count, actions, *extra, prefix="dev-", lifetime=3600, rate=0,
                 concurrency=1000, timeout_ms=30000, processes=None, nice=0):
        per = per_process()
        k = max(-(-count // per), processes or 1)
        self.procs = []
        for i in range(k):
            n = count // k + (1 if i < count % k else 0)
            name = prefix if k == 1 else f"d{i}-"
            bind = [] if k == 1 else ["--bind", f"127.0.0.{i + 2}"]
            args = [DEVSIM, "--server", server, "--count", str(n), "--ep-prefix", name,
                    "--lifetime", str(lifetime), "--rate", str(rate),
                    "--concurrency", str(max(1, concurrency // k)), "--timeout", str(timeout_ms),
                    "--quiet", *bind, *map(str, extra), *actions]
            self.procs.append(subprocess.Popen(args, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, text=True,
                                               preexec_fn=(lambda: os.nice(nice)) if nice
                                               else None))

    def interrupt(self):
        """SIGINT: ends a serve/wait action, the next actions run (deregister)."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)

    def summary(self, timeout=900):
        """Waits for every process; returns their summaries added up, with `start` (the
        wall time the first one began its actions: the setup of many devices is not
        counted), `end` (when the last one printed its summary) and `seconds` between, and
        `cpu` (the CPU seconds of each process, from its end's resource usage)."""
        total = {"ok": 0, "failed": 0, "notifications": 0, "processes": len(self.procs),
                 "cpu": []}
        starts, ends = [], []
        for p in self.procs:
            summary = None
            for line in p.stdout:
                if '"summary"' in line:
                    summary = json.loads(line)
                    ends.append(time.time())
                    starts.append(ends[-1] - summary["seconds"])
            try:
                _, status, ru = os.wait4(p.pid, 0)
                p.returncode = os.waitstatus_to_exitcode(status)
                total["cpu"].append(ru.ru_utime + ru.ru_stime)
            except ChildProcessError:  # already reaped
                p.wait(timeout)
            if summary is None:
                raise RuntimeError(f"devsim printed no summary: {p.stderr.read()[-800:]}")
            for key in ("ok", "failed", "notifications"):
                total[key] += summary.get(key, 0)
        total["start"], total["end"] = min(starts), max(ends)
        total["seconds"] = total["end"] - total["start"]
        return total


# ---- perf ---------------------------------------------------------------------------------

def perf_start(pid, name):
    """perf record -g of `pid` into $GW_BUILD_DIR/perf-NAME.data until perf_stop."""
    if not shutil.which("perf"):
        return None
    out = os.path.join(BUILD, f"perf-{name}.data")
    return subprocess.Popen(["perf", "record", "-g", "-F", "999", "-p", str(pid), "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


# Debian 12's libcoap 4.3.1 and Paho MQTT C 1.3.11 are stripped and have no debug packages:
# perf shows their internal functions as addresses. The ones found in the benchmarks'
# profiles, read off their disassembly (these builds only, by build id):
# (library, build id, first, end, name).
LIB_SYMBOLS = [
    ("libcoap-3-openssl.so.3.0.0", "0b173463d73fcc2f4efae9a7251fc5673c838140", 0x1d5a0, 0x1e080,
     "coap_endpoint_get_session [by address]"),
    ("libcoap-3-openssl.so.3.0.0", "0b173463d73fcc2f4efae9a7251fc5673c838140", 0x20e30, 0x20ec0,
     "coap_delete_node (walks the context's sendqueue) [by address]"),
    ("libcoap-3-openssl.so.3.0.0", "0b173463d73fcc2f4efae9a7251fc5673c838140", 0x21ab0, 0x21bd0,
     "coap_remove_from_queue (walks the sendqueue) [by address]"),
    ("libpaho-mqtt3as.so.1.3.11", "b4a3e7f94fc4f45834d21f126f9edb3669cca8fc", 0x9570, 0x957c,
     "cmdMessageIDCompare (MQTTAsync_assignMsgId's walk of the commands) [by address]"),
    ("libpaho-mqtt3as.so.1.3.11", "b4a3e7f94fc4f45834d21f126f9edb3669cca8fc", 0x12f80, 0x12f8c,
     "messageIDCompare (MQTTAsync_assignMsgId's walk of outboundMsgs) [by address]"),
    ("libpaho-mqtt3as.so.1.3.11", "b4a3e7f94fc4f45834d21f126f9edb3669cca8fc", 0x21430, 0x214c0,
     "ListFindItem [by address]"),
]


def _name_addresses(row):
    m = re.search(r"(lib\S+\.so\S*)\s+\[\.\]\s+0x([0-9a-f]+)", row)
    if not m:
        return row
    addr = int(m.group(2), 16)
    for lib, build_id, first, end, name in LIB_SYMBOLS:
        if lib == m.group(1) and first <= addr < end and _build_id(lib) == build_id:
            return f"{row}  {name}"
    return row


def _build_id(lib):
    path = os.path.join("/usr/lib/x86_64-linux-gnu", lib)
    try:
        out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    except OSError:
        return None
    m = re.search(r"Build ID:\s*([0-9a-f]+)", out)
    return m.group(1) if m else None


def perf_stop(handle, top=15):
    """Stops the recording; writes the top symbols (self time) next to it as .txt and returns
    that file's name. Addresses that LIB_SYMBOLS knows get their name."""
    if handle is None:
        return None
    proc, out = handle
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    rep = subprocess.run(["perf", "report", "-i", out, "--no-children", "--stdio",
                          "--percent-limit", "0.5", "-g", "none"],
                         capture_output=True, text=True)
    txt = out[:-5] + ".txt"
    rows = [l for l in rep.stdout.splitlines() if l.strip() and not l.startswith("#")]
    with open(txt, "w") as f:
        f.write("\n".join(_name_addresses(r) for r in rows[:top]) + "\n")
    return txt


# ---- output -------------------------------------------------------------------------------

def table(rows):
    """Prints (figure, value, baseline, ratio) rows aligned."""
    for r in rows:
        print(f"  {r[0]:46s} {r[1]:>14s} {r[2]:>14s} {r[3]:>9s}")


def fmt(v, digits=0):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:,.{digits}f}"


def summary_row(bench, figure, value, baseline="-", ratio="-", target="-"):
    """Appends one row to the suite's summary table (markdown)."""
    if not os.path.exists(SUMMARY):
        with open(SUMMARY, "w") as f:
            f.write(summary_header())
    with open(SUMMARY, "a") as f:
        f.write(f"| {bench} | {figure} | {value} | {baseline} | {ratio} | {target} |\n")


def summary_header():
    return ("| benchmark | figure | value | baseline (same run) | ratio | target |\n"
            "|---|---|---|---|---|---|\n")


def ratio(a, b, digits=2):
    return f"{a / b:.{digits}f}" if a is not None and b else "-"


class Workdir:
    """A temporary directory removed at the end (with its broker and gateways stopped)."""

    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix=f"bench-{name}-")
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            p.stop()
        shutil.rmtree(self.path, ignore_errors=True)
