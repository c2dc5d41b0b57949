"""Race timer ticks: what one tick a second costs the server for 1k and 10k viewers.

Two measurements:

1. `inproc`: the tick path alone in this process — `LiveRaces.tick` (one encode per
   channel) and the hub handing the text to N connections, whose writer tasks then run
   with a no-op send. The part of the cost that is our code plus asyncio scheduling.
2. `server`: the real thing. `goated serve` in demo mode (its own process, SQLite, the
   built-in simulator, syncs pushed out of the window) has a live demo race on
   `race:current`. N raw websocket clients in several load-generator processes first hold
   idle subscriptions (`leaderboard:monthly`, which nothing publishes to during the run),
   then switch to `race:current`. The server's CPU time (/proc/<pid>/stat) over a window of
   ticks, less the same window idle, is the cost of the ticks: reported as a share of one
   core (the goal: 10k viewers at 1 Hz within half a core) and per delivered tick. Also:
   ticks delivered / expected and how late they arrive (receive time minus `server_now`).

    .venv/bin/python -m bench.tick_bench --clients 1000,10000 --workers 3 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
TICK = b'{"type":"tick"'
RACE = b'{"type":"race"'
SNAPSHOT = b'{"type":"snapshot"'
SERVER_NOW = b'"server_now":"'


# ---- 1. in process ----------------------------------------------------------------------


async def inproc(clients: int, ticks: int) -> dict[str, float]:
    from server.races.live import CURRENT, LiveRaces
    from server.races.model import Race, RaceKind, RaceStatus
    from server.realtime.hub import Connection, Hub

    async def send(_: str) -> None:
        return None

    async def close(_: int, __: str) -> None:
        return None

    now = datetime.now(UTC)
    race = Race(
        id=1, version=3, title="Bench", kind=RaceKind.CUSTOM, status=RaceStatus.LIVE,
        starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1), pool_cents=10_000, split=(60.0, 40.0),
    )
    hub = Hub()
    live = LiveRaces(hub, lambda: now)
    live.load([race], {})
    conns = [Connection(send, close, max_backlog=64) for _ in range(clients)]
    writers = [asyncio.create_task(c.run_writer()) for c in conns]
    for conn in conns:
        hub.attach(conn)
        hub.join(conn, CURRENT)
    await asyncio.sleep(0)

    start_cpu, start_wall = time.process_time(), time.perf_counter()
    tick_only = 0.0
    for i in range(ticks):
        mark = time.process_time()
        live.tick(now + timedelta(seconds=i))
        tick_only += time.process_time() - mark
        while any(c._queue for c in conns):  # noqa: SLF001 - until every writer has sent
            await asyncio.sleep(0)
    cpu = time.process_time() - start_cpu
    wall = time.perf_counter() - start_wall
    for task in writers:
        task.cancel()
    await asyncio.gather(*writers, return_exceptions=True)
    return {
        "clients": clients,
        "cpu_ms_per_tick": cpu / ticks * 1000,
        "broadcast_ms_per_tick": tick_only / ticks * 1000,
        "us_per_delivery": cpu / ticks / clients * 1e6,
        "core_share_at_1hz": cpu / ticks,
        "wall_ms_per_tick": wall / ticks * 1000,
    }


# ---- 2. the real server -------------------------------------------------------------------


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frame(payload: bytes) -> bytes:
    """A masked client text frame (an all-zero mask leaves the payload as is)."""
    n = len(payload)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + b"\x00\x00\x00\x00" + payload


def sub(channel: str, op: str = "subscribe") -> bytes:
    return frame(json.dumps({"op": op, "channel": channel}).encode())


class Viewer(asyncio.Protocol):
    """A lean websocket client: reads frame headers and the start of each text."""

    __slots__ = ("gen", "ready", "transport", "buf", "upgraded")

    def __init__(self, gen: Generator, ready: asyncio.Future[None]) -> None:
        self.gen, self.ready = gen, ready
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.gen.handshake)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.gen.closed += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self.buf:
            data, self.buf = self.buf + data, b""
        pos, n = 0, len(data)
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            self.upgraded = True
            pos = end + 4
            self.transport.write(sub("leaderboard:monthly"))  # type: ignore[union-attr]
        while n - pos >= 2:
            length, start = data[pos + 1] & 0x7F, pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length, start = int.from_bytes(data[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, start = int.from_bytes(data[pos + 2 : pos + 10], "big"), pos + 10
            end = start + length
            if end > n:
                break
            opcode = data[pos] & 0x0F
            if opcode == 1:
                self.gen.on_text(self, data, start, end, now)
            elif opcode == 9:
                self.transport.write(bytes([0x8A, 0x80 | (end - start)]) + b"\x00\x00\x00\x00" + data[start:end])  # type: ignore[union-attr]
            pos = end
        if pos < n:
            self.buf = data[pos:]


class Generator:
    """One load-generator process: its viewers and what they received."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.handshake = (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.viewers: list[Viewer] = []
        self.ticks = 0
        self.late: list[float] = []
        self.closed = 0
        self.other = 0

    def on_text(self, viewer: Viewer, data: bytes, start: int, end: int, now: float) -> None:
        if data.startswith(TICK, start):
            self.ticks += 1
            if self.ticks % 7 == 0:  # a sample is enough, and keeps the client lean
                i = data.find(SERVER_NOW, start, end) + len(SERVER_NOW)
                stamp = datetime.fromisoformat(data[i : data.find(b'"', i, end)].decode()).timestamp()
                self.late.append(now - stamp)
        elif data.startswith(SNAPSHOT, start) and not viewer.ready.done():
            viewer.ready.set_result(None)
        else:
            self.other += 1

    async def connect(self, count: int) -> int:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(200)

        async def one() -> None:
            async with gate:
                viewer = Viewer(self, loop.create_future())
                with contextlib.suppress(OSError, TimeoutError, ConnectionError):
                    async with asyncio.timeout(30):
                        await loop.create_connection(lambda: viewer, "127.0.0.1", self.port)
                        await viewer.ready
                    self.viewers.append(viewer)

        await asyncio.gather(*(one() for _ in range(count)))
        return len(self.viewers)

    def switch(self, to_race: bool) -> None:
        msg = sub("race:current") + sub("leaderboard:monthly", "unsubscribe") if to_race else b""
        ping = frame(b'{"op":"ping"}')
        for viewer in self.viewers:
            if viewer.transport is not None and not viewer.transport.is_closing():
                viewer.transport.write(msg + ping)

    def collect(self) -> dict[str, Any]:
        out = {"ticks": self.ticks, "late": self.late, "closed": self.closed, "other": self.other, "held": len(self.viewers)}
        self.ticks, self.late, self.other = 0, [], 0
        return out

    def drop(self) -> None:
        for viewer in self.viewers:
            if viewer.transport is not None:
                viewer.transport.abort()
        self.viewers = []
        self.closed = 0


