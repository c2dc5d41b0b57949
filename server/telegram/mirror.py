"""The Telegram part of a sync: its channel digests and personal alerts, written to the outbox
inside the sync's own transaction (they exist exactly when the sync does)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

import msgspec

from server.leaderboard.board import Player
from server.leaderboard.sync import SyncOutcome
from server.leaderboard.messages import BoardsSynced, DeltaMsg
from server.races.model import Race
from server.races.service import RaceService
from server.races.standings import Standing
from server.settings import Settings
from server.telegram.alerts import moves
from server.telegram.formatting import Move, digest
from server.telegram.links import Links
from server.telegram.livetext import live_race
from server.telegram.outbox import CHANNEL, Outbox, Outgoing
from server.telegram.personal import Mark, Watcher, personal_dm, race_news

log = logging.getLogger(__name__)


class SyncMirror:
    """A sync step: the channel digests and personal alerts of each sync, as outbox rows."""

    def __init__(self, settings: Settings, outbox: Outbox, links: Links, races: RaceService | None = None) -> None:
        self._settings = settings
        self._outbox = outbox
        self._links = links
        self._races = races
        self._periods = set(settings.telegram_periods)
        self.errors = 0  # syncs whose posts could not be worded (shown in /health)

    async def write(self, outcome: SyncOutcome) -> list[msgspec.Struct]:
        """Outbox rows for this sync. The sender learns of them from the sync's own event."""
        watchers = await self._links.watchers()
        event = outcome.event
        race, standings = None, []
        if any(w.prefs.race for w in watchers):
            race, standings = await self._race(event.synced_at)
        marks: dict[int, Mark] = {}
        try:
            messages = self.digests(event, outcome.players)
            if watchers:
                messages.extend(self.alerts(outcome, watchers, race, standings, marks))
        except Exception:  # a bug in what we would post must never cost the sync itself
            self.errors += 1
            log.exception("telegram: could not word sync %d's posts; the sync goes on without them", event.seq)
            return []
        await self._outbox.add(messages, event.synced_at)
        await self._links.save_marks(marks, event.synced_at)
        return []

    async def _race(self, at: datetime) -> tuple[Race | None, list[Standing]]:
        """The current race as this sync left it: the live race ending soonest, with the
        standings the race step just wrote in this transaction. None while its standings did
        not move with this sync (the snapshot was kept out of it)."""
        if self._races is None:
            return None, []
        current = live_race(self._races.live.races(), at)
        race = await self._races.store.get(current.id) if current is not None else None
        if race is None or race.standings_at is None or abs((race.standings_at - at).total_seconds()) > 0.001:
            return None, []
        return race, await self._races.store.standings(race.id)

    def digests(self, event: BoardsSynced, players: Mapping[str, Player]) -> list[Outgoing]:
        if not self._settings.telegram_channel or event.seq <= 1:
            return []  # the first sync ever has no earlier board: everyone "entered"
        out = []
        for delta in event.deltas:
            if delta.period.value not in self._periods:
                continue
            text = digest(
                delta, _names(delta, players), top_n=self._settings.telegram_top_n, min_move=self._settings.telegram_min_move
            )
            if text is not None:
                out.append(Outgoing(CHANNEL, "digest", text, f"digest:{event.seq}:{delta.period.value}"))
        return out

    def alerts(
        self,
        outcome: SyncOutcome,
        watchers: Sequence[Watcher],
        race: Race | None,
        standings: Sequence[Standing],
        marks: dict[int, Mark],
    ) -> list[Outgoing]:
        """One DM per watching user with anything to hear in this sync: their board moves (all
        periods together; ranks before the sync come from the outcome's previous boards) and
        their race news. `marks` gets what this sync saw of each race watcher."""
        event, players = outcome.event, outcome.players
        watched = {w.uid for w in watchers if w.prefs.places}
        per_player: dict[str, list[Move]] = {}
        if watched:
            for delta in event.deltas:
                if delta.period.value not in self._periods:
                    continue
                for uid, move in moves(outcome.previous[delta.period], delta, watched, _names(delta, players)).items():
                    per_player.setdefault(uid, []).append(move)
        out = []
        for w in watchers:
            news = None
            if race is not None and w.prefs.race:
                news, marks[w.telegram_id] = race_news(race, standings, w.uid, w.prefs, w.mark)
            player = players.get(w.uid)
            # A DM goes to the linked player alone: their own name as the upstream has it.
            own = w.uid if player is None else player.real_name or player.name
            text = personal_dm(own, per_player.get(w.uid, []) if w.prefs.places else [], news)
            if text is not None:
                out.append(Outgoing(str(w.telegram_id), "alert", text, f"alert:{event.seq}:{w.telegram_id}"))
        return out


def _names(delta: DeltaMsg, players: Mapping[str, Player]) -> dict[str, str]:
    """Names of everyone an overtake mentions (overtakes carry uids only)."""
    out: dict[str, str] = {}
    for o in delta.overtakes:
        for uid in (o.uid, o.passed):
            player = players.get(uid)
            if player is not None:
                out[uid] = player.name
    return out

