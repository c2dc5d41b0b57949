"""Race posts (started, 1 hour left, 10 minutes left, ended) and admin DMs about the upstream
token, written to the outbox under dedupe keys.

Every process runs one and may write the same post: the key makes it one row. What is due
is worked out from the races' state, not from single events, so a post missed while a
process was down (or an event lost between processes) is written on the next look, as long
as it is still news. Each post carries the instant it stops being news (`expires_at`, the
end of the window it is written in): one that could not go out by then (the channel waited
out a FloodWait) is dropped, never sent late.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from server.wakeup import Wakeup
from server.db.engine import DB_ERRORS
from server.leaderboard.sync import UpstreamHealth
from server.races.model import Race, RaceStatus
from server.races.service import RaceService
from server.races.standings import Standing
from server.telegram.formatting import race_ended, race_started, race_time_left
from server.telegram.outbox import CHANNEL, Outbox, Outgoing
from server.upstream.token import TokenKeeper

log = logging.getLogger(__name__)

RECHECK = 30.0  # seconds between looks when nothing is due sooner
STARTED_NEWS = timedelta(hours=1)  # a start older than this is not announced any more
ENDED_NEWS = timedelta(hours=6)
HOUR, TEN_MIN = timedelta(hours=1), timedelta(minutes=10)


def race_posts(race: Race, standings: Sequence[Standing], now: datetime) -> list[Outgoing]:
    """The channel posts `race` calls for at `now` (pure). Each has a key that is the same
    wherever and however often this runs; a race whose end moves gets new countdown posts.
    Each expires when its window closes: a start is news for an hour (and not after the
    end), "1 hour left" until the 10-minute mark, "10 minutes left" until the end, the
    result for 6 hours."""
    out: list[Outgoing] = []
    end = int(race.ends_at.timestamp())
    length = race.ends_at - race.starts_at
    if race.status is RaceStatus.LIVE:
        left = race.ends_at - now
        if now - race.starts_at <= STARTED_NEWS and left > timedelta(0):
            until = min(race.starts_at + STARTED_NEWS, race.ends_at)
            out.append(Outgoing(CHANNEL, "race_started", race_started(race), f"race:{race.id}:started", until))
        if TEN_MIN < left <= HOUR and length >= 2 * HOUR:
            text = race_time_left(race, "1 hour", standings)
            out.append(Outgoing(CHANNEL, "race_1h", text, f"race:{race.id}:1h:{end}", race.ends_at - TEN_MIN))
        if timedelta(0) < left <= TEN_MIN and length >= 3 * TEN_MIN:
            text = race_time_left(race, "10 minutes", standings)
            out.append(Outgoing(CHANNEL, "race_10m", text, f"race:{race.id}:10m:{end}", race.ends_at))
    elif race.status is RaceStatus.ENDED and race.finalized is not None:
        settled = race.finalized_at or race.ends_at
        if now - settled <= ENDED_NEWS:
            out.append(Outgoing(CHANNEL, "race_ended", race_ended(race, race.winners), f"race:{race.id}:ended", settled + ENDED_NEWS))
    return out


def next_post_at(races: Sequence[Race], now: datetime) -> datetime | None:
    """When a countdown post falls due next (starts and ends come with events)."""
    moments = [
        moment
        for race in races
        if race.status is RaceStatus.LIVE
        for moment in (race.ends_at - HOUR, race.ends_at - TEN_MIN)
        if moment > now
    ]
    return min(moments, default=None)


def token_alerts(token: TokenKeeper, upstream: UpstreamHealth, admins: Sequence[int], now: datetime) -> list[Outgoing]:
    """One DM per admin when the upstream token is about to expire, expired, or was refused;
    keyed by the token's expiry (or its hash), so each token alerts once."""
    refused = upstream.last_error_kind == "auth"
    warning = token.warning(now)
    if not admins or not (refused or warning):
        return []
    if token.expires_at is not None:
        which = f"exp{int(token.expires_at.timestamp())}"
    else:
        which = hashlib.sha256((token.token or "").encode()).hexdigest()[:16]
    reason = warning or "the upstream refused the token (401/403): it expired or was revoked"
    text = (
        "⚠️ <b>Goated upstream token</b>\n"
        f"{reason}.\n"
        "Set a new one in the admin page, with PUT /api/admin/upstream-token, or GOATED_TOKEN and a restart."
    )
    return [Outgoing(str(admin), "admin", text, f"token:{which}:{admin}") for admin in admins]


class Announcer:
    def __init__(
        self,
        outbox: Outbox,
        races: RaceService | None,
        clock: Callable[[], datetime],
        *,
        channel: bool,
        admins: Sequence[int],
        token: TokenKeeper | None,
        upstream: UpstreamHealth | None,
        watch_token: Callable[[], bool] = lambda: True,
    ) -> None:
        self._outbox = outbox
        self._races = races
        self._clock = clock
        self._channel = channel
        self._admins = tuple(admins)
        self._token = token  # None: demo mode, no token
        self._upstream = upstream
        self._watch_token = watch_token  # False where this process does not sync (its view may be stale)
        self._wake = Wakeup()
        self._written: set[str] = set()  # keys this process already wrote (or found written)
        self.on_written: Callable[[], None] = lambda: None
        self.last_error: str | None = None

    def wake(self, *_: object) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.step()
                self.last_error = None
            except DB_ERRORS as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("telegram announcer: database unavailable (%s); retrying", self.last_error)
            await self._wake.wait(self._delay())

    async def step(self) -> int:
        now = self._clock()
        due: list[Outgoing] = []
        if self._channel and self._races is not None:
            for race in self._races.live.races():
                view = self._races.live.view(race.id)
                due.extend(race_posts(race, view.standings if view else (), now))
        if self._token is not None and self._upstream is not None and self._watch_token():
            due.extend(token_alerts(self._token, self._upstream, self._admins, now))
        fresh = [m for m in due if m.dedupe_key not in self._written]
        if not fresh:
            return 0
        written = await self._outbox.add(fresh, now)
        self._written.update(m.dedupe_key for m in fresh if m.dedupe_key)
        if written:
            log.info("telegram: %d announcement(s) queued (%s)", written, ", ".join(m.kind for m in fresh))
            self.on_written()
        return written

    def _delay(self) -> float:
        now = self._clock()
        delay = RECHECK
        if self._races is not None:
            at = next_post_at(self._races.live.races(), now)
            if at is not None:
                delay = min(delay, (at - now).total_seconds() + 0.5)
        return max(delay, 0.5)
