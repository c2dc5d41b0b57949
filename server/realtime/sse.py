"""`GET /sse`: one channel's messages as Server-Sent Events, for networks that block websockets."""

from __future__ import annotations

import asyncio
import random
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.datastructures import State
from litestar.exceptions import TooManyRequestsException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.access import client_address
from server.errors import ErrorBody
from server.realtime.frames import PerText
from server.realtime.hub import Connection
from server.realtime.socket import SocketDeps, follow
from server.realtime.sources import Source, snap_limit

__all__ = ["ABORT_EXTENSION", "HEARTBEAT", "NO_COMPRESSION", "WRITE_EXTENSION", "GoatedHttpProtocol", "sse_endpoint"]

HEARTBEAT = 15.0  # seconds between `: ping` comments: proxies close a response silent for 60 s or so
RETRY_MS = (1000, 5000)  # the reconnect delay a stream asks of the browser: random, so a replica's viewers do not all come back at once
RETRY_AFTER = 10  # seconds, on a 429
MAX_LIMIT = 10_000  # the largest `limit`, as on /ws (SocketLimits.max_snapshot_limit)
FINISH_GRACE = 1.0  # seconds the last bytes of a stream the server ends may take to leave
NO_COMPRESSION = "no_compression"  # a handler `opt` the app's CompressionConfig skips: one gzip state per viewer
# Scope extensions GoatedHttpProtocol offers a request: drop its connection now; write a body
# chunk (already framed for chunked encoding) now if the transport takes it without waiting.
ABORT_EXTENSION = "goated.abort"
WRITE_EXTENSION = "goated.write_chunk"

PING = ": ping\n\n"  # pushed as text, matched by identity
_PING_BYTES = PING.encode()
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _Seq(msgspec.Struct):
    seq: int | None = None


_seq_decoder = msgspec.json.Decoder(_Seq)


def event(text: str) -> bytes:
    """One message as an event: `id:` is its `seq` (a `presence` has none, and then the
    browser keeps the last id). A JSON text has no raw line break: one `data:` line holds it."""
    seq = _seq_decoder.decode(text).seq
    head = b"data: " if seq is None else b"id: %d\ndata: " % seq
    return head + text.encode() + b"\n\n"


def chunk(body: bytes) -> bytes:
    """`body` as one chunk of a chunked HTTP/1.1 response."""
    return b"%x\r\n%s\r\n" % (len(body), body)


_PING_CHUNK = chunk(_PING_BYTES)


