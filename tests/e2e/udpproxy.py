"""udpproxy: a lossy UDP path for the fault tests (the kernel of the test machines has no
netem). It listens on a loopback port, and forwards every datagram of each client address
to the upstream server from a socket of that client's own, so that the server sees one
address per client, as it would without the proxy; the server's datagrams to that socket go
back to the client. On the way, in each direction, a datagram may be

  dropped      with probability `drop`,
  duplicated   with probability `duplicate` (sent twice, back to back),
  reordered    with probability `reorder`: held back, and sent right after the next datagram
               of the same client and direction (or after `hold_max` seconds if none comes).

The decisions come from one random.Random per client and direction, seeded from `seed`, the
direction and the client's rank (first, second, ... client seen): the same datagrams in the
same order meet the same faults. Every fault is counted (`counts`), per direction and in
total, and CoAP datagrams are counted by kind as well (request, notification, ack, ...), so
that a test can say what it injected; `unique` counts the distinct datagrams that got
through (a duplicate or a retransmission of the same bytes counts once).

One thread runs it, on a selector; `close()` stops it. Usage:

    with UdpProxy(("127.0.0.1", gw_port), drop=0.1, duplicate=0.05, reorder=0.05, seed=7) as p:
        devsim --server coap://127.0.0.1:{p.port} ...
        print(p.counts)
"""
import collections
import random
import selectors
import socket
import threading
import time
from typing import Dict, Optional, Tuple

UP, DOWN = "up", "down"   # client -> server, server -> client


def coap_kind(data: bytes) -> str:
    """A rough class of a CoAP datagram, for the counts: request, response (piggybacked or
    separate), notification (a response carrying Observe), empty (ACK/RST without code), or
    other (not CoAP)."""
    if len(data) < 4 or data[0] >> 6 != 1:
        return "other"
    tkl = data[0] & 0x0f
    code = data[1]
    if code == 0:
        return "empty"
    if code < 32:
        return "request"
    # Look for the Observe option (6) among the options.
    i, number = 4 + tkl, 0
    while i < len(data) and data[i] != 0xff:
        b = data[i]
        i += 1
        delta, length = b >> 4, b & 0x0f
        if delta == 15 or length == 15:
            return "response"
        if delta == 13:
            delta = data[i] + 13 if i < len(data) else 0
            i += 1
        elif delta == 14:
            delta = int.from_bytes(data[i:i + 2], "big") + 269
            i += 2
        if length == 13:
            length = data[i] + 13 if i < len(data) else 0
            i += 1
        elif length == 14:
            length = int.from_bytes(data[i:i + 2], "big") + 269
            i += 2
        number += delta
        if number == 6:
            return "notification"
        if number > 6:
            break
        i += length
    return "response"


class _Flow:
    """One client: its address, its upstream socket, its random sources and held datagrams."""

    def __init__(self, client: Tuple[str, int], upstream: socket.socket, seed, rank: int):
        self.client = client
        self.upstream = upstream
        self.rng = {UP: random.Random(f"{seed}:{UP}:{rank}"),
                    DOWN: random.Random(f"{seed}:{DOWN}:{rank}")}
        self.held: Dict[str, Optional[Tuple[bytes, float]]] = {UP: None, DOWN: None}
        self.seen = {UP: set(), DOWN: set()}   # hashes of the datagrams forwarded


