"""The `/ws` endpoint: one socket, many channels, the protocol of docs/protocol.md."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec
from litestar import WebSocket, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect

from server.access import Network, client_address
from server.errors import BadRequest
from server.realtime.hub import CLOSE_IDLE, CLOSE_POLICY, CLOSE_TOO_BIG, Connection, Hub
from server.realtime.messages import (
    ErrorMsg,
    Ping,
    PongMsg,
    Subscribe,
    UnsubscribedMsg,
    Unsubscribe,
    client_decoder,
    encoder,
)
from server.realtime.sources import ChannelRouter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SocketLimits:
    max_frame: int = 4096
    max_subscriptions: int = 16
    idle_timeout: float = 120.0
    send_backlog: int = 256
    max_snapshot_limit: int = 10_000
    max_per_address: int = 50


@dataclass(slots=True)
class SocketDeps:
    hub: Hub
    router: ChannelRouter
    limits: SocketLimits
    proxies: tuple[Network, ...] = ()
    per_address: Counter[str] = field(default_factory=Counter)
    refused: int = 0


def _error(code: str, message: str, channel: str | None = None) -> str:
    return encoder.encode(ErrorMsg(code=code, message=message, channel=channel)).decode()


@websocket("/ws")
async def ws_endpoint(socket: WebSocket, state: State) -> None:
    deps: SocketDeps = state.socket_deps
    address = client_address(socket, deps.proxies)
    await socket.accept()
    if deps.per_address[address] >= deps.limits.max_per_address:
        deps.refused += 1
        await socket.close(code=CLOSE_POLICY, reason=f"too many connections from your address (max {deps.limits.max_per_address})")
        return
    deps.per_address[address] += 1

    async def send(text: str) -> None:
        # Straight to the ASGI send: this runs once per viewer per broadcast.
        await socket.send({"type": "websocket.send", "bytes": None, "text": text})

    async def close(code: int, reason: str) -> None:
        await socket.close(code=code, reason=reason)

    conn = Connection(send, close, max_backlog=deps.limits.send_backlog, peer=address)
    deps.hub.attach(conn)
    try:
        await _read_loop(socket, conn, deps)
    except WebSocketDisconnect:
        pass
    finally:
        deps.per_address[address] -= 1
        if deps.per_address[address] <= 0:
            del deps.per_address[address]
        deps.hub.detach(conn)
        await conn.finish(grace=1.0)


async def _read_loop(socket: WebSocket, conn: Connection, deps: SocketDeps) -> None:
    limits = deps.limits
    while not conn.closed:
        try:
            async with asyncio.timeout(limits.idle_timeout):
                message = await socket.receive()
        except TimeoutError:
            conn.shut(CLOSE_IDLE, "idle: send a ping at least every minute")
            return
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None:
            data = message.get("bytes") or b""
            raw = data.decode("utf-8", "replace")
        if len(raw) > limits.max_frame:
            conn.shut(CLOSE_TOO_BIG, f"frame larger than {limits.max_frame} bytes")
            return
        try:
            request = client_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            conn.push(_error("bad_message", f"could not read that message: {exc}"))
            continue
        match request:
            case Subscribe():
                _subscribe(conn, request, deps)
            case Unsubscribe():
                deps.hub.leave(conn, request.channel)
                conn.push(encoder.encode(UnsubscribedMsg(channel=request.channel)).decode())
            case Ping():
                conn.push(encoder.encode(PongMsg(server_now=datetime.now(UTC))).decode())


def _subscribe(conn: Connection, request: Subscribe, deps: SocketDeps) -> None:
    channel = request.channel
    try:
        source = deps.router.resolve(channel)
    except BadRequest as exc:
        conn.push(_error("unknown_channel", str(exc), channel))
        return
    if channel not in conn.channels and len(conn.channels) >= deps.limits.max_subscriptions:
        conn.push(_error("too_many_subscriptions", f"at most {deps.limits.max_subscriptions} channels per socket", channel))
        return
    limit = request.limit
    if limit is not None and not 1 <= limit <= deps.limits.max_snapshot_limit:
        conn.push(_error("bad_limit", f"limit must be between 1 and {deps.limits.max_snapshot_limit}", channel))
        return
    # Join before reading the snapshot: both happen without an await in between, so
    # nothing published can fall between the snapshot and the first delta.
    deps.hub.join(conn, channel)
    if request.since is not None:
        missed = source.replay(channel, request.since)
        if missed is not None:
            for text in missed:
                conn.push(text)
            return
    conn.push(source.snapshot(channel, limit))
