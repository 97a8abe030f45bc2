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
                    "persistence false\nset_tcp_nodelay true\n" + ("user root\n" if os.geteuid() == 0 else ""))
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
    """`count` devsim devices in as few processes as the descriptor limit allows (names
    PREFIX0.. in one process; d{k}-0.. per process k in several). Every process runs
    `actions` (--quiet); summary() waits for all of them and adds up their summary lines."""

    def __init__(self, server, count, actions, *extra, prefix="dev-", lifetime=3600, rate=0,
                 concurrency=1000, timeout_ms=30000):
        per = per_process()
        k = -(-count // per)
        self.procs = []
        for i in range(k):
            n = min(per, count - i * per)
            name = prefix if k == 1 else f"d{i}-"
            bind = [] if k == 1 else ["--bind", f"127.0.0.{i + 2}"]
            args = [DEVSIM, "--server", server, "--count", str(n), "--ep-prefix", name,
                    "--lifetime", str(lifetime), "--rate", str(rate),
                    "--concurrency", str(max(1, concurrency // k)), "--timeout", str(timeout_ms),
                    "--quiet", *bind, *map(str, extra), *actions]
            self.procs.append(subprocess.Popen(args, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, text=True))

    def interrupt(self):
        """SIGINT: ends a serve/wait action, the next actions run (deregister)."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)

    def summary(self, timeout=900):
        """Waits for every process; returns their summaries added up, with `start` (the
        wall time the first one began its actions: the setup of many devices is not
        counted), `end` (when the last one printed its summary) and `seconds` between."""
        total = {"ok": 0, "failed": 0, "notifications": 0, "processes": len(self.procs)}
        starts, ends = [], []
        for p in self.procs:
            summary = None
            for line in p.stdout:
                if '"summary"' in line:
                    summary = json.loads(line)
                    ends.append(time.time())
                    starts.append(ends[-1] - summary["seconds"])
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


def perf_stop(handle, top=15):
    """Stops the recording; writes the top symbols (self time) next to it as .txt and returns
    that file's name."""
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
        f.write("\n".join(rows[:top]) + "\n")
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
