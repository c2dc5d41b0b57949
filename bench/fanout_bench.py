"""Websocket fan-out benchmark: N viewers of leaderboard:monthly on the real server, and baselines.

Starts `goated serve` (a subprocess, PostgreSQL, syncing every `--interval` seconds from a
simulated upstream in another subprocess), then adds viewers step by step (1k, 5k, 10k) from
several load-generator processes, and for each step measures over `--syncs` broadcasts:
delivery latency (receive time minus the delta's `synced_at`, same machine clock), messages
delivered/expected, the server's CPU time per delivered message (from /proc/<pid>/stat, less
what the same syncs cost with no viewer), its "fan-out" CPU per delivered message (from
/proc/<pid>/task/*/schedstat sampled every 2 ms: only from each broadcast's tick to its last
delivery, less the same span after a tick with no viewer, so the keepalive pings between
broadcasts are left out) and its RSS per held connection. The same steps then
run against two baselines sending the same bytes: a raw `websockets.broadcast` server and
Litestar's channels plugin with its generated per-subscriber handlers (bench/fanout_servers.py).

    .venv/bin/python -m bench.fanout_bench --clients 1000,5000,10000 --workers 4

`--servers goated-2` adds `goated serve --workers 2` (a supervisor and two workers sharing the
port with SO_REUSEPORT, Redis between them, so REDIS_URL must reach a Redis): its CPU and RSS
are summed over the supervisor and every worker, and the viewers spread over the workers as
the kernel hands them out.

The load generator is a raw websocket client on uvloop: frames are parsed by hand and only
the message type prefix and `synced_at` are read, so a delivery costs it a few microseconds.
`--loadgen node` uses Node.js processes holding `ws` clients instead (bench/node/loadgen.mjs,
driven by bench/node_loadgen.py; `npm ci --prefix bench/node` runs once if its packages are
missing): the kind of client "delivery spread p99" figures are often measured with.

Besides latency percentiles, "spread p99" is each delivery's latency less the earliest delivery
of the same broadcast, at the 99th percentile: how long the fan-out of one broadcast takes.

On a shared machine one server's figures move between runs more than two servers differ.
`--rounds R` measures every server R times in turn (goated, raw, goated, raw, ...) and reports
each round's ratios and their median, so a drift in the machine's speed falls on both alike.
`--floor` also measures, in each round, one bare loopback send(2) per viewer with no server
(bench/write_floor.py): the least any server writing each viewer's frame to its socket can cost.

    nice -n -10 .venv/bin/python -m bench.fanout_bench --clients 10000 --servers goated,raw --rounds 5 --floor --pin
"""

from __future__ import annotations

import argparse
import array
import asyncio
import bisect
import contextlib
import ctypes
import functools
import json
import multiprocessing as mp
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from bench.write_floor import at_least

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CHANNEL = "leaderboard:monthly"
SIM_TOKEN = "fanout-bench-token"
CODE = "FANOUT"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
CONNECT_TIMEOUT = 30.0  # one connection, handshake to snapshot
STEP_TIMEOUT = 240.0  # one step's connects, all workers
BEFORE_SYNC = 0.25  # a CPU window opens this long before a broadcast is due


# ---- processes ------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Have the kernel SIGTERM this process if the bench dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --pin: CPUs per role (empty: no pinning). "server": the server measured; "load": the load
# generators and the simulated upstream.
PIN: dict[str, set[int]] = {}


def _child_setup(role: str = "load") -> None:
    _die_with_parent()
    raise_fd_limit()
    if PIN.get(role):
        os.sched_setaffinity(0, PIN[role])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def open_fds(pid: int) -> int:
    """How many files the process has open (for a server: roughly the sockets it holds)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (from /proc/<pid>/stat's ppid), parent first."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                ppid = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        tree.append(p)
        todo += sorted(children.get(p, ()))
    return tree


class Server:
    """A subprocess with its output in a log file; stopped (TERM, then KILL) on exit."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"fanout-{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **(env or {})},
            stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=functools.partial(_child_setup, "load" if name == "upstream" else "server"),
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def pids(self) -> list[int]:
        """The server's processes: itself and, for `goated serve --workers N`, its workers."""
        return process_tree(self.proc.pid)

    def rss(self) -> int:
        return sum(rss_bytes(p) for p in self.pids())

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        os.unlink(self.log.name)


