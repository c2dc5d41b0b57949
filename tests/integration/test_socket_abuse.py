"""Hostile websocket clients (issue 13): sockets that never read, floods of subscribes with
every `limit`, frames counted in bytes, echoes bounded, and connections the server gives up
on really gone. The memory bound is measured on a real `goated serve` process."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets

from server.app import create_app
from server.leaderboard.board import Period
from server.realtime import edge as ws_edge
from server.realtime.edge import GoatedWebSocketProtocol
from server.realtime.sources import snap_limit
from tests.conftest import SIM_TOKEN, free_port, live_settings, running_app, running_sim
from tests.integration.test_live_core import recv_json, recv_type, ws_url

# ---- a client that never reads ----------------------------------------------------------


def text_frame(text: str) -> bytes:
    """One masked text frame, as a client sends it (RFC 6455)."""
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return head + mask + masked


class DeafSocket:
    """A websocket client on a raw TCP socket with a tiny receive buffer that reads nothing
    after the handshake: the server's frames pile up on its side."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:  # byte by byte: not one byte of a frame is read
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, message: dict) -> None:
        self.sock.sendall(text_frame(json.dumps(message)))

    def close(self) -> None:
        self.sock.close()


def flood(port: int, channel: str, limits: list[int | None]) -> DeafSocket:
    deaf = DeafSocket(port)
    for limit in limits:
        message: dict = {"op": "subscribe", "channel": channel}
        if limit is not None:
            message["limit"] = limit
        try:
            deaf.send(message)
        except OSError:  # the server cut it off already
            break
    return deaf


# ---- frames, echoes, limits --------------------------------------------------------------


async def test_the_frame_limit_counts_bytes_not_characters(sqlite_url: str) -> None:
    """4,046 characters but 16,046 bytes: over the 4 KB limit."""
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, _):
        frame = json.dumps({"op": "subscribe", "channel": "🐐" * 4000}, ensure_ascii=False)
        assert len(frame) < 4096 < 16_000 < len(frame.encode())
        async with websockets.connect(ws_url(base)) as ws:
            await ws.send(frame)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_an_unknown_channel_is_not_echoed_back_whole(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, _):
        async with websockets.connect(ws_url(base)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": "x" * 4000}))
            raw = await asyncio.wait_for(ws.recv(), 5)
            err = json.loads(raw)
            assert err["code"] == "unknown_channel"
            assert len(raw) < 400 and err["channel"] == "x" * 64 + "…"
            await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:today", "x" * 3900: 1}))
            raw = await asyncio.wait_for(ws.recv(), 5)
            assert json.loads(raw)["code"] == "bad_message" and len(raw) < 400
            await ws.send(json.dumps({"op": "unsubscribe", "channel": "y" * 4000}))
            raw = await asyncio.wait_for(ws.recv(), 5)
            assert json.loads(raw)["type"] == "unsubscribed" and len(raw) < 200
            # A non-ASCII digit is not a race id (it used to reach int() and end the socket).
            await ws.send(json.dumps({"op": "subscribe", "channel": "race:²"}))
            assert (await recv_json(ws))["code"] == "unknown_channel"
            await ws.send(json.dumps({"op": "ping"}))
            assert (await recv_json(ws))["type"] == "pong"


async def test_limits_snap_to_a_few_shared_snapshots(sqlite_url: str) -> None:
    async with running_sim(players=2000, speed=0) as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        total = services.live.board(Period.ALL_TIME).total
        assert total > 120
        async with websockets.connect(ws_url(base), max_size=None) as ws:
            sizes = []
            for limit in (1, 7, 10, 11, 26, 99, 101):
                await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:all_time", "limit": limit}))
                sizes.append(len((await recv_type(ws, "snapshot"))["rows"]))
            assert sizes == [10, 10, 10, 25, 50, 100, min(250, total)]
            await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:all_time", "limit": 5000}))
            assert len((await recv_type(ws, "snapshot"))["rows"]) == total
        source = services.socket_deps.router.resolve("leaderboard:all_time")
        texts = {id(source.snapshot("leaderboard:all_time", snap_limit(limit))) for limit in range(1, 10_001)}
        assert len(texts) == 7  # 10, 25, 50, 100, 250, 1000 and the whole board


async def test_resubscribing_counts_against_the_byte_budget(sqlite_url: str) -> None:
    """A socket that never reads and asks again and again for the whole board is cut with
    4008 once its queue holds more than WS_MAX_QUEUED_BYTES (2 MiB), before 256 messages."""
    async with running_sim(players=5000, speed=0) as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        port = int(base.rsplit(":", 1)[1])
        snapshot = services.socket_deps.router.resolve("leaderboard:all_time").snapshot("leaderboard:all_time", None)
        assert len(snapshot) > 40_000  # 250 of them: over 10 MB; the kernel's buffers take a few MB of it
        deaf = await asyncio.to_thread(flood, port, "leaderboard:all_time", [None] * 250)
        try:
            async with asyncio.timeout(10):
                while services.hub.slow_consumers_cut < 1:
                    await asyncio.sleep(0.05)
            assert services.hub.connections == set()
        finally:
            deaf.close()


# ---- connections the server gives up on are gone ------------------------------------------


@asynccontextmanager
async def served(app: object, **config: object) -> AsyncIterator[tuple[int, uvicorn.Server]]:
    """The app under uvicorn with our websocket protocol, as `goated serve` runs it."""
    port = free_port()
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "ws": GoatedWebSocketProtocol,
        "ws_per_message_deflate": False,
        "log_level": "warning",
        "log_config": None,
        "lifespan": "on",
        "proxy_headers": False,
    }
    options.update(config)
    server = uvicorn.Server(uvicorn.Config(app, **options))  # type: ignore[arg-type]
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield port, server
    finally:
        server.should_exit = True
        await task


