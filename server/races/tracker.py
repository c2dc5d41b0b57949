"""Race standings after each sync: written in the sync's transaction, published after it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

import msgspec

from server.leaderboard.board import Player
from server.races.live import TOP
from server.races.messages import RaceStandingsUpdated
from server.races.model import Race, RaceKind
from server.races.standings import accept_snapshot, compute
from server.races.store import RaceStore
from server.leaderboard.sync import SyncOutcome

log = logging.getLogger(__name__)


class RaceTracker:
    """A sync step: each sync moves the standings of the races it belongs to.

    Standings and previous positions are read from and written to the database inside the
    sync's transaction, so they are right whichever process ran the sync before. The
    updates it returns are published by the sync once the transaction commits.
    """

    def __init__(self, store: RaceStore) -> None:
        self._store = store
        self._baselines: dict[int, dict[str, float]] = {}
        # Races ended by this process that wait for their final sync (set by the lifecycle).
        self.finalizing: set[int] = set()

    async def write(self, outcome: SyncOutcome) -> list[RaceStandingsUpdated]:
        at = outcome.event.synced_at
        return [await self._update(race, outcome.players, at) for race in await self._store.claim_live(at, self.finalizing)]

    async def _update(self, race: Race, players: Mapping[str, Player], at: datetime) -> RaceStandingsUpdated:
        previous = await self._store.standings(race.id)
        baseline = None
        if race.kind is RaceKind.CUSTOM:
            if race.baseline_at is None:
                # The first snapshot of a custom race is its baseline: growth starts at 0.
                baseline = await self._store.write_baseline(race.id, players.values(), at)
                race = msgspec.structs.replace(race, baseline_at=at)
                log.info("race %d: baseline of %d players taken", race.id, len(baseline))
            else:
                baseline = self._baselines.get(race.id)
                if baseline is None:
                    baseline = await self._store.baseline(race.id)
            self._baselines[race.id] = baseline
        standings = compute(race, players.values(), previous, baseline)
        if accept_snapshot(race, at, previous, standings):
            await self._store.write_standings(race.id, previous, standings, at)
            race = msgspec.structs.replace(race, standings_at=at)
        else:
            log.warning("race %d: the %s period rolled over upstream at the race's end; keeping its standings", race.id, race.kind.value)
            standings = tuple(previous)
        return RaceStandingsUpdated(race=race, synced_at=race.standings_at, standings=tuple(standings[:TOP]))

    def forget(self, race_id: int) -> None:
        self._baselines.pop(race_id, None)