class EventCache(PerText[tuple[bytes, bytes]]):
    """The events of the last few texts, as they go through the ASGI `send` and as written
    straight to the transport (a chunk): made once per broadcast, not once per viewer."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(_event_and_chunk)

    def event(self, text: str) -> bytes:
        return self.get(text)[0]

    def chunk(self, text: str) -> bytes:
        return self.get(text)[1]


def _event_and_chunk(text: str) -> tuple[bytes, bytes]:
    body = event(text)
    return body, chunk(body)


_events = EventCache()  # one per process, like the websocket's prepared frames


def last_event_id(raw: str | None) -> int | None:
    """The seq a reconnecting browser last saw; anything but an id we could have sent is ignored
    (the stream then starts with a snapshot)."""
    if raw is None:
        return None
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


class StreamConnection(Connection):
    """A viewer on an event stream: a hub `Connection` (same queue, byte budget and slow-consumer
    cut) whose close also wakes the stream's wait, which is on the client's disconnect."""

    __slots__ = ("waiting",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting: asyncio.Timeout | None = None

    def shut(self, code: int, reason: str) -> None:
        super().shut(code, reason)
        if self.waiting is not None:
            self.waiting.reschedule(-1.0)  # at once: the stream ends now, not at the next heartbeat


class EventStream(ASGIResponse):
    """The response: the viewer joins the hub, gets the snapshot (or the missed messages), then
    every message of the channel, until the client goes or the server ends it."""

    __slots__ = ("_deps", "_source", "_channel", "_since", "_limit", "_address")
    _should_set_content_length = False

    def __init__(self, deps: SocketDeps, source: Source, channel: str, since: int | None, limit: int | None, address: str) -> None:
        super().__init__(media_type="text/event-stream", headers=HEADERS)
        self._deps, self._source, self._channel = deps, source, channel
        self._since, self._limit, self._address = since, limit, address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        deps = self._deps
        try:
            await self.start_response(send)
            # First bytes at once (the browser's `open`), and how long to wait before reconnecting.
            await send({"type": "http.response.body", "body": b"retry: %d\n\n" % random.randint(*RETRY_MS), "more_body": True})
            await self._stream(scope, receive, send)
        finally:
            deps.per_address[self._address] -= 1
            if deps.per_address[self._address] <= 0:
                del deps.per_address[self._address]

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        deps, channel, frame = self._deps, self._channel, _events.event

        async def write(text: str) -> None:
            body = _PING_BYTES if text is PING else frame(text)
            await send({"type": "http.response.body", "body": body, "more_body": True})

        ended = False

        async def close(code: int, reason: str) -> None:
            nonlocal ended
            await send({"type": "http.response.body", "body": f": closed {code} {reason}\n\n".encode(), "more_body": False})
            ended = True

        # The server's protocol may offer to write straight to the connection (GoatedHttpProtocol):
        # then a push to a viewer that can take it costs no task and no ASGI message.
        write_chunk = scope.get("extensions", {}).get(WRITE_EXTENSION)
        write_now = None
        if write_chunk is not None:
            chunk_of = _events.chunk

            def write_now(text: str) -> bool:
                return write_chunk(_PING_CHUNK if text is PING else chunk_of(text))

        limits = deps.limits
        conn = StreamConnection(
            write, close, max_backlog=limits.send_backlog, max_bytes=limits.max_queued_bytes, peer=self._address, write_now=write_now
        )
        deps.hub.attach(conn)
        try:
            follow(conn, self._source, channel, self._since, self._limit, deps)  # as a /ws subscribe
            while not conn.closed:
                try:
                    async with asyncio.timeout(HEARTBEAT) as conn.waiting:
                        message = await receive()
                except TimeoutError:
                    conn.push(PING)
                    continue
                finally:
                    conn.waiting = None
                if message["type"] == "http.disconnect":
                    break
        finally:
            deps.hub.detach(conn)
            await conn.finish(grace=FINISH_GRACE)
            if conn.closed and not ended and (abort := scope.get("extensions", {}).get(ABORT_EXTENSION)) is not None:
                abort()  # the server ended the stream and its last bytes could not leave: the peer stopped reading
                await asyncio.sleep(0)  # the protocol hears of it before this returns (no "response not completed")


_DESCRIPTION = """\
The messages of one channel of `/ws` (docs/protocol.md), for networks and proxies that block
websockets: each is one event whose `data` is the same JSON text and whose `id` is its `seq`.
The first is the channel's `snapshot` (or `race`); with `Last-Event-ID` (sent by the browser
when it reconnects), the messages after that seq if the server still holds them, else a
snapshot. A `: ping` comment comes every 15 s. Per-address connections count together with
websockets (`WS_MAX_CONNECTIONS_PER_IP`); over it: 429 with `Retry-After`."""


@get(
    "/sse",
    summary="One channel's live messages as Server-Sent Events",
    description=_DESCRIPTION,
    tags=["live"],
    opt={NO_COMPRESSION: True},
    responses={
        200: ResponseSpec(str, media_type="text/event-stream", description="An endless event stream", generate_examples=False),
        429: ResponseSpec(ErrorBody, description="Too many connections from your address; retry after `Retry-After` seconds", generate_examples=False),
    },
)
async def sse_endpoint(
    request: Request[Any, Any, Any],
    state: State,
    channel: Annotated[str, QueryParameter(description="`leaderboard:<period>`, `race:current` or `race:<id>`")],
    limit: Annotated[int | None, QueryParameter(ge=1, le=MAX_LIMIT, description="snapshot rows, as `limit` on /ws")] = None,
    last_event: Annotated[str | None, HeaderParameter(name="last-event-id", description="resume after this seq")] = None,
) -> EventStream:
    deps: SocketDeps = state.socket_deps
    source = deps.router.resolve(channel)  # as /ws resolves it: BadRequest (400) for an unknown channel
    address = client_address(request, deps.proxies)
    if deps.per_address[address] >= deps.limits.max_per_address:
        deps.refused += 1
        raise TooManyRequestsException(
            f"too many connections from your address (max {deps.limits.max_per_address})", headers={"Retry-After": str(RETRY_AFTER)}
        )
    deps.per_address[address] += 1  # given back when the stream ends (EventStream.__call__)
    return EventStream(deps, source, channel, last_event_id(last_event), snap_limit(limit), address)


# ---- the server's side of the TCP connection (uvicorn) ------------------------------------


class GoatedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol (`http=` in its config), with three differences for event streams:

    - each request is offered a way to write a chunk of its streamed response now
      (`WRITE_EXTENSION`), as a broadcast does for every viewer that can take it;
    - and a way to drop its connection (`ABORT_EXTENSION`): a stream the server ended because
      its peer stopped reading cannot finish its response, and closing would wait on that peer
      forever;
    - when the server stops, a response still streaming (here only an event stream is) is
      ended: uvicorn would wait for it to finish, which a stream never does. `goated serve`
      ends them itself first (GoatedServer), with a last comment; this is for any other way of
      running the app (the tests).
    """

    def on_message_begin(self) -> None:
        super().on_message_begin()
        scope = self.scope
        self.scope["extensions"] = {  # type: ignore[typeddict-unknown-key]
            ABORT_EXTENSION: self._abort,
            WRITE_EXTENSION: lambda body: self._write_chunk(scope, body),
        }

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _write_chunk(self, scope: object, body: bytes) -> bool:
        """Write a chunk of `scope`'s response now, if that response is being streamed and the
        transport takes data without waiting. False: the caller sends it the ASGI way (which
        waits for the transport), as it does before the response starts and after it ends."""
        cycle = self.cycle
        if (
            cycle is None
            or cycle.scope is not scope
            or not cycle.response_started
            or cycle.response_complete
            or cycle.disconnected
            or not cycle.chunked_encoding
            or self.flow.write_paused
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(body)
        return True

    def shutdown(self) -> None:
        super().shutdown()
        cycle = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            self.transport.close()  # the stream's handler hears a disconnect and ends