def wait_port(server: Server, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{server.name} did not listen on {port} within {timeout:.0f} s:\n{server.tail()}")


def wait_synced(server: Server, port: int, timeout: float = 60.0) -> None:
    """Until /health reports a first sync (the board has a version)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check()
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if (json.load(r)["parts"]["sync"]["info"].get("seq") or 0) >= 1:
                    return
        time.sleep(0.2)
    raise TimeoutError(f"{server.name} did not sync within {timeout:.0f} s:\n{server.tail()}")


# ---- the load generator (one per worker process) --------------------------------------


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame; the all-zero mask leaves the payload as is (servers must accept it)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


_DELTA = b'{"type":"delta"'
_SNAPSHOT = b'{"type":"snapshot"'
_SYNCED_AT = b'"synced_at":"'


class Load:
    """One worker's connections and what they received."""

    def __init__(self, host: str, port: int, path: str, subscribe: bytes | None, ping_every: float, capture: bool):
        self.host, self.port = host, port
        self.handshake = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.subscribe = masked_frame(1, subscribe) if subscribe else None
        self.ping = masked_frame(1, b'{"op":"ping"}')
        self.ping_every = ping_every
        self.capture = capture
        self.clients: list[Client] = []
        self.latency: dict[bytes, array.array] = {}
        self.stamp: dict[bytes, float] = {}
        self.texts: dict[bytes, bytes] = {}
        self.sizes: dict[bytes, int] = {}
        self.snapshot: bytes | None = None
        self.other = 0
        self.closed = 0
        self.errors: Counter[str] = Counter()

    def on_text(self, client: Client, data: bytes, start: int, end: int, now: float) -> None:
        if data.startswith(_DELTA, start):
            i = data.find(_SYNCED_AT, start, end) + len(_SYNCED_AT)
            key = data[i : data.find(b'"', i, end)]
            lat = self.latency.get(key)
            if lat is None:
                self.stamp[key] = datetime.fromisoformat(key.decode()).timestamp()
                lat = self.latency[key] = array.array("d")
                self.sizes[key] = end - start
                if self.capture:
                    self.texts[key] = data[start:end]
            lat.append(now - self.stamp[key])
        elif data.startswith(_SNAPSHOT, start):
            if self.capture and self.snapshot is None:
                self.snapshot = data[start:end]
            client.opened()
        else:
            self.other += 1  # pongs, errors

    async def connect(self, count: int, concurrency: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        started = time.perf_counter()
        before = len(self.clients)

        async def one() -> None:
            async with gate:
                client = Client(self, loop.create_future())
                try:
                    async with asyncio.timeout(CONNECT_TIMEOUT):
                        await loop.create_connection(lambda: client, self.host, self.port)
                        await client.ready
                except (OSError, TimeoutError, ConnectionError) as exc:
                    self.errors[type(exc).__name__] += 1
                    if client.transport is not None:
                        client.transport.abort()
                    return
                self.clients.append(client)
                if self.ping_every:
                    loop.call_later(self.ping_every * random.uniform(0.9, 1.0), client.send_ping)

        await asyncio.gather(*(one() for _ in range(count)))
        return {"opened": len(self.clients) - before, "failed": count - (len(self.clients) - before), "seconds": time.perf_counter() - started}

    def collect(self) -> dict[str, Any]:
        out = {
            "latency": {k.decode(): v for k, v in self.latency.items()},
            "stamp": {k.decode(): v for k, v in self.stamp.items()},
            "texts": {k.decode(): v for k, v in self.texts.items()},
            "sizes": {k.decode(): v for k, v in self.sizes.items()},
            "snapshot": self.snapshot,
            "other": self.other,
            "closed": self.closed,
            "errors": dict(self.errors),
            "held": len(self.clients) - self.closed,
        }
        self.latency, self.stamp, self.texts, self.sizes = {}, {}, {}, {}
        self.other = 0
        return out

    def stop(self) -> None:
        for client in self.clients:
            if client.transport is not None:
                client.transport.abort()


class Client(asyncio.Protocol):
    __slots__ = ("load", "ready", "transport", "buf", "upgraded", "lost")

    def __init__(self, load: Load, ready: asyncio.Future[None]) -> None:
        self.load = load
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.lost = False

    def opened(self) -> None:
        if not self.ready.done():
            self.ready.set_result(None)

    def send_ping(self) -> None:
        if not self.lost and self.transport is not None:
            self.transport.write(self.load.ping)
            asyncio.get_running_loop().call_later(self.load.ping_every, self.send_ping)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.load.handshake)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.ready.done():
            self.load.closed += 1
        else:
            self.ready.set_exception(ConnectionError("closed before subscribing"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self.buf:
            data = self.buf + data
            self.buf = b""
        pos = 0
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(data[: data.find(b"\r\n")].decode(errors="replace")))
                self.transport.close()  # type: ignore[union-attr]
                return
            self.upgraded = True
            pos = end + 4
            if self.load.subscribe is not None:
                self.transport.write(self.load.subscribe)  # type: ignore[union-attr]
            else:
                self.opened()
        n = len(data)
        while n - pos >= 2:
            length = data[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                start = pos + 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                start = pos + 10
            end = start + length
            if end > n:
                break
            opcode = data[pos] & 0x0F
            if opcode == 1:
                self.load.on_text(self, data, start, end, now)
            elif opcode == 9:  # ping: answer at once, as a browser does
                self.transport.write(masked_frame(0xA, data[start:end]))  # type: ignore[union-attr]
            elif opcode == 8:
                self.transport.close()  # type: ignore[union-attr]
            pos = end
        if pos < n:
            self.buf = data[pos:]


def worker_main(pipe: Pipe, host: str, port: int, path: str, subscribe: bytes | None, ping_every: float, capture: bool) -> None:
    _child_setup()
    import uvloop

    uvloop.run(_worker(pipe, Load(host, port, path, subscribe, ping_every, capture)))


async def _worker(pipe: Pipe, load: Load) -> None:
    loop = asyncio.get_running_loop()
    try:
        while True:
            command, arg = await loop.run_in_executor(None, pipe.recv)
            if command == "connect":
                pipe.send(await load.connect(*arg))
            elif command == "collect":
                pipe.send(load.collect())
            else:
                return
    finally:
        load.stop()
        with contextlib.suppress(OSError):
            pipe.send("stopped")


def shares(count: int, parts: int) -> list[int]:
    """`count` connections split over `parts` load generators, as evenly as can be."""
    return [count // parts + (i < count % parts) for i in range(parts)]


class Workers:
    """The load-generator processes, driven through pipes."""

    def __init__(self, count: int, port: int, path: str, subscribe: bytes | None, ping_every: float, capture: bool):
        ctx = mp.get_context("fork")  # nothing runs in this process when it forks
        self.pipes: list[Pipe] = []
        self.procs: list[mp.process.BaseProcess] = []
        for i in range(count):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(
                target=worker_main,
                args=(theirs, "127.0.0.1", port, path, subscribe, ping_every, capture and i == 0),
                daemon=True,
            )
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def ask(self, command: str, args: list[Any], timeout: float) -> list[Any]:
        for pipe, arg in zip(self.pipes, args, strict=True):
            pipe.send((command, arg))
        deadline = time.monotonic() + timeout
        replies = []
        for pipe in self.pipes:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"a load generator did not answer {command!r} within {timeout:.0f} s")
            replies.append(pipe.recv())
        return replies

    def connect(self, count: int, concurrency: int) -> dict[str, Any]:
        replies = self.ask("connect", [(s, concurrency) for s in shares(count, len(self.pids))], STEP_TIMEOUT)
        return {
            "opened": sum(r["opened"] for r in replies),
            "failed": sum(r["failed"] for r in replies),
            "seconds": max(r["seconds"] for r in replies),
        }

    def collect(self) -> list[dict[str, Any]]:
        return self.ask("collect", [None] * len(self.pipes), 60.0)

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError, BrokenPipeError):
                pipe.send(("stop", None))
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


# ---- measuring -------------------------------------------------------------------------


@dataclass
class Step:
    server: str
    clients: int
    held: int
    connect_s: float
    syncs: int
    delivered: int
    expected: int
    min_ms: float  # the first delivery: what happens before the fan-out starts
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_us: float  # server CPU per delivered message, all of it
    net_cpu_us: float  # less what the same syncs cost with no viewer
    rss_kb: float  # per held connection, over the RSS with none
    client_cpu_us: float  # load generators' CPU per delivered message
    delta_bytes: int
    closed: int
    failures: str
    spread_p99_ms: float = float("nan")  # a delivery's latency less its broadcast's first, p99
    round: int = 1  # with --rounds: which pass over the servers measured it
    fanout_cpu_us: float = float("nan")  # CPU from each broadcast's tick to its last delivery, less the same span with no viewer


class CpuTrace:
    """CPU run time of some processes (every thread's, from /proc/<pid>/task/*/schedstat, in ns),
    sampled every `every` seconds by a thread of the bench: what a stretch of time cost them.

    /proc/<pid>/stat counts in 10 ms ticks; schedstat is the scheduler's own clock, so the few
    hundred milliseconds of one broadcast's fan-out are measured as they are. With --pin the
    sampling thread runs on the load generators' CPUs, not the server's."""

    def __init__(self, pids: list[int], every: float = 0.002):
        self.pids, self.every = pids, every
        self.times: list[float] = []
        self.ns: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-trace", daemon=True)

    def _read(self) -> int:
        total = 0
        for pid in self.pids:
            for task in os.scandir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError), open(f"{task.path}/schedstat") as f:
                    total += int(f.read().split()[0])
        return total

    def _run(self) -> None:
        if PIN.get("load"):
            os.sched_setaffinity(0, PIN["load"])  # this thread only
        while not self._stop.is_set():
            self.times.append(time.time())
            self.ns.append(self._read())
            self._stop.wait(self.every)

    def __enter__(self) -> CpuTrace:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> float:
        """CPU seconds from the last sample at or before `start` to the first at or after `end`."""
        i = max(0, bisect.bisect_right(self.times, start) - 1)
        j = min(len(self.times) - 1, bisect.bisect_left(self.times, end))
        return (self.ns[j] - self.ns[i]) / 1e9


def sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.time()))


