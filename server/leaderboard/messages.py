"""The leaderboard's wire messages: a channel's snapshot and delta (websocket), and the event
one sync sends every replica (channels backend)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from server.leaderboard.board import Change, Overtake, Period

__all__ = ["BoardRow", "BoardsSynced", "DeltaMsg", "SnapshotMsg", "encoder"]

encoder = msgspec.json.Encoder()


class BoardRow(msgspec.Struct, frozen=True):
    rank: int
    uid: str
    name: str
    amount: float
    prev: int | None = None  # rank at the previous sync; None if not on the board then
    lifetime: float | None = None  # all-time USD wagered: what the player's tier badge reads


class SnapshotMsg(msgspec.Struct, tag_field="type", tag="snapshot", kw_only=True):
    channel: str
    seq: int
    period: Period
    sync_id: int | None
    synced_at: datetime | None
    total: int
    rows: list[BoardRow]


class DeltaMsg(msgspec.Struct, tag_field="type", tag="delta", kw_only=True):
    channel: str
    seq: int
    period: Period
    sync_id: int | None
    synced_at: datetime
    total: int
    reset: bool = False
    changes: tuple[Change, ...] = ()
    left: tuple[str, ...] = ()
    overtakes: tuple[Overtake, ...] = ()
    shifted: int = 0
    # All-time USD of each changed row (not on the all-time board, whose amount is it): the
    # page draws tier badges from these, without following the whole all-time board.
    lifetimes: dict[str, float] = {}


class BoardsSynced(msgspec.Struct, tag_field="event", tag="boards_synced", kw_only=True):
    """One successful sync: the new board version and a delta per period."""

    seq: int
    sync_id: int | None
    synced_at: datetime
    deltas: list[DeltaMsg]