def generator_main(pipe: Pipe, port: int) -> None:
    raise_fd_limit()
    import uvloop

    async def run() -> None:
        gen = Generator(port)
        loop = asyncio.get_running_loop()
        while True:
            command, arg = await loop.run_in_executor(None, pipe.recv)
            if command == "connect":
                pipe.send(await gen.connect(arg))
            elif command == "switch":
                gen.switch(arg)
                pipe.send(None)
            elif command == "collect":
                pipe.send(gen.collect())
            elif command == "drop":
                gen.drop()
                await asyncio.sleep(0.5)
                gen.closed = 0
                pipe.send(None)
            else:
                gen.drop()
                return

    uvloop.run(run())


class Generators:
    def __init__(self, count: int, port: int) -> None:
        ctx = mp.get_context("fork")
        self.pipes: list[Pipe] = []
        self.procs = []
        for _ in range(count):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=generator_main, args=(theirs, port), daemon=True)
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def ask(self, command: str, args: list[Any]) -> list[Any]:
        for pipe, arg in zip(self.pipes, args, strict=True):
            pipe.send((command, arg))
        return [pipe.recv() for pipe in self.pipes]

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("stop", None))
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()


def start_server(port: int, db: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "PORT": str(port),
        "SYNC_INTERVAL": "3600",  # no sync inside the measuring windows
        "SIM_PLAYERS": "500",
        "LOG_LEVEL": "WARNING",
        "WS_MAX_CONNECTIONS_PER_IP": "1000000",  # every viewer comes from 127.0.0.1
    }
    env.pop("GOATED_TOKEN", None)  # demo mode: it has a live race on race:current
    log = open(f"{db}.log", "wb")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit,
    )


