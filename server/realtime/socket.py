"""The `/ws` endpoint: one socket, many channels, the protocol of docs/protocol.md."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.types import Receive, Scope, Send

from server.access import Network, scope_client_address
from server.errors import BadRequest
from server.realtime.hub import (
    CLOSE_IDLE,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    DEFAULT_MAX_QUEUED_BYTES,
    Connection,
    Hub,
)
from server.realtime.frames import PREPARED_EXTENSION, FrameCache
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
from server.realtime.presence import Presence
from server.realtime.sources import ChannelRouter, Source, echo, snap_limit

log = logging.getLogger(__name__)

_frames = FrameCache()  # one per process: a broadcast's text is framed once for all its viewers


@dataclass(frozen=True, slots=True)
class SocketLimits:
    max_frame: int = 4096
    max_subscriptions: int = 16
    idle_timeout: float = 120.0
    send_backlog: int = 256  # messages queued to one socket
    max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES  # bytes queued to one socket (WS_MAX_QUEUED_BYTES)
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
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # the app's: a pong's server_now agrees with race times
    presence: Presence | None = None  # None: no presence messages


ERROR_TEXT = 200  # characters of an error's message (a decoder's message may quote the frame)


def _error(code: str, message: str, channel: str | None = None) -> str:
    if len(message) > ERROR_TEXT:
        message = message[:ERROR_TEXT] + "…"
    return encoder.encode(ErrorMsg(code=code, message=message, channel=None if channel is None else echo(channel))).decode()


def is_socket_scope(scope: Mapping[str, Any]) -> bool:
    """Whether an ASGI scope is a `/ws` connection (the app hands those to `serve_socket`)."""
    return scope["type"] == "websocket" and scope["path"] in ("/ws", "/ws/")


async def serve_socket(scope: Scope, receive: Receive, send: Send, deps: SocketDeps) -> None:
    """The `/ws` endpoint (docs/protocol.md) as a bare ASGI app, ahead of Litestar's router
    and middleware (server/app.py, GoatedApp): a viewer holds a socket for hours, and what a
    framework keeps per connection (its WebSocket, the middleware's and the handler's frames)
    was ~5 KB of the ~27 KB an idle viewer cost (docs/performance.md). The HTTP middleware
    (metrics of requests, the rate limit) never applied to sockets; the per-address limit is
    here."""
    if (await receive())["type"] != "websocket.connect":
        return
    address = scope_client_address(scope, deps.proxies)
    # Read once, here: the server would keep them in the scope for the connection's life.
    scope["headers"] = []
    await send({"type": "websocket.accept"})
    if deps.per_address[address] >= deps.limits.max_per_address:
        deps.refused += 1
        reason = f"too many connections from your address (max {deps.limits.max_per_address})"
        await send({"type": "websocket.close", "code": CLOSE_POLICY, "reason": reason})
        return
    deps.per_address[address] += 1

    async def send_text(text: str) -> None:
        # Straight to the ASGI send: the way a message goes when it cannot be written at once.
        await send({"type": "websocket.send", "text": text})

    async def close(code: int, reason: str) -> None:
        await send({"type": "websocket.close", "code": code, "reason": reason})

    # The server's protocol may offer to write prepared frames (server/realtime/edge.py).
    write_prepared = scope.get("extensions", {}).get(PREPARED_EXTENSION)
    write_now = None
    if write_prepared is not None:
        frame = _frames.frame

        def write_now(text: str) -> bool:
            return write_prepared(frame(text))

    limits = deps.limits
    conn = Connection(
        send_text, close, max_backlog=limits.send_backlog, max_bytes=limits.max_queued_bytes, peer=address, write_now=write_now
    )
    deps.hub.attach(conn)
    try:
        await _read_loop(receive, conn, deps)
    finally:
        deps.per_address[address] -= 1
        if deps.per_address[address] <= 0:
            del deps.per_address[address]
        deps.hub.detach(conn)
        await conn.finish(grace=1.0)


async def _read_loop(receive: Receive, conn: Connection, deps: SocketDeps) -> None:
    limits = deps.limits
    while not conn.closed:
        try:
            async with asyncio.timeout(limits.idle_timeout):
                message = await receive()
        except TimeoutError:
            conn.shut(CLOSE_IDLE, "idle: send a ping at least every minute")
            return
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None:
            data = message.get("bytes") or b""
            size = len(data)
        else:
            # The limit is in bytes, as on the wire: a character may take up to four.
            size = len(raw) if len(raw) > limits.max_frame or raw.isascii() else len(raw.encode())
        if size > limits.max_frame:
            conn.shut(CLOSE_TOO_BIG, f"frame larger than {limits.max_frame} bytes")
            return
        if raw is None:
            raw = data.decode("utf-8", "replace")
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
                conn.push(encoder.encode(UnsubscribedMsg(channel=echo(request.channel))).decode())
            case Ping():
                conn.push(encoder.encode(PongMsg(server_now=deps.clock())).decode())


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
    if request.limit is not None and not 1 <= request.limit <= deps.limits.max_snapshot_limit:
        conn.push(_error("bad_limit", f"limit must be between 1 and {deps.limits.max_snapshot_limit}", channel))
        return
    limit = snap_limit(request.limit)  # one shared text per size, whatever the client asked
    follow(conn, source, channel, request.since, limit, deps)


def follow(conn: Connection, source: Source, channel: str, since: int | None, limit: int | None, deps: SocketDeps) -> None:
    """Join `channel` and queue its first messages: those after `since` when they are still
    held, else the snapshot (`limit`: a snapped size), then the viewer count. /ws and /sse."""
    # Join before reading the snapshot: both happen without an await in between, so
    # nothing published can fall between the snapshot and the first delta.
    deps.hub.join(conn, channel)
    missed = source.replay(channel, since) if since is not None else None
    if missed is not None:
        for text in missed:
            conn.push(text)
    else:
        conn.push(source.snapshot(channel, limit))
    if deps.presence is not None:
        conn.push(deps.presence.text(channel))  # the count now, not at the next presence tick
