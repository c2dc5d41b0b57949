"""The sync listener: each sync's channel digests and personal alerts, written to the outbox
inside the sync's own transaction (they exist exactly when the sync does)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from server.leaderboard.board import Player
from server.leaderboard.live import LiveBoards
from server.realtime.messages import BoardsSynced, DeltaMsg
from server.settings import Settings
from server.telegram.alerts import moves
from server.telegram.formatting import Move, alert, digest
from server.telegram.links import Links
from server.telegram.outbox import CHANNEL, Outbox, Outgoing

log = logging.getLogger(__name__)


class SyncMirror:
    def __init__(self, settings: Settings, outbox: Outbox, links: Links, live: LiveBoards) -> None:
        self._settings = settings
        self._outbox = outbox
        self._links = links
        self._live = live
        self._periods = set(settings.telegram_periods)
        self._wrote = False
        self.errors = 0  # syncs whose posts could not be worded (shown in /health)
        self.on_written: Callable[[], None] = lambda: None  # wakes an in-process sender

    async def in_transaction(self, event: BoardsSynced, players: Mapping[str, Player]) -> None:
        watchers = await self._links.alert_watchers()
        try:
            messages = self.digests(event, players)
            if watchers:
                messages.extend(self.alerts(event, players, watchers))
        except Exception:  # a bug in what we would post must never cost the sync itself
            self.errors += 1
            log.exception("telegram: could not word sync %d's posts; the sync goes on without them", event.seq)
            return
        self._wrote = await self._outbox.add(messages, event.synced_at) > 0

    async def after_publish(self, event: BoardsSynced, players: Mapping[str, Player]) -> None:
        if self._wrote:
            self._wrote = False
            self.on_written()

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

    def alerts(self, event: BoardsSynced, players: Mapping[str, Player], watchers: Mapping[str, list[int]]) -> list[Outgoing]:
        """One DM per watching user whose player moved or was passed, all periods together.

        Ranks before the sync come from this process's live boards, which are one version
        behind while the sync's transaction runs; if they are not (a reload in between), the
        sync's alerts are skipped rather than guessed.
        """
        if self._live.seq != event.seq - 1:
            return []
        watched = set(watchers)
        per_player: dict[str, list[Move]] = {}
        for delta in event.deltas:
            if delta.period.value not in self._periods:
                continue
            for uid, move in moves(self._live.board(delta.period), delta, watched, _names(delta, players)).items():
                per_player.setdefault(uid, []).append(move)
        out = []
        for uid, player_moves in per_player.items():
            player = players.get(uid)
            text = alert(player.name if player else uid, player_moves)
            if text is None:
                continue
            for telegram_id in watchers[uid]:
                out.append(Outgoing(str(telegram_id), "alert", text, f"alert:{event.seq}:{telegram_id}"))
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

