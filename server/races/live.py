"""The races this process serves: state kept current by race events, encoded channel messages
for `race:current` and `race:{id}`, snapshots, replay, and the once-a-second ticks."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from server.races.countdown import pick_current, seconds_left
from server.races.messages import (
    RaceChanged,
    RaceEnded,
    RaceEndedMsg,
    RaceInfo,
    RaceMsg,
    RaceStandingsUpdated,
    RaceStatusChanged,
    StandingsMsg,
    StatusMsg,
    TickMsg,
)
from server.races.model import Race
from server.races.standings import Standing
from server.realtime.hub import Hub

TOP = 50  # standings rows sent to viewers (the API pages through the rest)
REPLAY_DEPTH = 32  # messages kept per channel so a reconnecting viewer can resume
KEEP_FINISHED = 20  # ended or cancelled races that keep a race:{id} channel
CURRENT = "race:current"

_encode = msgspec.json.Encoder().encode


def _text(msg: msgspec.Struct) -> str:
    return _encode(msg).decode()


@dataclass(slots=True)
class RaceView:
    race: Race
    standings: tuple[Standing, ...] = ()
    synced_at: datetime | None = None
    replay: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=REPLAY_DEPTH))


class LiveRaces:
    """Per-process race state. Every process applies the same events (its own and, through
    the channels backend, everyone else's) and sends its own viewers the messages.

    `race:{id}`'s seq is the race's stored `version`, the same on every process. The content
    of `race:current` switches between races, so its seq is this process's own counter; a
    viewer moving to another process gets a `race` message, which resets seq.
    """

    def __init__(self, hub: Hub, clock: Callable[[], datetime], on_change: Callable[[], None] = lambda: None) -> None:
        self._hub = hub
        self._clock = clock
        self._on_change = on_change
        self._views: dict[int, RaceView] = {}
        self._current: int | None = None
        self._current_seq = 0
        self._current_replay: deque[tuple[int, str]] = deque(maxlen=REPLAY_DEPTH)
        # Snapshots encoded this clock second, by (channel, seq, limit): a burst of
        # subscribes shares one text instead of building one each.
        self._snapshots: dict[tuple[str, int, int | None], str] = {}
        self._snapshots_second = -1
        self.ticks_sent = 0

    # ---- state -----------------------------------------------------------------------

    def load(self, races: Iterable[Race], standings: Mapping[int, tuple[Standing, ...]]) -> None:
        """Start from the database (start-up)."""
        self._views = {}
        self._snapshots.clear()
        for race in races:
            view = RaceView(race, standings.get(race.id, ()), race.standings_at)
            self._views[race.id] = view
        self._trim()
        current = pick_current((v.race for v in self._views.values()), self._clock())
        self._current = current.id if current else None

    def reload(self, races: Iterable[Race], standings: Mapping[int, tuple[Standing, ...]]) -> None:
        """Start again from the database after a gap (events may have been missed): every
        race channel's viewers get a fresh `race` message, which resets their seq."""
        self.load(races, standings)
        for view in self._views.values():
            channel = f"race:{view.race.id}"
            if self._hub.subscribers(channel):
                self._hub.broadcast(channel, self._race_text(view, channel, view.race.version, None))
        self._current_seq += 1
        text = self._current_race_text(self._current_seq, None)
        self._current_replay.clear()
        self._current_replay.append((self._current_seq, text))
        self._hub.broadcast(CURRENT, text)
        self._on_change()

    def races(self) -> list[Race]:
        return [v.race for v in self._views.values()]

    def view(self, race_id: int) -> RaceView | None:
        return self._views.get(race_id)

    def current(self) -> RaceView | None:
        return self._views.get(self._current) if self._current is not None else None

    def is_channel(self, name: str) -> bool:
        """`race:current`, or `race:{id}` of a race this process holds."""
        return name == "current" or (name.isdigit() and int(name) in self._views)

    # ---- events (registered with the relay: called for local and remote ones) ----------

    def on_changed(self, event: RaceChanged) -> None:
        view = self._accept(event.race)
        if view is None:
            return
        self._send(view, lambda ch, seq: RaceMsg(
            channel=ch, seq=seq, server_now=self._clock(), race=RaceInfo.of(view.race),
            standings=view.standings, seconds_left=seconds_left(view.race, self._clock()),
        ))
        self._after_change()

    def on_status(self, event: RaceStatusChanged) -> None:
        view = self._accept(event.race)
        if view is None:
            return
        self._send(view, lambda ch, seq: StatusMsg(
            channel=ch, seq=seq, race_id=view.race.id, status=view.race.status, previous=event.previous, at=event.at,
        ))
        self._after_change()

    def on_standings(self, event: RaceStandingsUpdated) -> None:
        view = self._accept(event.race)
        if view is None:
            return
        view.standings, view.synced_at = event.standings, event.synced_at
        self._send(view, lambda ch, seq: StandingsMsg(
            channel=ch, seq=seq, race_id=view.race.id, synced_at=event.synced_at, standings=event.standings,
        ))

    def on_ended(self, event: RaceEnded) -> None:
        view = self._accept(event.race)
        if view is None:
            return
        race = view.race
        view.standings = event.standings
        self._send(view, lambda ch, seq: RaceEndedMsg(
            channel=ch, seq=seq, race_id=race.id, winners=race.winners, finalized=race.finalized,  # type: ignore[arg-type]
            final_sha256=race.final_sha256,
        ))
        self._after_change()

    def _accept(self, race: Race) -> RaceView | None:
        """The view to update, or None when this version was applied already (our own event
        echoed back by the backend, or an older one arriving late)."""
        view = self._views.get(race.id)
        if view is None:
            view = self._views[race.id] = RaceView(race)
            return view
        if race.version <= view.race.version:
            return None
        view.race = race
        return view

    def _after_change(self) -> None:
        self._trim()
        self.refresh_current(self._clock())
        self._on_change()

    def refresh_current(self, now: datetime) -> bool:
        """Switch `race:current` if another race should be shown now (after an event, and
        every second for the end of a finished race's linger); True when it switched."""
        current = pick_current((v.race for v in self._views.values()), now)
        current_id = current.id if current else None
        if current_id == self._current:
            return False
        self._current = current_id
        self._current_seq += 1
        text = self._current_race_text(self._current_seq, None)
        self._current_replay.append((self._current_seq, text))
        self._hub.broadcast(CURRENT, text)
        return True

    def _trim(self) -> None:
        finished = sorted(
            (v.race for v in self._views.values() if v.race.status.final),
            key=lambda r: r.ends_at,
            reverse=True,
        )
        for race in finished[KEEP_FINISHED:]:
            del self._views[race.id]

    def _send(self, view: RaceView, build: Callable[[str, int], msgspec.Struct], seq: int | None = None) -> None:
        """Encode once per channel and hand the text to that channel's viewers."""
        channel = f"race:{view.race.id}"
        seq = view.race.version if seq is None else seq
        text = _text(build(channel, seq))
        view.replay.append((seq, text))
        self._hub.broadcast(channel, text)
        if self._current == view.race.id:
            self._current_seq += 1
            text = _text(build(CURRENT, self._current_seq))
            self._current_replay.append((self._current_seq, text))
            self._hub.broadcast(CURRENT, text)

    # ---- the Source interface (server.realtime.sources) --------------------------------

    def snapshot(self, channel: str, limit: int | None) -> str:
        """A new viewer's first `race` message. Encoded once per channel, seq, size and
        second of the clock: `server_now` and `seconds_left` are those of the second's first
        request (a viewer's clock takes the freshest `server_now` it sees, and ticks follow)."""
        if limit is not None and limit >= TOP:
            limit = None  # the standings hold TOP rows at most: one text for every larger size
        now = self._clock()
        second = int(now.timestamp())
        if second != self._snapshots_second:
            self._snapshots.clear()
            self._snapshots_second = second
        if channel == CURRENT:
            seq = self._current_seq
            key = (channel, seq, limit)
            text = self._snapshots.get(key)
            if text is None:
                text = self._snapshots[key] = self._current_race_text(seq, limit, now)
            return text
        view = self._views[int(channel.partition(":")[2])]
        key = (channel, view.race.version, limit)
        text = self._snapshots.get(key)
        if text is None:
            text = self._snapshots[key] = self._race_text(view, channel, view.race.version, limit, now)
        return text

    def replay(self, channel: str, since: int) -> list[str] | None:
        if channel == CURRENT:
            seq, held = self._current_seq, self._current_replay
        else:
            view = self._views[int(channel.partition(":")[2])]
            seq, held = view.race.version, view.replay
        if since == seq:
            return []
        if since > seq:
            return None
        missing = [text for s, text in held if s > since]
        return missing if len(missing) == seq - since else None

    def _current_race_text(self, seq: int, limit: int | None, now: datetime | None = None) -> str:
        view = self.current()
        if view is None:
            return _text(RaceMsg(channel=CURRENT, seq=seq, server_now=now or self._clock(), race=None))
        return self._race_text(view, CURRENT, seq, limit, now)

    def _race_text(self, view: RaceView, channel: str, seq: int, limit: int | None, now: datetime | None = None) -> str:
        now = now or self._clock()
        rows = view.standings if limit is None else view.standings[:limit]
        return _text(RaceMsg(
            channel=channel, seq=seq, server_now=now, race=RaceInfo.of(view.race),
            standings=rows, seconds_left=seconds_left(view.race, now),
        ))

    # ---- ticks -------------------------------------------------------------------------

    def tick(self, now: datetime) -> int:
        """One tick for every running race channel that has viewers on this process:
        encoded once per channel, whatever the number of viewers. Returns channels ticked."""
        self.refresh_current(now)
        ticked = 0
        hub = self._hub
        for view in self._views.values():
            race = view.race
            if race.status.final:
                continue
            channel = f"race:{race.id}"
            if hub.subscribers(channel):
                hub.broadcast(channel, self._tick_text(channel, race.version, race, now))
                ticked += 1
        current = self.current()
        if current is not None and not current.race.status.final and self._hub.subscribers(CURRENT):
            hub.broadcast(CURRENT, self._tick_text(CURRENT, self._current_seq, current.race, now))
            ticked += 1
        self.ticks_sent += ticked
        return ticked

    @staticmethod
    def _tick_text(channel: str, seq: int, race: Race, now: datetime) -> str:
        return _text(TickMsg(
            channel=channel, seq=seq, race_id=race.id, server_now=now, status=race.status,
            seconds_left=seconds_left(race, now),
        ))
