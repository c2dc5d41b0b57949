"""Wire messages: what travels on the websocket and between processes (msgspec)."""

from __future__ import annotations

from datetime import datetime

import msgspec

# The leaderboard's own messages travel here too; re-exported for the socket and the tests.
from server.leaderboard.messages import BoardRow, BoardsSynced, DeltaMsg, SnapshotMsg, encoder

__all__ = [
    "EVENTS_CHANNEL", "BoardRow", "BoardsSynced", "ChannelsGap", "ClientMessage", "DeltaMsg", "ErrorMsg",
    "Ping", "PongMsg", "PresenceMsg", "SnapshotMsg", "Subscribe", "SyncRequested", "Unsubscribe", "UnsubscribedMsg",
    "client_decoder", "encoder",
]

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


class ErrorMsg(msgspec.Struct, tag_field="type", tag="error", kw_only=True):
    code: str
    message: str
    channel: str | None = None


class UnsubscribedMsg(msgspec.Struct, tag_field="type", tag="unsubscribed", kw_only=True):
    channel: str


class PongMsg(msgspec.Struct, tag_field="type", tag="pong", kw_only=True):
    server_now: datetime


class PresenceMsg(msgspec.Struct, tag_field="type", tag="presence", kw_only=True):
    """Viewers of a channel across every replica (server/realtime/presence.py); no `seq`: it
    is not part of the channel's sequence of states."""

    channel: str
    watching: int


# ---- between processes (channels backend) ------------------------------------------


class SyncRequested(msgspec.Struct, tag_field="event", tag="sync_requested", kw_only=True):
    """An admin asked a replica that is not the sync leader for a sync: the leader runs it."""

    trigger: str = "admin"


class ChannelsGap(msgspec.Struct, tag_field="event", tag="channels_gap", kw_only=True):
    """Never published: the channels backend hands it to this process alone after it lost its
    connection, since events may have been missed meanwhile (the relay then resyncs)."""


EVENTS_CHANNEL = "events"  # the channels backend's one channel between processes (server/events.py)

client_decoder = msgspec.json.Decoder(ClientMessage)

