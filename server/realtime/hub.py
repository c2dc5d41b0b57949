"""Local fan-out: each process's websocket connections and the channels they follow."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from litestar.exceptions import WebSocketDisconnect

log = logging.getLogger(__name__)

# Close codes (RFC 6455 and the 4000-4999 private range); docs/protocol.md lists them.
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
CLOSE_SLOW_CONSUMER = 4008
CLOSE_IDLE = 4000


class Connection:
    """One websocket and its outgoing queue.

    A push to an idle connection starts sending at once, in the caller's turn of the event
    loop (an eagerly started task), and only a socket that cannot take more data right now
    leaves a task waiting on it; the queue behind it is bounded, so a slow client never
    delays the broadcast or anyone else, and one that falls too far behind is cut off.
    """

    __slots__ = (
        "_send", "_close", "_queue", "_drainer", "_max_backlog",
        "channels", "closed", "close_code", "close_reason", "peer",
    )

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        *,
        max_backlog: int,
        peer: str = "",
    ) -> None:
        self._send = send
        self._close = close
        self._queue: deque[str] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self._max_backlog = max_backlog
        self.channels: set[str] = set()
        self.closed = False
        self.close_code = CLOSE_GOING_AWAY
        self.close_reason = ""
        self.peer = peer

    def push(self, text: str) -> bool:
        """Queue a message; False (and the connection is cut) if the client fell too far behind."""
        if self.closed:
            return False
        if len(self._queue) >= self._max_backlog:
            self.shut(CLOSE_SLOW_CONSUMER, "too slow: messages were piling up")
            return False
        self._queue.append(text)
        if self._drainer is None:
            self._start_drain()
        return True

    def shut(self, code: int, reason: str) -> None:
        """Drop what is queued and close the socket with `code`."""
        if self.closed:
            return
        self.closed = True
        self.close_code, self.close_reason = code, reason
        self._queue.clear()
        if self._drainer is None:
            self._start_drain()

    def _start_drain(self) -> None:
        # An eager task runs right here until the socket would block; most of the time it
        # finishes before the constructor returns, and then no task is left behind.
        task = asyncio.Task(self._drain(), loop=asyncio.get_running_loop(), eager_start=True)
        if not task.done():
            self._drainer = task

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._send(self._queue.popleft())
            if self.closed:
                await self._close(self.close_code, self.close_reason)
        except (WebSocketDisconnect, OSError, RuntimeError):
            # The peer is gone: nothing more can reach it; its handler cleans up.
            self.closed = True
            self._queue.clear()
        finally:
            self._drainer = None

    async def finish(self, grace: float) -> None:
        """Give a pending close frame `grace` seconds to leave, then stop writing."""
        drainer = self._drainer
        if drainer is None:
            return
        if self.closed:
            try:
                await asyncio.wait_for(asyncio.shield(drainer), grace)
                return
            except TimeoutError:
                pass
        drainer.cancel()
        try:
            await drainer
        except asyncio.CancelledError:
            pass


class Hub:
    """Channel name -> connections; `broadcast` hands one encoded text to each."""

    def __init__(self) -> None:
        self._channels: dict[str, set[Connection]] = {}
        self.connections: set[Connection] = set()
        self.delivered = 0
        self.bytes_queued = 0  # bytes of messages queued to viewers (for /metrics)
        self.dropped = 0  # messages not queued because the viewer was cut off
        self.slow_consumers_cut = 0

    def attach(self, conn: Connection) -> None:
        self.connections.add(conn)

    def detach(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if conn.closed and conn.close_code == CLOSE_SLOW_CONSUMER:
            self.slow_consumers_cut += 1
        for channel in conn.channels:
            members = self._channels.get(channel)
            if members is not None:
                members.discard(conn)
                if not members:
                    del self._channels[channel]
        conn.channels.clear()

    def join(self, conn: Connection, channel: str) -> None:
        conn.channels.add(channel)
        self._channels.setdefault(channel, set()).add(conn)

    def leave(self, conn: Connection, channel: str) -> None:
        conn.channels.discard(channel)
        members = self._channels.get(channel)
        if members is not None:
            members.discard(conn)
            if not members:
                del self._channels[channel]

    def subscribers(self, channel: str) -> int:
        return len(self._channels.get(channel, ()))

    def channel_counts(self) -> dict[str, int]:
        return {name: len(members) for name, members in self._channels.items()}

    def broadcast(self, channel: str, text: str) -> int:
        members = self._channels.get(channel)
        if not members:
            return 0
        sent = 0
        for conn in tuple(members):
            if conn.push(text):
                sent += 1
            else:
                self.dropped += 1
        self.delivered += sent
        self.bytes_queued += sent * (len(text) if text.isascii() else len(text.encode()))
        return sent

    def close_all(self, code: int, reason: str) -> None:
        for conn in tuple(self.connections):
            conn.shut(code, reason)