def next_tick(interval: float, after: float) -> float:
    return (int(after // interval) + 1) * interval


def ticks_of(start: float, interval: float, syncs: int) -> list[float]:
    """The broadcasts' instants inside a `window` that began at `start`."""
    first = start + BEFORE_SYNC
    return [first + i * interval for i in range(syncs)]


def fanout_cpu(trace: CpuTrace, idle: CpuTrace, idle_ticks: list[float], replies: list[dict[str, Any]], keys: list[str],
               interval: float) -> float:
    """CPU seconds of the broadcasts' fan-outs: for each, from its tick to its last delivery, less
    what the same span after a tick cost with no viewer (the sync itself, for ours)."""
    total = 0.0
    for k in keys:
        lats = broadcast_latencies(replies, k)
        stamp = next((r["stamp"][k] for r in replies if k in r["stamp"]), None)
        if not lats or stamp is None:
            continue
        tick = (stamp // interval) * interval  # the schedule's instant; ours stamps after its fetch
        span = stamp + max(lats) - tick
        total += trace.between(tick - 0.003, tick + span + 0.003)
        if idle_ticks:
            total -= statistics.fmean(idle.between(t - 0.003, t + span + 0.003) for t in idle_ticks)
    return total


def window(pids: list[int], interval: float, syncs: int) -> tuple[float, float, list[float]]:
    """Sleep over `syncs` broadcasts; (start, end, CPU seconds per pid) of that window."""
    start = next_tick(interval, time.time() + BEFORE_SYNC) - BEFORE_SYNC
    sleep_until(start)
    before = [cpu_seconds(p) for p in pids]
    end = start + syncs * interval
    sleep_until(end)
    return start, end, [cpu_seconds(p) - b for p, b in zip(pids, before, strict=True)]


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def broadcast_latencies(replies: list[dict[str, Any]], key: str) -> list[float]:
    """Every delivery's latency of the broadcast `key`, from all load generators."""
    return [v for r in replies for v in r["latency"].get(key, ())]


def delivery_spreads(replies: list[dict[str, Any]], keys: list[str]) -> Iterator[float]:
    """For each broadcast, each delivery's latency less the earliest delivery of it (all workers)."""
    for k in keys:
        lats = broadcast_latencies(replies, k)
        if lats:
            first = min(lats)
            yield from (v - first for v in lats)


LOADGENS = ("python", "node")
LOADGEN_NAMES = {"python": "Python, raw websocket client on uvloop", "node": "Node.js, ws clients"}


def load_generator(args: argparse.Namespace) -> type[Workers]:
    """The viewers class `--loadgen` picks (python when the caller has no such option)."""
    if getattr(args, "loadgen", "python") == "node":
        from bench.node_loadgen import NodeWorkers

        return NodeWorkers
    return Workers


def run_server(
    name: str, server: Server, port: int, path: str, subscribe: bytes | None, args: argparse.Namespace, steps: list[int], capture: bool,
    viewers: type[Workers] | None = None,
) -> tuple[list[Step], dict[str, Any]]:
    """Idle baseline, then each step of viewers (`viewers`: their load generator, websocket ones
    by default; bench.sse_bench passes event-stream ones); returns the rows and captured messages."""
    interval = args.interval
    rows: list[Step] = []
    captured: dict[str, Any] = {}
    workers = (viewers or Workers)(args.workers, port, path, subscribe, args.ping_every if subscribe else 0.0, capture)
    try:
        # Let the server settle, then what the broadcasts cost with nobody listening.
        time.sleep(2 * interval)
        server.check()
        pids = server.pids()  # for `--workers N`: the supervisor and its workers, summed

        def same_processes() -> None:
            server.check()
            if server.pids() != pids:
                raise RuntimeError(f"{name}: its processes changed ({pids} -> {server.pids()}): a worker restarted?\n{server.tail()}")

        rss0 = server.rss()
        with CpuTrace(pids) as idle_trace:
            idle_start, _, idle = window(pids, interval, args.syncs)
        idle_ticks = ticks_of(idle_start, interval, args.syncs)
        idle_per_sync = sum(idle) / args.syncs
        held = 0
        for target in steps:
            connected = workers.connect(target - held, args.concurrency)
            held += connected["opened"]
            same_processes()
            time.sleep(interval)
            rss = server.rss()
            workers.collect()  # drop what arrived while connecting
            with CpuTrace(pids) as trace:
                start, end, cpu = window([*pids, *workers.pids], interval, args.syncs)
            time.sleep(min(interval / 2, 1.0))  # stragglers of the last broadcast
            replies = workers.collect()
            same_processes()
            stamps: dict[str, float] = {}
            for r in replies:
                stamps.update(r["stamp"])
            keys = sorted(k for k, t in stamps.items() if start <= t < end)
            latencies = sorted(v for r in replies for k in keys for v in r["latency"].get(k, ()))
            delivered = len(latencies)
            spreads = sorted(delivery_spreads(replies, keys))
            server_cpu, client_cpu = sum(cpu[: len(pids)]), sum(cpu[len(pids) :])
            texts = {k: v for r in replies for k, v in r["texts"].items() if k in keys}
            sizes = sorted({k: v for r in replies for k, v in r["sizes"].items() if k in keys}.values())
            if capture and texts:
                captured["deltas"] = [texts[k] for k in sorted(texts)]
            for r in replies:
                if r["snapshot"] is not None and capture:
                    captured["snapshot"] = r["snapshot"]
            errors: Counter[str] = Counter()
            for r in replies:
                errors.update(r["errors"])
            closed = sum(r["closed"] for r in replies)
            rows.append(
                Step(
                    server=name,
                    clients=target,
                    held=held - closed,
                    connect_s=connected["seconds"],
                    syncs=len(keys),
                    delivered=delivered,
                    expected=(held - closed) * len(keys),
                    min_ms=(latencies[0] * 1000) if latencies else float("nan"),
                    p50_ms=percentile(latencies, 0.50) * 1000,
                    p99_ms=percentile(latencies, 0.99) * 1000,
                    max_ms=(latencies[-1] * 1000) if latencies else float("nan"),
                    cpu_us=server_cpu / delivered * 1e6 if delivered else float("nan"),
                    net_cpu_us=(server_cpu - idle_per_sync * len(keys)) / delivered * 1e6 if delivered else float("nan"),
                    rss_kb=(rss - rss0) / held / 1024 if held else float("nan"),
                    client_cpu_us=client_cpu / delivered * 1e6 if delivered else float("nan"),
                    delta_bytes=sizes[len(sizes) // 2] if sizes else 0,
                    closed=closed,
                    failures=", ".join(f"{k} x{v}" for k, v in errors.items()) or "-",
                    spread_p99_ms=percentile(spreads, 0.99) * 1000,
                    round=getattr(args, "round", 1),
                    fanout_cpu_us=fanout_cpu(trace, idle_trace, idle_ticks, replies, keys, interval) / delivered * 1e6
                    if delivered else float("nan"),
                )
            )
            print(f"  {name} {target:,}: {rows[-1]}", file=sys.stderr, flush=True)
            if delivered and server_cpu < 100 / CLK_TCK:
                print(f"  {name} {target:,}: only {server_cpu * CLK_TCK:.0f} CPU ticks of {1000 / CLK_TCK:.0f} ms in the window: its server "
                      f"and net-of-sync µs/msg move in steps of {1e6 / CLK_TCK / delivered:.1f} µs (the fan-out column is not in ticks; "
                      f"more viewers or --syncs for a finer figure)", file=sys.stderr, flush=True)
            if len(pids) > 1:
                split = ", ".join(f"pid {p}: {c:.2f} s CPU, {open_fds(p):,} fds" for p, c in zip(pids, cpu, strict=False))
                print(f"  {name} {target:,}, per process: {split}", file=sys.stderr, flush=True)
            if connected["failed"]:
                print(f"  {name}: {connected['failed']} connections failed; stopping here", file=sys.stderr)
                break
    finally:
        workers.stop()
    return rows, captured


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    import asyncpg

    name = f"goated_fanout_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(
            f"the bench needs a PostgreSQL it may create a database in: {admin_url} answered {type(exc).__name__}: {exc}\n"
            "start one (docs/testing.md) or pass --pg-url postgresql://user@host:port/db"
        ) from None
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def wait_workers(server: Server, count: int, timeout: float = 60.0) -> None:
    """Until the supervisor has `count` worker processes."""
    deadline = time.monotonic() + timeout
    while len(server.pids()) < count + 1:
        server.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{server.name} did not start {count} workers within {timeout:.0f} s:\n{server.tail()}")
        time.sleep(0.2)


# `goated serve` with tune_gc() undone: how the server did before the GC thresholds were tuned.
_DEFAULT_GC_SERVE = (
    "import sys, server.serve as s; s.tune_gc = lambda: None; "
    "from server.__main__ import main; sys.exit(main(sys.argv[1:]))"
)


def goated_env(db_url: str, sim_port: int, interval: float, viewers: int) -> dict[str, str]:
    """`goated serve`'s environment for a bench against the simulated upstream."""
    return {
        "DATABASE_URL": db_url,
        "GOATED_API_URL": f"http://127.0.0.1:{sim_port}",
        "GOATED_TOKEN": SIM_TOKEN,
        "GOATED_AFFILIATE_CODE": CODE,
        "SYNC_INTERVAL": str(interval),
        "LOG_LEVEL": "WARNING",
        # Every viewer comes from 127.0.0.1: lift the per-address limits.
        "WS_MAX_CONNECTIONS_PER_IP": str(viewers + 100),
        "RATE_LIMIT_PER_MINUTE": str(viewers * 10),
    }


def bench_goated(
    args: argparse.Namespace, steps: list[int], *, default_gc: bool = False, workers: int = 1, capture: bool = True
) -> tuple[list[Step], dict[str, Any]]:
    """`goated serve` (`workers` > 1: `goated serve --workers N` on Redis) against the simulated upstream."""
    sim_port, port = free_port(), free_port()
    sim = Server("upstream", [PY, "-m", "server", "simulate", "--port", str(sim_port), "--players", str(args.players), "--speed", str(args.speed), "--token", SIM_TOKEN])
    try:
        wait_port(sim, sim_port)
        with postgres_database(args.pg_url) as db_url:
            env = goated_env(db_url, sim_port, args.interval, steps[-1])
            launch = ["-c", _DEFAULT_GC_SERVE] if default_gc else ["-m", "server"]
            more = []
            if workers > 1:
                # Each worker hears the leader's events through Redis (a prefix of this run's own).
                env |= {"REDIS_URL": args.redis_url, "REDIS_PREFIX": f"goated-fanout:{uuid.uuid4().hex[:8]}"}
                more = ["--workers", str(workers)]
            server = Server("goated", [PY, *launch, "serve", "--port", str(port), *more], env)
            try:
                wait_port(server, port)
                for _ in range(4 * workers if workers > 1 else 1):
                    wait_synced(server, port)  # each request lands on a worker the kernel picks
                if workers > 1:
                    wait_workers(server, workers)
                subscribe = json.dumps({"op": "subscribe", "channel": CHANNEL}).encode()
                name = "goated serve, default GC" if default_gc else "goated serve"
                if workers > 1:
                    name += f" --workers {workers}"
                return run_server(name, server, port, "/ws", subscribe, args, steps, capture=capture and not default_gc,
                                  viewers=load_generator(args))
            finally:
                server.stop()
    finally:
        sim.stop()


def bench_baseline(kind: str, args: argparse.Namespace, steps: list[int], delta: bytes, snapshot: bytes) -> list[Step]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        (Path(tmp) / "delta.json").write_bytes(delta)
        (Path(tmp) / "snapshot.json").write_bytes(snapshot)
        argv = [PY, "-m", "bench.fanout_servers", kind, "--port", str(port), "--interval", str(args.interval),
                "--delta", f"{tmp}/delta.json", "--snapshot", f"{tmp}/snapshot.json"]
        server = Server(kind, argv)
        try:
            wait_port(server, port)
            if kind == "raw":
                subscribe = json.dumps({"op": "subscribe", "channel": CHANNEL}).encode()
                rows, _ = run_server("raw websockets.broadcast", server, port, "/", subscribe, args, steps, capture=False,
                                     viewers=load_generator(args))
            else:
                rows, _ = run_server("Litestar channels plugin", server, port, f"/ws/{CHANNEL}", None, args, steps, capture=False,
                                     viewers=load_generator(args))
            return rows
        finally:
            server.stop()


def synthetic_messages(players: int, speed: float) -> tuple[bytes, bytes]:
    """A snapshot and a delta of `leaderboard:monthly` made by the real code, for baselines run alone."""
    from datetime import UTC, timedelta

    from server.leaderboard.board import Period
    from server.leaderboard.diff import diff
    from server.leaderboard.live import LiveBoards
    from server.leaderboard.ranking import rank_all
    from server.realtime.messages import BoardsSynced, DeltaMsg
    from server.upstream.contract import decode
    from server.upstream.simulator import Simulation

    start = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    sim = Simulation(players=players, seed=1, start=start, speed=speed)
    old = rank_all(decode(sim.payload()).players)
    live = LiveBoards()
    live.reset_to(old, seq=1, sync_id=1, synced_at=start)
    snapshot = live.snapshot_text(Period.MONTHLY, CHANNEL, None).encode()
    sim.advance(start + timedelta(seconds=2))
    new = rank_all(decode(sim.payload()).players)
    deltas = []
    for p in Period:
        d = diff(old[p], new[p])
        deltas.append(DeltaMsg(channel=f"leaderboard:{p.value}", seq=2, period=p, sync_id=2, synced_at=start, total=new[p].total,
                               reset=d.reset, changes=d.changes, left=d.left, overtakes=d.overtakes, shifted=d.shifted))
    live.apply_event(BoardsSynced(seq=2, sync_id=2, synced_at=start, deltas=deltas))
    return live.latest_text(Period.MONTHLY).encode(), snapshot


def table(rows: list[Step]) -> str:
    head = ("| round | server | viewers held | delivered / expected | first ms | p50 ms | p99 ms | spread p99 ms | max ms | server CPU µs/msg | "
            "net of sync µs/msg | fan-out µs/msg | RSS KB/conn | load-gen CPU µs/msg | delta bytes | connect s |")
    lines = [head, "|" + "---|" * 16]
    for r in rows:
        lines.append(
            f"| {r.round} | {r.server} | {r.held:,} | {r.delivered:,} / {r.expected:,} ({r.syncs} broadcasts) | {r.min_ms:.0f} | {r.p50_ms:.0f} | {r.p99_ms:.0f} | "
            f"{r.spread_p99_ms:.0f} | {r.max_ms:.0f} | {r.cpu_us:.1f} | {r.net_cpu_us:.1f} | {r.fanout_cpu_us:.1f} | {r.rss_kb:.1f} | {r.client_cpu_us:.1f} | {r.delta_bytes:,} | {r.connect_s:.1f} |"
        )
    return "\n".join(lines)


OURS = ("goated serve", "goated serve --workers 2")


def ratios(rows: list[Step]) -> str:
    """`goated serve` (and `--workers 2`, when measured) against each baseline at the same step of the same round."""
    lines = ["| round | viewers | server | vs | p99 ratio | spread p99 ratio | CPU/msg ratio (net) | fan-out CPU/msg ratio | RSS/conn ratio |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in OURS:
        ours = {(r.round, r.clients): r for r in rows if r.server == name}
        for r in rows:
            mine = ours.get((r.round, r.clients))
            if r.server in OURS or mine is None or not (r.p99_ms and r.net_cpu_us and r.rss_kb):
                continue
            spread = f"{mine.spread_p99_ms / r.spread_p99_ms:.2f}x" if r.spread_p99_ms else "-"
            lines.append(
                f"| {r.round} | {r.clients:,} | {name} | {r.server} | {mine.p99_ms / r.p99_ms:.2f}x | {spread} | {mine.net_cpu_us / r.net_cpu_us:.2f}x | "
                f"{mine.fanout_cpu_us / r.fanout_cpu_us:.2f}x | {mine.rss_kb / r.rss_kb:.2f}x |"
            )
    return "\n".join(lines)


def write_floor(viewers: int, message_bytes: int, readers: int) -> dict[str, float]:
    """bench.write_floor in a process of its own: the CPU of one bare loopback send(2) per viewer, now."""
    argv = [PY, "-m", "bench.write_floor", "--viewers", str(viewers), "--bytes", str(message_bytes), "--readers", str(readers),
            "--rounds", "12", "--json"]
    if PIN:
        argv.append("--pin")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=STEP_TIMEOUT, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def over_rounds(rows: list[Step], floors: dict[int, dict[str, float]]) -> str:
    """At the largest step: each of ours against each baseline, round by round, and the median over rounds."""
    top = max(r.clients for r in rows)
    at_top = [r for r in rows if r.clients == top]
    lines = [
        f"At {top:,} viewers, over {len({r.round for r in rows})} rounds (ratio: ours / baseline in the same round; "
        "≤ 1.00x is at or below it):",
        "",
        "| server | vs | p99 ratios | median | rounds ≤ 1.0 | spread p99 ratios | median | rounds ≤ 1.0 | CPU/msg ratios (net) | median | "
        "rounds ≤ 1.0 | CPU/msg ratios (all) | median | rounds ≤ 1.0 | fan-out CPU/msg ratios | median | rounds ≤ 1.0 | "
        "RSS/conn ratios | median | rounds ≤ 1.2 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in OURS:
        ours = {r.round: r for r in at_top if r.server == name}
        for base in sorted({r.server for r in at_top if r.server not in OURS}):
            pairs = [(ours[r.round], r) for r in at_top if r.server == base and r.round in ours]
            if not pairs:
                continue
            cells = []
            for attr, bound in (("p99_ms", 1.0), ("spread_p99_ms", 1.0), ("net_cpu_us", 1.0), ("cpu_us", 1.0), ("fanout_cpu_us", 1.0), ("rss_kb", 1.2)):
                got = [getattr(m, attr) / getattr(b, attr) for m, b in pairs if getattr(b, attr)]
                cells.append(", ".join(f"{x:.2f}" for x in got))
                cells.append(f"**{statistics.median(got):.2f}x**" if got else "-")
                cells.append(f"{sum(x <= bound for x in got)} of {len(got)}")
            lines.append(f"| {name} | {base} | " + " | ".join(cells) + " |")
    lines += ["", "Ratios are of the unrounded figures. CPU (net) is less what the same server spent over as many broadcasts "
              "with no viewer (the sync for ours, the send timer for the bare server); CPU (all) is not. Fan-out CPU is only "
              "from each broadcast's tick to its last delivery (less the same span with no viewer): the keepalive pings between "
              "broadcasts are not in it.", "",
              "| server | p99 ms per round | median | net CPU µs/msg per round | median | fan-out CPU µs/msg per round | median | "
              "RSS KB/conn median |", "|---|---|---|---|---|---|---|---|"]
    for name in sorted({r.server for r in at_top}, key=lambda n: (n not in OURS, n)):
        mine = [r for r in at_top if r.server == name]
        p99s, cpus, fans = [r.p99_ms for r in mine], [r.net_cpu_us for r in mine], [r.fanout_cpu_us for r in mine]
        lines.append(
            f"| {name} | {', '.join(f'{x:.0f}' for x in p99s)} | **{statistics.median(p99s):.0f}** | "
            f"{', '.join(f'{x:.1f}' for x in cpus)} | **{statistics.median(cpus):.1f}** | "
            f"{', '.join(f'{x:.1f}' for x in fans)} | **{statistics.median(fans):.1f}** | {statistics.median(r.rss_kb for r in mine):.1f} |"
        )
    if floors:
        medians = [f["median_us"] for f in floors.values()]
        lines += ["", f"One bare loopback send(2) per viewer (bench.write_floor, {top:,} sockets; in each of these rounds, 12 rounds of one send to each): "
                  f"median per round {', '.join(f'{x:.1f}' for x in medians)} µs; median of those **{statistics.median(medians):.1f} µs**."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1000,5000,10000", help="viewer counts, added step by step")
    parser.add_argument("--servers", default="goated,raw,litestar",
                        help="which servers to measure: goated, goated-2 (goated serve --workers 2, on Redis), raw, litestar")
    parser.add_argument("--workers", type=int, default=4, help="load-generator processes")
    parser.add_argument("--loadgen", choices=LOADGENS, default="python",
                        help="the load generator: python (raw websocket client on uvloop) or node (Node.js `ws` clients, bench/node)")
    parser.add_argument("--concurrency", type=int, default=50, help="connection attempts in flight per worker")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between syncs / broadcasts")
    parser.add_argument("--syncs", type=int, default=5, help="broadcasts measured per step")
    parser.add_argument("--players", type=int, default=2000, help="simulated referrals")
    parser.add_argument("--speed", type=float, default=300.0, help="simulation speed (300: a handful of monthly changes per 2 s sync)")
    parser.add_argument("--ping-every", type=float, default=55.0, help="app-level ping per viewer (the server drops sockets silent for 120 s)")
    parser.add_argument("--with-default-gc", action="store_true", help="also run goated serve without its GC tuning (adds ~2 min)")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), help="for goated-2's workers")
    parser.add_argument("--rounds", type=at_least(1), default=1,
                        help="measure every server this many times, one after the other in turn (goated, raw, goated, raw, ...), "
                             "and compare each round's pair: drift in the machine's speed then falls on both servers alike")
    parser.add_argument("--floor", action="store_true",
                        help="in each round, also measure one bare loopback send(2) per viewer (bench.write_floor) at the largest step")
    parser.add_argument("--pin", action="store_true",
                        help="the server measured on the first CPU, the load generators and the simulated upstream on the others "
                             "(less noise from sharing a core; PostgreSQL and Redis are not pinned)")
    args = parser.parse_args()
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            print("--pin needs at least two CPUs", file=sys.stderr)
            return 2
        PIN.update(server={cpus[0]}, load=set(cpus[1:]))
    steps = sorted(int(c) for c in args.clients.split(",") if c)
    limit = raise_fd_limit()
    if steps[-1] + 100 > limit:
        print(f"fd limit is {limit}: the server cannot hold {steps[-1]:,} sockets", file=sys.stderr)
        return 2
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    started = time.monotonic()
    if args.loadgen == "node":
        try:
            from bench.node_loadgen import node_binary

            node_binary()  # Node.js there and bench/node's packages installed, before any server starts
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"--loadgen node: {exc}", file=sys.stderr)
            return 2
    print(f"# fan-out bench: {steps} viewers, servers {servers}, {args.loadgen} load generator; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    rows: list[Step] = []
    floors: dict[int, dict[str, float]] = {}
    delta = snapshot = None
    for rnd in range(1, args.rounds + 1):
        args.round = rnd  # each Step records it
        for kind, workers in (("goated", 1), ("goated-2", 2)):
            if kind in servers:
                found, captured = bench_goated(args, steps, workers=workers, capture=delta is None)
                rows += found
                deltas = sorted(captured.get("deltas", []), key=len)
                if delta is None and deltas:
                    delta = deltas[len(deltas) // 2]  # the median-sized delta the viewers really got
                snapshot = snapshot or captured.get("snapshot")
        if delta is None or snapshot is None:
            delta, snapshot = synthetic_messages(args.players, args.speed)
        if args.with_default_gc:
            rows += bench_goated(args, steps, default_gc=True)[0]
        for kind in ("raw", "litestar"):
            if kind in servers:
                rows += bench_baseline(kind, args, steps, delta, snapshot)
        if args.floor:
            floors[rnd] = write_floor(steps[-1], len(delta), args.workers)
            print(f"  round {rnd}: bare send(2) per viewer {floors[rnd]}", file=sys.stderr, flush=True)
    pinned = f"; server pinned to CPU {sorted(PIN['server'])}, the rest to {sorted(PIN['load'])}" if PIN else ""
    print(f"### Fan-out: {args.workers} load-generator processes ({LOADGEN_NAMES[args.loadgen]}){pinned}, a broadcast every {args.interval:g} s, "
          f"{args.syncs} broadcasts per step ({time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end)\n")
    print(table(rows))
    if len({r.server for r in rows}) > 1:
        print("\n" + ratios(rows))
    if args.rounds > 1 or floors:
        print("\n" + over_rounds(rows, floors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