class UdpProxy:
    def __init__(self, upstream: Tuple[str, int], *, drop: float = 0.0, duplicate: float = 0.0,
                 reorder: float = 0.0, seed=0, hold_max: float = 0.2,
                 listen: Tuple[str, int] = ("127.0.0.1", 0)):
        self.upstream_addr = upstream
        self.drop, self.duplicate, self.reorder = drop, duplicate, reorder
        self.seed = seed
        self.hold_max = hold_max
        self.counts: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        self._listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._listen.bind(listen)
        self._listen.setblocking(False)
        self._flows: Dict[Tuple[str, int], _Flow] = {}
        self._by_upstream: Dict[int, _Flow] = {}
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listen, selectors.EVENT_READ, None)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="udpproxy", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._listen.getsockname()[1]

    @property
    def clients(self) -> int:
        return len(self._flows)

    def set_faults(self, *, drop: Optional[float] = None, duplicate: Optional[float] = None,
                   reorder: Optional[float] = None) -> None:
        """Changes the fault rates from now on (e.g. a clean path while a test sets up)."""
        with self._lock:
            if drop is not None:
                self.drop = drop
            if duplicate is not None:
                self.duplicate = duplicate
            if reorder is not None:
                self.reorder = reorder

    def snapshot(self) -> Dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def summary(self) -> str:
        c = self.snapshot()
        keys = ("datagrams", "forwarded", "unique", "dropped", "duplicated", "reordered")
        parts = [f"{k}={c.get(k, 0)}" for k in keys]
        for d in (UP, DOWN):
            parts.append(d + "{" + ",".join(f"{k}={c.get(d + '.' + k, 0)}" for k in keys) + "}")
        kinds = sorted(k for k in c if k.count(".") == 2)
        parts.append("by-kind{" + ",".join(f"{k}={c[k]}" for k in kinds) + "}")
        return " ".join(parts)

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        for f in self._flows.values():
            f.upstream.close()
        self._listen.close()
        self._sel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the thread

    def _count(self, direction: str, what: str, kind: str, n: int = 1) -> None:
        self.counts[what] += n
        self.counts[f"{direction}.{what}"] += n
        self.counts[f"{direction}.{what}.{kind}"] += n

    def _flow(self, client: Tuple[str, int]) -> _Flow:
        f = self._flows.get(client)
        if f is None:
            up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            up.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            up.bind(("127.0.0.1", 0))
            up.setblocking(False)
            f = _Flow(client, up, self.seed, len(self._flows))
            self._flows[client] = f
            self._by_upstream[up.fileno()] = f
            self._sel.register(up, selectors.EVENT_READ, f)
        return f

    def _forwarded(self, f: _Flow, direction: str, data: bytes) -> None:
        """Counts a datagram on its way, and as `unique` the first time these bytes go by
        for this client and direction (a duplicate, a retransmission of the same message, is
        not unique)."""
        kind = coap_kind(data)
        self._count(direction, "forwarded", kind)
        h = hash(data)
        if h not in f.seen[direction]:
            f.seen[direction].add(h)
            self._count(direction, "unique", kind)

    def _send(self, f: _Flow, direction: str, data: bytes) -> None:
        try:
            if direction == UP:
                f.upstream.sendto(data, self.upstream_addr)
            else:
                self._listen.sendto(data, f.client)
        except OSError:
            self.counts["send_errors"] += 1

    def _handle(self, f: _Flow, direction: str, data: bytes) -> None:
        kind = coap_kind(data)
        with self._lock:
            rng = f.rng[direction]
            # Three draws per datagram whatever happens, so that one fault does not shift the
            # decisions of the next datagrams.
            r_drop, r_dup, r_reorder = rng.random(), rng.random(), rng.random()
            self._count(direction, "datagrams", kind)
            held = f.held[direction]
            if r_drop < self.drop:
                self._count(direction, "dropped", kind)
                out = []
            elif r_reorder < self.reorder and held is None:
                self._count(direction, "reordered", kind)
                f.held[direction] = (data, time.monotonic())
                return
            else:
                out = [data]
                if r_dup < self.duplicate:
                    self._count(direction, "duplicated", kind)
                    out.append(data)
            if held is not None and out:
                out.append(held[0])   # the held one goes right after this one
                f.held[direction] = None
            for d in out:
                self._forwarded(f, direction, d)
        for d in out:
            self._send(f, direction, d)

    def _release_stale(self) -> None:
        now = time.monotonic()
        late = []
        with self._lock:
            for f in self._flows.values():
                for d in (UP, DOWN):
                    h = f.held[d]
                    if h is not None and now - h[1] >= self.hold_max:
                        f.held[d] = None
                        self._forwarded(f, d, h[0])
                        self._count(d, "released_late", coap_kind(h[0]))
                        late.append((f, d, h[0]))
        for f, d, data in late:
            self._send(f, d, data)

    def _run(self) -> None:
        while not self._stop:
            for key, _ in self._sel.select(timeout=0.05):
                f = key.data
                sock = key.fileobj
                for _ in range(64):
                    try:
                        data, addr = sock.recvfrom(65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    if f is None:
                        self._handle(self._flow(addr), UP, data)
                    else:
                        self._handle(f, DOWN, data)
            self._release_stale()
