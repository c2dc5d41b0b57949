"""Local fan-out: each process's websocket connections and the channels they follow."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# Close codes (RFC 6455 and the 4000-4999 private range); docs/protocol.md lists them.
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
CLOSE_SLOW_CONSUMER = 4008
CLOSE_IDLE = 4000


class Connection:
    """One websocket: an outgoing queue drained by its own writer task, so a slow
    client never delays the broadcast loop or anyone else."""

    __slots__ = (
        "_send", "_close", "_queue", "_wake", "_max_backlog",
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
        self._wake = asyncio.Event()
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
        self._wake.set()
        return True

    def shut(self, code: int, reason: str) -> None:
        """Drop what is queued and have the writer close the socket with `code`."""
        if self.closed:
            return
        self.closed = True
        self.close_code, self.close_reason = code, reason
        self._queue.clear()
        self._wake.set()

    async def run_writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._send(self._queue.popleft())
            if self.closed:
                await self._close(self.close_code, self.close_reason)
                return


class Hub:
    """Channel name -> connections; `broadcast` hands one encoded text to each."""

    def __init__(self) -> None:
        self._channels: dict[str, set[Connection]] = {}
        self.connections: set[Connection] = set()
        self.delivered = 0
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
        return sent

    def close_all(self, code: int, reason: str) -> None:
        for conn in tuple(self.connections):
            conn.shut(code, reason)
