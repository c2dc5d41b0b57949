"""Channel names a client may subscribe to, and where their snapshots come from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from server.errors import BadRequest
from server.leaderboard.board import Period
from server.leaderboard.live import LiveBoards

# Snapshot sizes a `limit` is rounded up to, so that every viewer asking for a given size
# shares one encoded text per version (a limit above the last one: the whole board).
SNAPSHOT_SIZES = (10, 25, 50, 100, 250, 1000)
MAX_CHANNEL = 64  # characters; the longest real name is `race:` and a 19-digit id
ECHO = 64  # characters of a client's value repeated back in an error


def snap_limit(limit: int | None) -> int | None:
    """The cached snapshot size that holds at least `limit` rows (None: the whole board)."""
    if limit is None:
        return None
    for size in SNAPSHOT_SIZES:
        if limit <= size:
            return size
    return None


def echo(value: str) -> str:
    """`value` bounded for an error message: what a client sent is never sent back whole."""
    return value if len(value) <= ECHO else value[:ECHO] + "…"


class Source(Protocol):
    def snapshot(self, channel: str, limit: int | None) -> str: ...

    def replay(self, channel: str, since: int) -> list[str] | None: ...


class LeaderboardSource:
    def __init__(self, live: LiveBoards) -> None:
        self._live = live

    def snapshot(self, channel: str, limit: int | None) -> str:
        return self._live.snapshot_text(_period(channel), channel, limit)

    def replay(self, channel: str, since: int) -> list[str] | None:
        return self._live.replay_since(_period(channel), since)


def _period(channel: str) -> Period:
    return Period(channel.partition(":")[2])


class ChannelRouter:
    """Resolves `kind:name` channel names to their source, refusing unknown ones."""

    def __init__(self) -> None:
        self._kinds: dict[str, tuple[Source, Callable[[str], bool]]] = {}

    def register(self, kind: str, source: Source, is_valid: Callable[[str], bool]) -> None:
        self._kinds[kind] = (source, is_valid)

    def resolve(self, channel: str) -> Source:
        kind, sep, name = channel.partition(":")
        entry = self._kinds.get(kind) if len(channel) <= MAX_CHANNEL and channel.isascii() else None
        if not sep or entry is None:
            raise BadRequest(f"unknown channel {echo(channel)!r}; try leaderboard:<period>, race:current or race:<id>")
        source, is_valid = entry
        if not is_valid(name):
            raise BadRequest(f"unknown channel {echo(channel)!r}")
        return source


def is_period(name: str) -> bool:
    return name in Period._value2member_map_