def wait_ready(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/races/current", timeout=2) as r:
                body = json.load(r)
                if body["race"] and body["race"]["status"] == "live":
                    return
        time.sleep(0.2)
    raise TimeoutError("server not ready with a live race")


def cpu_window(pids: list[int], seconds: float, gens: Generators | None = None) -> tuple[list[float], list[dict[str, Any]]]:
    """CPU seconds of `pids` over `seconds` whole seconds, starting half-way between two
    ticks; with `gens`, also what the viewers received in the window."""
    time.sleep(1.5 - time.time() % 1)
    if gens is not None:
        gens.ask("collect", [None] * len(gens.pipes))
    before = [cpu_seconds(p) for p in pids]
    time.sleep(seconds)
    used = [cpu_seconds(p) - b for p, b in zip(pids, before, strict=True)]
    got = gens.ask("collect", [None] * len(gens.pipes)) if gens is not None else []
    return used, got


def server_bench(steps: list[int], workers: int, seconds: float) -> list[dict[str, Any]]:
    raise_fd_limit()
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="tick-bench-")
    proc = start_server(port, os.path.join(tmp, "goated.sqlite"))
    rows = []
    try:
        wait_ready(proc, port)
        gens = Generators(workers, port)
        try:
            for clients in steps:
                shares = [clients // workers + (i < clients % workers) for i in range(workers)]
                held = sum(gens.ask("connect", shares))
                time.sleep(2)
                (idle,), _ = cpu_window([proc.pid], seconds)
                gens.ask("switch", [True] * workers)
                time.sleep(2)
                (busy, *gen_cpu), got = cpu_window([proc.pid, *gens.pids], seconds, gens)
                ticks = sum(g["ticks"] for g in got)
                late = sorted(x for g in got for x in g["late"])
                net = max(busy - idle, 0.0)
                rows.append({
                    "clients": clients,
                    "held": held,
                    "idle_core": idle / seconds,
                    "ticking_core": busy / seconds,
                    "tick_core": net / seconds,
                    "us_per_tick_delivered": net / ticks * 1e6 if ticks else float("nan"),
                    "delivered": ticks,
                    "expected": round(held * seconds),
                    "generators_core": sum(gen_cpu) / seconds,
                    "late_p50_ms": statistics.median(late) * 1000 if late else float("nan"),
                    "late_p99_ms": late[int(len(late) * 0.99)] * 1000 if late else float("nan"),
                    "closed": sum(g["closed"] for g in got),
                })
                gens.ask("drop", [None] * workers)
                time.sleep(2)
        finally:
            gens.stop()
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1000,10000", help="viewers per step")
    parser.add_argument("--workers", type=int, default=3, help="load-generator processes")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per phase")
    parser.add_argument("--ticks", type=int, default=50, help="ticks for the in-process measure")
    parser.add_argument("--only", choices=["inproc", "server"], default=None)
    args = parser.parse_args()
    steps = [int(c) for c in args.clients.split(",")]

    if args.only in (None, "inproc"):
        print("in process: LiveRaces.tick + hub + writer tasks (no-op send)")
        print(f"{'viewers':>8} {'CPU ms/tick':>12} {'of which tick()':>16} {'us/delivery':>12} {'core at 1 Hz':>13}")
        for clients in steps:
            r = asyncio.run(inproc(clients, args.ticks))
            print(f"{clients:>8} {r['cpu_ms_per_tick']:>12.2f} {r['broadcast_ms_per_tick']:>16.2f} "
                  f"{r['us_per_delivery']:>12.2f} {r['core_share_at_1hz']:>12.1%}")
    if args.only in (None, "server"):
        print(f"\nreal server (goated serve, demo mode), {args.workers} load generators, {args.seconds:.0f} s windows")
        print(f"{'viewers':>8} {'held':>6} {'idle':>7} {'ticking':>8} {'ticks':>7} {'us/tick':>8} "
              f"{'delivered':>17} {'late p50':>9} {'late p99':>9} {'closed':>7} {'clients CPU':>12}")
        for r in server_bench(steps, args.workers, args.seconds):
            print(f"{r['clients']:>8} {r['held']:>6} {r['idle_core']:>7.1%} {r['ticking_core']:>8.1%} {r['tick_core']:>7.1%} "
                  f"{r['us_per_tick_delivered']:>8.1f} {r['delivered']:>8}/{r['expected']:<8} "
                  f"{r['late_p50_ms']:>7.1f}ms {r['late_p99_ms']:>7.1f}ms {r['closed']:>7} {r['generators_core']:>11.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
