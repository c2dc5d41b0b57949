"""Every event that travels between replicas on the channels backend, as one tagged union:
the relay decodes with it. App-level, since it names every feature's events."""

from __future__ import annotations

import msgspec

from server.leaderboard.messages import BoardsSynced
from server.races.messages import RaceChanged, RaceEnded, RaceStandingsUpdated, RaceStatusChanged
from server.realtime.messages import ChannelsGap, SyncRequested

__all__ = ["Event", "event_decoder"]

Event = BoardsSynced | RaceChanged | RaceStatusChanged | RaceStandingsUpdated | RaceEnded | SyncRequested | ChannelsGap

event_decoder = msgspec.json.Decoder(Event)
