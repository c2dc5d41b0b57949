"""SSE fan-out benchmark: N event streams of leaderboard:monthly on the real server, beside websocket viewers.

Measures `GET /sse` viewers exactly as bench.fanout_bench measures `/ws` ones (same server
setup, steps, broadcasts and figures: delivery latency, server CPU per delivered message net of
the sync, RSS per held connection), then, in the same run, a fresh `goated serve` with websocket
viewers for comparison.

    .venv/bin/python -m bench.sse_bench --clients 2000,10000 --workers 4

The load generator is a raw HTTP/1.1 client on uvloop: it reads the chunked body by hand (the
server writes one event per chunk) and hands each event's JSON to the websocket bench's own
accounting (type prefix and `synced_at` only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any
from urllib.parse import quote

from bench import fanout_bench as fb

PATH = f"/sse?channel={quote(fb.CHANNEL)}"


class SseLoad(fb.Load):
    """One worker's event streams; what they receive is counted as fb.Load counts it."""

    def __init__(self, host: str, port: int, path: str, capture: bool) -> None:
        super().__init__(host, port, path, None, 0.0, capture)
        self.handshake = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()

    async def connect(self, count: int, concurrency: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        started = time.perf_counter()
        before = len(self.clients)

        async def one() -> None:
            async with gate:
                client = SseClient(self, loop.create_future())
                try:
                    async with asyncio.timeout(fb.CONNECT_TIMEOUT):
                        await loop.create_connection(lambda: client, self.host, self.port)
                        await client.ready  # the snapshot came
                except (OSError, TimeoutError, ConnectionError) as exc:
                    self.errors[type(exc).__name__] += 1
                    if client.transport is not None:
                        client.transport.abort()
                    return
                self.clients.append(client)  # type: ignore[arg-type]

        await asyncio.gather(*(one() for _ in range(count)))
        return {"opened": len(self.clients) - before, "failed": count - (len(self.clients) - before), "seconds": time.perf_counter() - started}


class SseClient(asyncio.Protocol):
    __slots__ = ("load", "ready", "transport", "buf", "started", "lost")

    def __init__(self, load: SseLoad, ready: asyncio.Future[None]) -> None:
        self.load = load
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.started = False
        self.lost = False

    def opened(self) -> None:
        if not self.ready.done():
            self.ready.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.load.handshake)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.ready.done():
            self.load.closed += 1
        else:
            self.ready.set_exception(ConnectionError("closed before the snapshot"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self.buf:
            data = self.buf + data
            self.buf = b""
        pos = 0
        if not self.started:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            if not data.startswith(b"HTTP/1.1 200"):
                self.ready.set_exception(ConnectionError(data[: data.find(b"\r\n")].decode(errors="replace")))
                self.transport.close()  # type: ignore[union-attr]
                return
            self.started = True
            pos = end + 4
        n = len(data)
        while pos < n:  # chunks: "<hex size>\r\n<event>\r\n"
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                break
            start = eol + 2
            end = start + int(data[pos:eol], 16)
            if end + 2 > n:
                break
            if end == start:  # the last chunk: the server ended the stream
                self.transport.close()  # type: ignore[union-attr]
                return
            i = data.find(b"data: ", start, end)
            if i >= 0:  # not a comment or a retry
                self.load.on_text(self, data, i + 6, end - 2, now)  # type: ignore[arg-type]
            pos = end + 2
        if pos < n:
            self.buf = data[pos:]


def sse_worker_main(pipe: fb.Pipe, host: str, port: int, path: str, subscribe: bytes | None, ping_every: float, capture: bool) -> None:
    fb._child_setup()
    import uvloop

    uvloop.run(fb._worker(pipe, SseLoad(host, port, path, capture)))  # type: ignore[arg-type]


class SseWorkers(fb.Workers):
    """fb.Workers whose processes hold event streams instead of websockets."""

    def __init__(self, count: int, port: int, path: str, subscribe: bytes | None, ping_every: float, capture: bool):
        ctx = fb.mp.get_context("fork")
        self.pipes = []
        self.procs = []
        for i in range(count):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(
                target=sse_worker_main, args=(theirs, "127.0.0.1", port, path, subscribe, ping_every, capture and i == 0), daemon=True
            )
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)


def bench_sse(args: argparse.Namespace, steps: list[int]) -> list[fb.Step]:
    """`goated serve` as bench.fanout_bench runs it, viewers on /sse."""
    sim_port, port = fb.free_port(), fb.free_port()
    sim = fb.Server("upstream", [fb.PY, "-m", "server", "simulate", "--port", str(sim_port), "--players", str(args.players), "--speed", str(args.speed), "--token", fb.SIM_TOKEN])
    try:
        fb.wait_port(sim, sim_port)
        with fb.postgres_database(args.pg_url) as db_url:
            # Every stream is a request from 127.0.0.1: the rate limiter would count 10,000 of
            # them in a minute (and its per-client list grows with them); a proxy limits them in
            # a deployment of this size.
            env = fb.goated_env(db_url, sim_port, args.interval, steps[-1]) | {"RATE_LIMIT_PER_MINUTE": "0"}
            server = fb.Server("goated", [fb.PY, "-m", "server", "serve", "--port", str(port)], env)
            try:
                fb.wait_port(server, port)
                fb.wait_synced(server, port)
                rows, _ = fb.run_server("goated serve, SSE", server, port, PATH, None, args, steps, capture=False, viewers=SseWorkers)
                return rows
            finally:
                server.stop()
    finally:
        sim.stop()


def ratios(rows: list[fb.Step]) -> str:
    ws = {r.clients: r for r in rows if r.server == "goated serve"}
    lines = ["| viewers | SSE / websocket p99 | CPU/msg (net) | RSS/conn |", "|---|---|---|---|"]
    for r in rows:
        other = ws.get(r.clients)
        if r.server != "goated serve, SSE" or other is None:
            continue
        lines.append(f"| {r.clients:,} | {r.p99_ms / other.p99_ms:.2f}x | {r.net_cpu_us / other.net_cpu_us:.2f}x | {r.rss_kb / other.rss_kb:.2f}x |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="2000,10000", help="viewer counts, added step by step")
    parser.add_argument("--transports", default="sse,ws", help="which viewers to measure, in order (a fresh server each)")
    parser.add_argument("--workers", type=int, default=4, help="load-generator processes")
    parser.add_argument("--concurrency", type=int, default=50, help="connection attempts in flight per worker")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between syncs / broadcasts")
    parser.add_argument("--syncs", type=int, default=5, help="broadcasts measured per step")
    parser.add_argument("--players", type=int, default=2000, help="simulated referrals")
    parser.add_argument("--speed", type=float, default=300.0, help="simulation speed")
    parser.add_argument("--ping-every", type=float, default=55.0, help="app-level ping per websocket viewer")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    steps = sorted(int(c) for c in args.clients.split(",") if c)
    limit = fb.raise_fd_limit()
    if steps[-1] + 100 > limit:
        print(f"fd limit is {limit}: the server cannot hold {steps[-1]:,} connections", file=sys.stderr)
        return 2
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    started = time.monotonic()
    print(f"# SSE bench: {steps} viewers, {transports}; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    rows: list[fb.Step] = []
    for transport in transports:
        if transport == "sse":
            rows += bench_sse(args, steps)
        elif transport == "ws":
            rows += fb.bench_goated(args, steps)[0]
    print(f"### SSE fan-out: {args.workers} load-generator processes, a broadcast every {args.interval:g} s, "
          f"{args.syncs} broadcasts per step ({time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end)\n")
    print(fb.table(rows))
    if {"sse", "ws"} <= set(transports):
        print("\n" + ratios(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
