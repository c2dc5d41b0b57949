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

DEFAULT_MAX_QUEUED_BYTES = 2 * 1024 * 1024  # WS_MAX_QUEUED_BYTES


def utf8_size(text: str) -> int:
    """Bytes `text` takes on the wire (`isascii` is O(1) in CPython: no encoding for ASCII)."""
    return len(text) if text.isascii() else len(text.encode())


class Connection:
    """One websocket and its outgoing queue.

    A push to an idle connection starts sending at once, in the caller's turn of the event
    loop (an eagerly started task), and only a socket that cannot take more data right now
    leaves a task waiting on it; the queue behind it is bounded, so a slow client never
    delays the broadcast or anyone else, and one that falls too far behind is cut off.

    The queue is bounded twice: in messages (`max_backlog`) and in bytes (`max_bytes`, the
    UTF-8 size of the queued texts). A single message larger than `max_bytes` still goes
    when nothing else waits, so a big board's snapshot always reaches a client that reads.
    """

    __slots__ = (
        "_send", "_close", "_write_now", "_queue", "_drainer", "_max_backlog", "_max_bytes", "queued_bytes",
        "channels", "closed", "close_code", "close_reason", "peer",
    )

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        *,
        max_backlog: int,
        max_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
        peer: str = "",
        write_now: Callable[[str], bool] | None = None,
    ) -> None:
        self._send = send
        self._close = close
        # Writes a text at once when the transport can take it (True), without a task; the
        # websocket edge passes one that writes a prepared frame (server/realtime/frames.py).
        self._write_now = write_now
        # Made when a message must wait, dropped when the backlog is written: most viewers
        # take every message at once and never need one (an empty deque is ~600 bytes).
        self._queue: deque[tuple[str, int]] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._max_backlog = max_backlog
        self._max_bytes = max_bytes
        self.queued_bytes = 0
        self.channels: set[str] = set()
        self.closed = False
        self.close_code = CLOSE_GOING_AWAY
        self.close_reason = ""
        self.peer = peer

    def push(self, text: str, size: int | None = None) -> bool:
        """Queue a message (`size`: its UTF-8 length, when the caller knows it); False (and
        the connection is cut) if the client fell too far behind."""
        if self.closed:
            return False
        if self._drainer is None and not self._queue and self._write_now is not None and self._write_now(text):
            return True
        if size is None:
            size = utf8_size(text)
        if self._queue and (len(self._queue) >= self._max_backlog or self.queued_bytes + size > self._max_bytes):
            self.shut(CLOSE_SLOW_CONSUMER, "too slow: messages were piling up")
            return False
        if self._queue is None:
            self._queue = deque()
        self._queue.append((text, size))
        self.queued_bytes += size
        if self._drainer is None:
            self._start_drain()
        return True

    def shut(self, code: int, reason: str) -> None:
        """Drop what is queued and close the socket with `code`."""
        if self.closed:
            return
        self.closed = True
        self.close_code, self.close_reason = code, reason
        self._queue = None
        self.queued_bytes = 0
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
                text, size = self._queue.popleft()
                self.queued_bytes -= size
                await self._send(text)
            self._queue = None  # written out: the next message goes at once again
            if self.closed:
                await self._close(self.close_code, self.close_reason)
        except (WebSocketDisconnect, OSError, RuntimeError):
            # The peer is gone: nothing more can reach it; its handler cleans up.
            self.closed = True
            self._queue = None
            self.queued_bytes = 0
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
        size = utf8_size(text)
        sent = 0
        for conn in tuple(members):
            if conn.push(text, size):
                sent += 1
            else:
                self.dropped += 1
        self.delivered += sent
        self.bytes_queued += sent * size
        return sent

    def close_all(self, code: int, reason: str) -> None:
        for conn in tuple(self.connections):
            conn.shut(code, reason)
