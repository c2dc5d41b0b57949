"""`GET /sse` against the real app over loopback HTTP: the same messages as /ws for one channel,
ids, resume with Last-Event-ID, heartbeats, errors, the shared per-address limit, slow readers,
shutdown, and a viewer on one replica seeing the other's sync through Redis."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
import websockets

from server.app import create_app
from server.leaderboard.live import REPLAY_DEPTH
from server.realtime import sse
from server.realtime.sse import GoatedHttpProtocol
from server.serve import GoatedServer, uvicorn_config
from server.services import Services
from tests.conftest import Sim, free_port, live_settings, running_app, running_sim
from tests.integration.test_live_core import ws_url
from tests.integration.test_replicas import leader_flag, replica, replica_env
from tests.integration.test_socket_abuse import gone, served

CHANNEL = "leaderboard:monthly"


# ---- an event-stream client -------------------------------------------------------------


@dataclass
class Block:
    """One block of the stream (up to a blank line): an event, a comment or a retry."""

    id: int | None = None
    data: str | None = None
    comment: str | None = None
    retry: int | None = None


def parse(raw: bytes) -> Block:
    block = Block()
    for line in raw.decode().split("\n"):
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            block.comment = value
        elif name == "id":
            block.id = int(value)
        elif name == "data":
            block.data = value if block.data is None else f"{block.data}\n{value}"
        elif name == "retry":
            block.retry = int(value)
    return block


class Stream:
    """Reads a response's blocks in the background; None in `blocks` is the end of the stream."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.blocks: asyncio.Queue[Block | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        buf = b""
        try:
            async for chunk in self.response.aiter_raw():
                buf += chunk
                while b"\n\n" in buf:
                    raw, _, buf = buf.partition(b"\n\n")
                    self.blocks.put_nowait(parse(raw))
        except httpx.HTTPError:
            pass  # cut: the end of the stream all the same
        self.blocks.put_nowait(None)

    async def block(self, timeout: float = 5.0) -> Block | None:
        return await asyncio.wait_for(self.blocks.get(), timeout)

    async def event(self, timeout: float = 5.0, presence: bool = False) -> Block:
        """The next block with data (comments and retries skipped; viewer counts too, unless asked)."""
        async with asyncio.timeout(timeout):
            while True:
                block = await self.blocks.get()
                assert block is not None, "the stream ended"
                if block.data is not None and (presence or '"type":"presence"' not in block.data):
                    return block

    async def ended(self, timeout: float = 5.0) -> list[Block]:
        """The blocks up to the end of the stream."""
        seen: list[Block] = []
        async with asyncio.timeout(timeout):
            while (block := await self.blocks.get()) is not None:
                seen.append(block)
        return seen

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@asynccontextmanager
async def stream(base: str, channel: str = CHANNEL, headers: dict[str, str] | None = None, **params: object) -> AsyncIterator[Stream]:
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=None)) as http:
        async with http.stream("GET", "/sse", params={"channel": channel, **params}, headers=headers or {}) as response:
            assert response.status_code == 200, (await response.aread()).decode()
            reader = Stream(response)
            try:
                yield reader
            finally:
                await reader.close()


async def ws_text(ws: websockets.ClientConnection, type_: str, timeout: float = 5.0) -> str:
    """The raw text of the next message of `type_` (bytes as sent, for comparing)."""
    async with asyncio.timeout(timeout):
        while True:
            raw = await ws.recv()
            if json.loads(raw)["type"] == type_:
                return str(raw)


# ---- the stream ----------------------------------------------------------------------------


