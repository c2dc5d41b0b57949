"""The server's side of a viewer's TCP connection: uvicorn's websocket protocol, made to cost
less per idle viewer and never to linger once closed (`ws=` in uvicorn's config, server/serve.py).

What an idle viewer costs is the product's ceiling at 10,000 viewers a process
(docs/performance.md): uvicorn's protocol keeps an `asyncio.Queue` (three deques and an
`Event`) for messages the app has not read yet and an `asyncio.Event` for "the transport takes
data", ~3.8 KB of the ~18 KB an idle viewer held. A viewer sends a few pings a minute and is
almost never paused, so `Inbox` and `Gate` below keep the same contract with nothing allocated
until a message waits or a writer must. They are ours because no library offers an
allocation-free queue or event; what they do is the part of asyncio's that uvicorn uses.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.http11 import Request
from websockets.protocol import State as WsState

from server.realtime.frames import PREPARED_EXTENSION

ABORT_AFTER = 5.0  # seconds a closed connection may take to flush its last bytes before it is cut


class Inbox:
    """What uvicorn's protocol needs of its receive queue (`put_nowait`, `get`, `empty`) for one
    reader, the app: messages in arrival order, unbounded (uvicorn pauses reading itself while
    one waits). Holds no container while empty and a future only while the reader waits;
    `asyncio.Queue` holds ~3 KB of deques and an `Event` for the connection's life.

    A `get` that is cancelled (the app's idle timeout) loses no message."""

    __slots__ = ("_items", "_waiter", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._items: list[ASGIReceiveEvent] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._loop = loop

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        if self._items is None:
            self._items = [item]
        else:
            self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> ASGIReceiveEvent:
        while not self._items:
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        items = self._items
        item = items.pop(0)
        if not items:
            self._items = None
        return item

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0


class Gate:
    """What uvicorn's protocol needs of its `writable` event (`set`, `clear`, `is_set`, `wait`):
    open while the transport takes data, shut between `pause_writing` and `resume_writing`.
    Holds a list of waiters only while a writer waits on a shut gate; `asyncio.Event` holds a
    deque (~760 bytes) for the connection's life. As with `Event`, `wait` returns True once
    the gate has opened after it began waiting, even if it shut again since."""

    __slots__ = ("_open", "_waiters", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None
        self._loop = loop

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> bool:
        if self._open:
            return True
        waiter = self._loop.create_future()
        if self._waiters is None:
            self._waiters = [waiter]
        else:
            self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
        return True


class GoatedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websocket protocol (`ws=` in its config), except that:
    - a connection it closes is gone within ABORT_AFTER seconds even when the peer has stopped
      reading. asyncio's `transport.close()` waits until the write buffer has drained, and
      against a peer that never reads it never does: the TCP connection, and the frames
      buffered for it, would outlive the app's handler (whose per-address count is already
      given back), the protocol's ping timeout would not drop it, and an address could pile
      up such connections one batch after another;
    - it offers the app to write prepared frames (server/realtime/frames.py) straight to the
      transport, under the scope extension PREPARED_EXTENSION;
    - an idle connection holds no queue, event or handshake it no longer needs (`Inbox`,
      `Gate`; the handshake's request and response are dropped once the connection is
      accepted, and the endpoint empties the scope's headers once read, realtime/socket.py).
    """

    def __init__(
        self, config: Config, server_state: ServerState, app_state: dict[str, Any], _loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.queue = Inbox(self.loop)  # type: ignore[assignment]
        self.writable = Gate(self.loop)  # type: ignore[assignment]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._direct: asyncio.Transport = self.transport  # the prepared-frame path writes here, without the wrapper's lookups
        self.transport = _AbortingTransport(self.transport, self.loop)  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        self.scope["extensions"][PREPARED_EXTENSION] = self.write_prepared  # type: ignore[index]

    async def send(self, message: ASGISendEvent) -> None:  # type: ignore[override]
        await super().send(message)
        if self.handshake_complete and self.response is not None:
            # uvicorn keeps the handshake's request and response (their headers) for the
            # connection's life, ~2 KB an idle viewer, and never reads them again.
            self.request = self.response = None  # type: ignore[assignment]

    def write_prepared(self, frame: bytes) -> bool:
        """Write an already framed message now, if the connection is open, takes data without
        waiting and negotiated no extension (a compressed connection frames its own). False:
        the caller sends it the ASGI way, which waits for the transport."""
        if (
            self.handshake_complete
            and not self.close_sent
            and self.initial_response is None
            and self.writable.is_set()
            and self.conn.state is WsState.OPEN
            and not self.conn.extensions
            and not self._direct.is_closing()
        ):
            self._direct.write(frame)
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport.disarm()  # type: ignore[attr-defined]
        super().connection_lost(exc)


class _AbortingTransport:
    """A transport whose `close()` becomes `abort()` when the peer has not taken the
    buffered bytes within ABORT_AFTER seconds."""

    __slots__ = ("_transport", "_loop", "_timer", "_lost")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None
        self._lost = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)

    def close(self) -> None:
        self._transport.close()
        if self._timer is None and not self._lost:
            self._timer = self._loop.call_later(ABORT_AFTER, self._transport.abort)

    def disarm(self) -> None:
        """The connection is gone: nothing left to abort."""
        self._lost = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
