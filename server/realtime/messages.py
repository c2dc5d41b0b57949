"""Wire messages: what travels on the websocket and between processes (msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from server.leaderboard.board import Change, Overtake, Period
from server.races.messages import RaceChanged, RaceEnded, RaceStandingsUpdated, RaceStatusChanged

# ---- client -> server -------------------------------------------------------------


class Subscribe(msgspec.Struct, tag_field="op", tag="subscribe", forbid_unknown_fields=True):
    channel: str
    since: int | None = None  # resume after this seq when the server still has it
    limit: int | None = None  # snapshot only the top N rows (overlays)


class Unsubscribe(msgspec.Struct, tag_field="op", tag="unsubscribe", forbid_unknown_fields=True):
    channel: str


class Ping(msgspec.Struct, tag_field="op", tag="ping", forbid_unknown_fields=True):
    pass


ClientMessage = Subscribe | Unsubscribe | Ping

# ---- server -> client -------------------------------------------------------------


class BoardRow(msgspec.Struct, frozen=True):
    rank: int
    uid: str
    name: str
    amount: float
    prev: int | None = None  # rank at the previous sync; None if not on the board then


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


class ErrorMsg(msgspec.Struct, tag_field="type", tag="error", kw_only=True):
    code: str
    message: str
    channel: str | None = None


class UnsubscribedMsg(msgspec.Struct, tag_field="type", tag="unsubscribed", kw_only=True):
    channel: str


class PongMsg(msgspec.Struct, tag_field="type", tag="pong", kw_only=True):
    server_now: datetime


# ---- between processes (channels backend) ------------------------------------------


class BoardsSynced(msgspec.Struct, tag_field="event", tag="boards_synced", kw_only=True):
    """One successful sync: the new board version and a delta per period."""

    seq: int
    sync_id: int | None
    synced_at: datetime
    deltas: list[DeltaMsg]


class SyncRequested(msgspec.Struct, tag_field="event", tag="sync_requested", kw_only=True):
    """An admin asked a replica that is not the sync leader for a sync: the leader runs it."""

    trigger: str = "admin"


Event = BoardsSynced | RaceChanged | RaceStatusChanged | RaceStandingsUpdated | RaceEnded | SyncRequested

EVENTS_CHANNEL = "events"

client_decoder = msgspec.json.Decoder(ClientMessage)
event_decoder = msgspec.json.Decoder(Event)
encoder = msgspec.json.Encoder()

ChannelKind = Literal["leaderboard", "race"]