async def gone(server: uvicorn.Server, services: object, within: float) -> float:
    """Seconds until uvicorn holds no connection and the app no socket."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        while server.server_state.connections or services.hub.connections:  # type: ignore[attr-defined]
            await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_socket_that_never_answers_pings_is_dropped(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/protocol.md: protocol pings every 20 s, no answer within 20 s: dropped. Here
    0.5 s and 0.5 s; the peer reads nothing, so the close frame cannot leave either, and the
    TCP connection is aborted ABORT_AFTER later."""
    monkeypatch.setattr(ws_edge, "ABORT_AFTER", 0.5)
    async with running_sim(players=3000, speed=0) as sim:
        app = create_app(live_settings(sqlite_url, sim), schedule=False)
        async with served(app, ws_ping_interval=0.5, ws_ping_timeout=0.5) as (port, server):
            services = app.state.services
            await services.sync.run_once("test")
            deaf = await asyncio.to_thread(flood, port, "leaderboard:all_time", [None] * 100)
            try:
                await asyncio.sleep(0.2)
                assert len(services.hub.connections) == 1
                assert await gone(server, services, within=5) < 5
            finally:
                deaf.close()


async def test_an_idle_socket_that_never_reads_is_closed_and_gone(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No frame for WS_IDLE (120 s; here 1 s): 4000, and the connection is gone although its
    close frame could not be delivered."""
    monkeypatch.setattr(ws_edge, "ABORT_AFTER", 0.5)
    async with running_sim(players=3000, speed=0) as sim:
        app = create_app(live_settings(sqlite_url, sim, ws_idle_timeout=1.0), schedule=False)
        async with served(app, ws_ping_interval=None) as (port, server):
            services = app.state.services
            await services.sync.run_once("test")
            deaf = await asyncio.to_thread(flood, port, "leaderboard:all_time", [None] * 100)
            try:
                await asyncio.sleep(0.2)
                assert len(services.hub.connections) == 1
                assert 0.5 < await gone(server, services, within=5)
            finally:
                deaf.close()


async def test_a_slow_consumer_cut_off_does_not_linger(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut with 4008 (over its byte budget): the TCP connection and the frames buffered for it
    are gone ABORT_AFTER later, so an address cannot pile up half-dead connections by
    opening a new batch each time the last one is cut."""
    monkeypatch.setattr(ws_edge, "ABORT_AFTER", 0.5)
    async with running_sim(players=3000, speed=0) as sim:
        app = create_app(live_settings(sqlite_url, sim), schedule=False)
        async with served(app, ws_ping_interval=None) as (port, server):
            services = app.state.services
            await services.sync.run_once("test")
            socks = [await asyncio.to_thread(flood, port, "leaderboard:all_time", [None] * 200) for _ in range(5)]
            try:
                async with asyncio.timeout(10):
                    while services.hub.slow_consumers_cut < 5:
                        await asyncio.sleep(0.05)
                await gone(server, services, within=5)
            finally:
                for deaf in socks:
                    deaf.close()


# ---- the memory bound, measured on `goated serve` ------------------------------------------

ATTACKERS = 50  # WS_MAX_CONNECTIONS_PER_IP: everything one address may open
SUBSCRIBES = 255
BOARD = 6000  # players on the monthly board
RSS_BOUND_MB = 64  # docs/reliability.md, "Abuse cases"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


async def test_fifty_sockets_that_never_read_keep_the_server_within_its_memory_bound(tmp_path: Path) -> None:
    """Issue 13, item 1: 50 sockets from one address, each with a 1 KB receive buffer and
    never reading, send 255 `subscribe`s for `leaderboard:monthly` (6,000 players), each with
    another `limit` (1 to 10,000). The server's RSS grows by at most RSS_BOUND_MB, and every
    one of them is cut off with 4008. (Before: every limit built its own text and 256 of them
    could wait per socket; four sockets grew the server by 300-780 MB.)"""
    async with running_sim(players=BOARD, speed=0) as sim:
        for i, entry in enumerate(sim.simulation.snapshot()):
            sim.simulation.wager(entry.uid, 100.0 + i)  # everyone on this month's board
        port = free_port()
        env = os.environ | {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'goated.sqlite'}",
            "GOATED_TOKEN": SIM_TOKEN,
            "GOATED_API_URL": sim.base_url,
            "GOATED_AFFILIATE_CODE": "TESTCODE",
            "SYNC_INTERVAL": "3",
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)
        proc = subprocess.Popen([sys.executable, "-m", "server", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        socks: list[DeafSocket] = []
        try:
            async with asyncio.timeout(60):
                while True:
                    try:
                        async with websockets.connect(base.replace("http", "ws") + "/ws", max_size=None) as ws:
                            await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:monthly"}))
                            snap = await recv_type(ws, "snapshot", timeout=10)
                            if snap["total"] >= BOARD:
                                full = len(json.dumps(snap))
                                break
                    except (OSError, websockets.WebSocketException):
                        pass
                    await asyncio.sleep(0.5)
            await asyncio.sleep(4)  # a few syncs: the server settles
            before = rss_kb(proc.pid)
            peak = before
            limits = [1 + k * 39 for k in range(SUBSCRIBES)]  # 1 .. 9,907: every snapped size, the whole board too

            async def watch() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, rss_kb(proc.pid))
                    if peak - before > 4 * RSS_BOUND_MB * 1024:
                        proc.kill()  # the old code would take gigabytes: stop it here
                        return
                    await asyncio.sleep(0.05)

            watcher = asyncio.create_task(watch())
            for _ in range(ATTACKERS):
                try:
                    socks.append(await asyncio.to_thread(flood, port, "leaderboard:monthly", limits))
                except OSError:
                    assert proc.poll() is not None  # stopped by the watcher: the assertion below says why
                    break
            else:
                await asyncio.sleep(10)  # deltas go on arriving; buffers stay full
            watcher.cancel()
            grown_mb = (peak - before) / 1024
            assert grown_mb <= RSS_BOUND_MB, f"the server grew by {grown_mb:.0f} MB"
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(f"{base}/metrics")).text
            cut = next(float(line.split()[1]) for line in metrics.splitlines() if line.startswith("goated_websocket_slow_consumers_cut_total"))
            open_now = next(float(line.split()[1]) for line in metrics.splitlines() if line.startswith("goated_websocket_connections "))
            print(f"\nRSS {before / 1024:.0f} MB -> peak {peak / 1024:.0f} MB: +{grown_mb:.1f} MB; full snapshot {full / 1024:.0f} KB; cut {cut:.0f}")
            assert cut >= ATTACKERS and open_now == 0
        finally:
            for deaf in socks:
                deaf.close()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(proc.wait, 10)
                except subprocess.TimeoutExpired:
                    proc.kill()
