"""Race messages: what the race channels send viewers, and the events between processes."""

from __future__ import annotations

from datetime import datetime

import msgspec

from server.races.model import Finalized, Race, RaceKind, RaceStatus, Winner
from server.races.standings import Standing

# ---- server -> viewers (the race:current and race:{id} channels) -----------------------


class RaceInfo(msgspec.Struct, kw_only=True):
    """A race as viewers see it (also the HTTP API's race object)."""

    id: int
    title: str
    kind: RaceKind
    status: RaceStatus
    starts_at: datetime
    ends_at: datetime
    pool_cents: int
    split: tuple[float, ...]
    prizes_cents: tuple[int, ...]
    min_wager: float
    description: str
    finalized: Finalized | None = None
    winners: tuple[Winner, ...] = ()  # the archived result, once the race is finalized
    final_sha256: str | None = None  # SHA-256 of the final standings (/api/races/{id}/final.json), once finalized

    @classmethod
    def of(cls, race: Race) -> RaceInfo:
        return cls(
            id=race.id,
            title=race.title,
            kind=race.kind,
            status=race.status,
            starts_at=race.starts_at,
            ends_at=race.ends_at,
            pool_cents=race.pool_cents,
            split=race.split,
            prizes_cents=race.prizes_cents,
            min_wager=race.min_wager,
            description=race.description,
            finalized=race.finalized,
            winners=race.winners,
            final_sha256=race.final_sha256,
        )


class RaceMsg(msgspec.Struct, tag_field="type", tag="race", kw_only=True):
    """The channel's whole state: sent on subscribe and whenever the race itself changes."""

    channel: str
    seq: int
    server_now: datetime
    race: RaceInfo | None
    standings: tuple[Standing, ...] = ()
    seconds_left: int | None = None


class TickMsg(msgspec.Struct, tag_field="type", tag="tick", kw_only=True):
    channel: str
    seq: int  # the channel's current seq: ticks do not advance it
    race_id: int
    server_now: datetime
    status: RaceStatus
    seconds_left: int


class StatusMsg(msgspec.Struct, tag_field="type", tag="status", kw_only=True):
    channel: str
    seq: int
    race_id: int
    status: RaceStatus
    previous: RaceStatus
    at: datetime


class StandingsMsg(msgspec.Struct, tag_field="type", tag="standings", kw_only=True):
    channel: str
    seq: int
    race_id: int
    synced_at: datetime | None
    standings: tuple[Standing, ...]


class RaceEndedMsg(msgspec.Struct, tag_field="type", tag="race_ended", kw_only=True):
    channel: str
    seq: int
    race_id: int
    winners: tuple[Winner, ...]
    finalized: Finalized
    final_sha256: str | None = None  # as in the race object


# ---- between processes (the channels backend's "events" channel) -----------------------
# Each carries the race row as stored after the change, so a process that missed an event
# still ends up with the right race; `race.version` orders them.


class RaceChanged(msgspec.Struct, tag_field="event", tag="race_changed", kw_only=True):
    """Created or edited (one `race` message)."""

    race: Race
    reason: str  # created | edited


class RaceStatusChanged(msgspec.Struct, tag_field="event", tag="race_status", kw_only=True):
    """Started, ended (at the end time) or cancelled (one `status` message)."""

    race: Race
    previous: RaceStatus
    at: datetime


class RaceStandingsUpdated(msgspec.Struct, tag_field="event", tag="race_standings", kw_only=True):
    """A sync moved the standings (one `standings` message)."""

    race: Race
    synced_at: datetime | None
    standings: tuple[Standing, ...]  # the top rows only


class RaceEnded(msgspec.Struct, tag_field="event", tag="race_ended", kw_only=True):
    """The result is archived, shortly after the end (one `race_ended` message)."""

    race: Race
    at: datetime
    standings: tuple[Standing, ...]  # final top rows, prizes included


RACE_EVENTS = (RaceChanged, RaceStatusChanged, RaceStandingsUpdated, RaceEnded)