async def test_a_stream_starts_with_the_snapshot_as_the_websocket_sends_it(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        await services.sync.run_once("test")
        # Asking for gzip changes nothing: one compressor per viewer would cost more than the bytes.
        async with stream(base, headers={"Accept-Encoding": "gzip"}, limit=10) as events:
            headers = events.response.headers
            assert headers["content-type"] == "text/event-stream; charset=utf-8"
            assert headers["cache-control"] == "no-cache"
            assert headers["x-accel-buffering"] == "no"
            assert "content-encoding" not in headers
            first = await events.block()
            assert first is not None and first.retry is not None and 1000 <= first.retry <= 5000
            snapshot = await events.event()
            msg = json.loads(snapshot.data or "")
            assert msg["type"] == "snapshot" and msg["channel"] == CHANNEL and len(msg["rows"]) == 10
            assert snapshot.id == msg["seq"] == services.live.seq == 2
            # Then the viewer count, as after a websocket's subscribe: not part of the channel's
            # sequence, so without an id (the browser keeps the snapshot's).
            count = await events.event(presence=True)
            assert count.id is None and json.loads(count.data or "") == {"type": "presence", "channel": CHANNEL, "watching": 1}
            async with websockets.connect(ws_url(base)) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channel": CHANNEL, "limit": 10}))
                assert snapshot.data == await ws_text(ws, "snapshot")
        # A race channel's first message is the race, its id the channel's seq.
        async with stream(base, "race:current") as events:
            race = await events.event()
            assert json.loads(race.data or "")["type"] == "race" and race.id == json.loads(race.data or "")["seq"]


@pytest.mark.parametrize("http", ["goated", "uvicorn"])
async def test_a_sync_reaches_the_stream_as_the_same_bytes_as_the_websocket(sqlite_url: str, http: str) -> None:
    """Written straight to the connection (our protocol) or through the ASGI `send` (any server)."""
    async with running_sim(speed=0) as sim:
        app = create_app(live_settings(sqlite_url, sim), schedule=False)
        protocol = GoatedHttpProtocol if http == "goated" else "httptools"
        async with served(app, http=protocol) as (port, _):
            await stream_a_sync(f"http://127.0.0.1:{port}", app.state.services, sim)


async def stream_a_sync(base: str, services: Services, sim: Sim) -> None:
    await services.sync.run_once("test")
    monthly = sim.simulation.snapshot()
    async with stream(base) as events, websockets.connect(ws_url(base)) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channel": CHANNEL}))
        await ws_text(ws, "snapshot")
        await events.event()
        sim.simulation.wager(monthly[7].uid, 1_000_000.0)  # to the top
        await services.sync.run_once("test")
        over_ws = await ws_text(ws, "delta")
        delta = await events.event()
        assert delta.data == over_ws
        assert delta.id == json.loads(over_ws)["seq"] == services.live.seq
        assert any(c["uid"] == monthly[7].uid and c["rank"] == 1 for c in json.loads(over_ws)["changes"])


async def test_last_event_id_resumes_with_exactly_the_missed_messages(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        async with stream(base) as events:
            seen = (await events.event()).id
        assert seen is not None
        for _ in range(3):
            await services.sync.run_once("test")
        async with websockets.connect(ws_url(base)) as ws:  # the websocket's resume: the same texts
            await ws.send(json.dumps({"op": "subscribe", "channel": CHANNEL, "since": seen}))
            expected = [await ws_text(ws, "delta") for _ in range(3)]
        async with stream(base, headers={"Last-Event-ID": str(seen)}) as events:
            missed = [await events.event() for _ in range(3)]
            assert [b.data for b in missed] == expected
            assert [b.id for b in missed] == [seen + 1, seen + 2, seen + 3]
            with pytest.raises(TimeoutError):
                await events.event(timeout=0.5)  # and nothing else: no snapshot

        # Up to date: nothing at all. An id the server no longer holds, or never sent: a snapshot.
        async with stream(base, headers={"Last-Event-ID": str(services.live.seq)}) as events:
            with pytest.raises(TimeoutError):
                await events.event(timeout=0.5)
        while services.live.seq <= seen + REPLAY_DEPTH:
            await services.sync.run_once("test")
        for stale in (str(seen), "not-a-seq", str(services.live.seq + 5), "9" * 40):
            async with stream(base, headers={"Last-Event-ID": stale}) as events:
                first = await events.event()
                assert json.loads(first.data or "")["type"] == "snapshot" and first.id == services.live.seq, stale


async def test_comment_heartbeats_keep_a_quiet_stream_alive(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "HEARTBEAT", 0.2)
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        async with stream(base) as events:
            await events.event()
            started = time.monotonic()
            comments: list[str] = []
            while len(comments) < 3:
                block = await events.block()
                assert block is not None
                if block.data is None:
                    comments.append(block.comment or "")
            assert comments == ["ping"] * 3
            assert 0.4 < time.monotonic() - started < 3


# ---- errors and limits ----------------------------------------------------------------------


async def test_a_bad_channel_or_limit_is_a_400_in_the_error_shape(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        async with httpx.AsyncClient(base_url=base) as http:
            for params, words in [
                ({"channel": "leaderboard:yearly"}, "unknown channel 'leaderboard:yearly'"),
                ({"channel": "nope"}, "try leaderboard:<period>"),
                ({"channel": "race:²"}, "unknown channel"),
                ({"channel": "race:999"}, "unknown channel 'race:999'"),
                ({"channel": "x" * 4000}, "x" * 64 + "…"),
                ({}, "channel"),
                ({"channel": CHANNEL, "limit": 0}, "Validation failed"),
                ({"channel": CHANNEL, "limit": 10_001}, "Validation failed"),
            ]:
                r = await http.get("/sse", params=params)
                assert r.status_code == 400, (params, r.text)
                assert r.headers["content-type"] == "application/json"
                body = r.json()
                assert set(body) <= {"error", "status_code", "details"} and body["status_code"] == 400
                assert words in body["error"] or words in json.dumps(body.get("details")), (params, body)
                assert len(r.text) < 600  # what the client sent is not echoed whole
            doc = (await http.get("/schema/openapi.json")).json()
        responses = doc["paths"]["/sse"]["get"]["responses"]
        assert "text/event-stream" in responses["200"]["content"]
        for status in ("400", "429"):
            assert responses[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        assert services.hub.connections == set() and services.socket_deps.per_address == {}


async def test_streams_and_websockets_share_the_per_address_limit(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, ws_max_per_address=3)) as (base, services):
        await services.sync.run_once("test")
        async with websockets.connect(ws_url(base)) as ws1, websockets.connect(ws_url(base)) as ws2:
            await ws1.send(json.dumps({"op": "ping"}))
            await ws2.send(json.dumps({"op": "ping"}))
            await ws1.recv(), await ws2.recv()
            async with stream(base) as events:
                await events.event()
                assert services.socket_deps.per_address == {"127.0.0.1": 3}
                async with httpx.AsyncClient(base_url=base) as http:
                    r = await http.get("/sse", params={"channel": CHANNEL})
                assert r.status_code == 429
                assert r.headers["retry-after"] == str(sse.RETRY_AFTER)
                assert r.json() == {"error": "too many connections from your address (max 3)", "status_code": 429}
                async with websockets.connect(ws_url(base)) as ws3:  # and a websocket is refused as before
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await asyncio.wait_for(ws3.recv(), 5)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
                assert services.socket_deps.refused == 2
        # The stream gave its place back when it ended.
        async with asyncio.timeout(5):
            while services.socket_deps.per_address:
                await asyncio.sleep(0.05)
        async with stream(base) as events:
            await events.event()


class DeafStream:
    """An event-stream client on a raw TCP socket with a tiny receive buffer that reads nothing
    after the response's headers: what the server sends piles up on its side."""

    def __init__(self, port: int, channel: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(f"GET /sse?channel={quote(channel)} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:  # byte by byte: not one byte of the body is read
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 200"), head

    def close(self) -> None:
        self.sock.close()


async def test_a_reader_that_falls_behind_is_cut_off_and_gone(sqlite_url: str) -> None:
    """As a websocket: over its byte budget (WS_MAX_QUEUED_BYTES, 2 MiB) the stream is cut and
    counted; its last bytes cannot leave, so its connection is dropped (GoatedHttpProtocol)."""
    async with running_sim(players=3000, speed=0) as sim:
        app = create_app(live_settings(sqlite_url, sim), schedule=False)
        async with served(app, http=GoatedHttpProtocol, ws_ping_interval=None) as (port, server):
            services = app.state.services
            await services.sync.run_once("test")
            deaf = await asyncio.to_thread(DeafStream, port, "leaderboard:all_time")
            try:
                async with asyncio.timeout(20):
                    while services.hub.slow_consumers_cut < 1:
                        services.relay.resnapshot()  # fresh snapshots to every viewer, as after a resync
                        await asyncio.sleep(0.02)
                assert await gone(server, services, within=5) < 5
                assert services.socket_deps.per_address == {}
            finally:
                deaf.close()


async def test_shutdown_ends_streams_at_once_even_one_that_does_not_read(sqlite_url: str) -> None:
    """`goated serve` (GoatedServer) ends every stream before uvicorn stops: a reader gets the
    last comment and the end of the response, a peer that reads nothing is dropped; neither
    holds the shutdown (uvicorn would wait for a stream forever)."""
    async with running_sim(players=3000, speed=0) as sim:
        settings = live_settings(sqlite_url, sim)
        app = create_app(settings, schedule=False)
        server = GoatedServer(uvicorn_config(app, settings, port=free_port(), log_level="warning"), app)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        await app.state.services.sync.run_once("test")
        deaf = await asyncio.to_thread(DeafStream, port, "leaderboard:all_time")
        try:
            async with stream(base) as events:
                await events.event()
                started = time.monotonic()
                server.should_exit = True
                rest = await events.ended(timeout=5)
                assert rest and rest[-1].comment == "closed 1001 server shutting down"
                await asyncio.wait_for(task, 10)
                assert time.monotonic() - started < 2.5
        finally:
            deaf.close()
            if not task.done():
                server.force_exit = True
                await task


# ---- replicas -------------------------------------------------------------------------------


async def test_a_stream_on_one_replica_gets_the_sync_the_other_ran(pg_url: str, redis_url: str) -> None:
    async with running_sim(players=500, speed=3000) as sim:
        env = replica_env(pg_url, redis_url, sim.base_url, sync_interval="2")
        async with replica(env) as (base_a, _), replica(env) as (base_b, _):
            leader, follower = (base_a, base_b) if await leader_flag(base_a) else (base_b, base_a)
            assert not await leader_flag(follower)
            async with stream(follower) as events, websockets.connect(ws_url(leader)) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channel": CHANNEL}))
                await ws_text(ws, "snapshot")
                await events.event()  # the follower's snapshot
                # The follower's next delta is the leader's, byte for byte in content, under the same
                # seq. A snapshot first is a catch-up: a follower whose start fell between a sync's
                # commit and its own Redis subscription sees the version gap and re-sends the board.
                on_leader: dict[int, dict[str, object]] = {}
                async with asyncio.timeout(30):
                    while True:
                        got = await events.event(timeout=15)
                        message = json.loads(got.data or "")
                        if message["type"] != "delta":
                            continue
                        seq = int(got.id or 0)
                        while seq > max(on_leader, default=-1):
                            delta = json.loads(await ws_text(ws, "delta", timeout=15))
                            on_leader[delta["seq"]] = delta
                        if seq in on_leader:  # (not one sent before the leader's viewer subscribed)
                            break
                assert message == on_leader[seq], "the follower's viewer got the leader's delta"
