"""Channel names a client may subscribe to, and where their snapshots come from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from server.errors import BadRequest
from server.leaderboard.board import Period
from server.leaderboard.live import LiveBoards


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
        entry = self._kinds.get(kind)
        if not sep or entry is None:
            raise BadRequest(f"unknown channel {channel!r}; try leaderboard:<period>")
        source, is_valid = entry
        if not is_valid(name):
            raise BadRequest(f"unknown channel {channel!r}")
        return source


def is_period(name: str) -> bool:
    return name in Period._value2member_map_
