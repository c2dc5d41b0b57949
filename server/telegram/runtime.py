"""The Telegram feature in one process: what every process does (write digests, alerts and
race posts to the outbox), the bot where it runs, and what /health says about them."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from server.db.engine import DB_ERRORS
from server.db.tables import AppState
from server.leaderboard.live import LiveBoards
from server.leaderboard.store import BoardStore
from server.leaderboard.sync import SyncResult, SyncService
from server.races.service import RaceService
from server.realtime.relay import Relay
from server.status import HealthReport, Part
from server.supervisor import Supervisor
from server.upstream.token import TokenKeeper
from server.races.messages import RaceChanged, RaceEnded, RaceStandingsUpdated, RaceStatusChanged
from server.leaderboard.messages import BoardsSynced
from server.settings import Settings
from server.telegram.announcer import Announcer
from server.telegram.client import ClientFactory
from server.telegram.lease import USERNAME_KEY, Lease
from server.telegram.limits import Throttle
from server.telegram.links import Accounts, Links
from server.telegram.login import session_key
from server.telegram.mirror import SyncMirror
from server.telegram.outbox import Outbox

if TYPE_CHECKING:
    from server.telegram.bot import BotRunner
    from server.telegram.commands import BotDeps

class Services(Protocol):
    """What the feature is handed by the app (server/services.py's `Services`): the parts of
    this process it reads, writes through and starts its tasks under."""

    settings: Settings
    live: LiveBoards
    races: RaceService | None
    sync: SyncService
    store: BoardStore
    token: TokenKeeper
    relay: Relay
    supervisor: Supervisor
    redis: object | None

    @property
    def is_leader(self) -> bool: ...

    async def request_sync(self, trigger: str) -> SyncResult | None: ...

    async def health_report(self) -> HealthReport: ...

    async def resync(self) -> None: ...


log = logging.getLogger(__name__)

OFF = "off: set TELEGRAM_API_ID, TELEGRAM_API_HASH and TELEGRAM_BOT_TOKEN to turn the bot on"
STALE_BACKLOG = timedelta(minutes=10)  # a message waiting longer than this means sending is stuck
FOLLOW_EVERY = 10.0  # seconds between looks at the database for a bot process without Redis


class Telegram:
    """The feature's parts in this process (`enabled` False: all of it is off)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.outbox = Outbox()
        self.links = Links()
        self.accounts = Accounts()
        self.mirror: SyncMirror | None = None
        self.announcer: Announcer | None = None
        self.runner: BotRunner | None = None  # None: the bot does not run in this process
        self.session_key = session_key(settings.telegram_bot_token) if settings.telegram_bot_token else None

    @property
    def enabled(self) -> bool:
        return self.settings.telegram_enabled

    async def bot_username(self) -> str | None:
        """For the login widget: the running bot's, or the one it stored last."""
        if self.runner is not None and self.runner.username:
            return self.runner.username
        row = await AppState.select(AppState.value).where(AppState.key == USERNAME_KEY).first().run()
        return row["value"] if row else None

    async def health(self, now: datetime) -> Part:
        if not self.enabled:
            return Part(status="off", detail=OFF)
        info: dict[str, object] = {"channel": self.settings.telegram_channel or None, "admins": len(self.settings.telegram_admin_ids)}
        try:
            async with asyncio.timeout(2):
                stats = await self.outbox.stats()
        except (TimeoutError, *DB_ERRORS) as exc:
            return Part(status="degraded", detail=f"cannot read the outbox: {type(exc).__name__}: {exc}", info=info)
        age = (now - stats.oldest_at).total_seconds() if stats.oldest_at else 0.0
        info.update(
            backlog=stats.backlog,
            oldest_waiting_s=round(age, 1),
            failed_dms=stats.failed,
            last_sent_at=stats.last_sent_at,
            last_send_error=stats.last_error,
        )
        if self.mirror is not None and self.mirror.errors:
            info["unposted_syncs"] = self.mirror.errors
            return Part(status="degraded", detail=f"{self.mirror.errors} sync(s) could not be worded for Telegram: see the log", info=info)
        runner = self.runner
        if runner is None:
            info["bot"] = "not in this process (goated bot runs it)"
        else:
            info.update(bot=runner.state, username=runner.username, holder=runner.holder)
            sender = runner.sender
            if sender is not None:
                info.update(sent=sender.sent, last_error=sender.last_error, last_error_at=sender.last_error_at)
            live = runner.live
            if live is not None:
                info["live_message"] = {
                    "message_id": live.message_id, "edits": live.edits, "posts": live.posts, "unchanged": live.skipped,
                    "last_done_at": live.last_done_at, "last_error": live.last_error,
                }
            if runner.state == "error":
                return Part(status="degraded", detail=f"the bot is not connected ({runner.last_error}); retrying", info=info)
            if live is not None and live.failing:
                return Part(status="degraded", detail=f"the live message is not kept up to date: {live.last_error}", info=info)
            if sender is not None and sender.failing and stats.backlog:
                return Part(status="degraded", detail=f"{stats.backlog} message(s) waiting; last send failed: {sender.last_error}", info=info)
        if age > STALE_BACKLOG.total_seconds():
            return Part(
                status="degraded",
                detail=f"{stats.backlog} message(s) waiting, the oldest for {age / 60:.0f} min: is a bot running (goated bot, or serve with TELEGRAM_BOT_IN_SERVE)?",
                info=info,
            )
        return Part(status="ok", info=info)


def bot_deps(services: Services, telegram: Telegram, clock: Callable[[], datetime], throttle: Throttle | None = None) -> BotDeps:
    """What the commands get: this process's live boards, races and stores."""
    from server.telegram.commands import BotDeps

    return BotDeps(
        settings=services.settings,
        live=services.live,
        races=services.races,
        sync_now=services.request_sync,
        links=telegram.links,
        accounts=telegram.accounts,
        outbox=telegram.outbox,
        status=services.health_report,
        throttle=throttle or Throttle(),
        clock=clock,
    )


async def follow_database(services: Services, every: float = FOLLOW_EVERY) -> None:
    """Keep a bot process that neither syncs nor shares a channels backend (no REDIS_URL)
    current: reload the boards and races from the database when a newer sync is stored.
    With Redis the relay's events do this, and a process that leads syncs itself."""
    while True:
        await asyncio.sleep(every)
        if services.redis is not None or services.is_leader:
            continue
        try:
            last = await services.store.last_sync()
            if last is not None and last.seq > services.live.seq:
                await services.resync()
        except DB_ERRORS as exc:
            log.warning("telegram: could not follow the database (%s: %s)", type(exc).__name__, exc)


def holder_id() -> str:
    """This process among the deployment's: host, pid and a random part."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def running_telegram(
    services: Services,
    clock: Callable[[], datetime],
    *,
    bot: bool | None = None,
    make: ClientFactory | None = None,
) -> AsyncIterator[Telegram]:
    """Wire the feature into a process's services; without credentials, say once that it is off.

    Every process with credentials writes what its syncs and races call for. The bot runs
    where `bot` says (default: TELEGRAM_BOT_IN_SERVE), and there only while it holds the lease.
    """
    settings = services.settings
    if not settings.telegram_enabled:
        log.info("Telegram is %s", OFF)
        yield Telegram(settings)
        return
    telegram = Telegram(settings)
    sync: SyncService = services.sync
    mirror = telegram.mirror = SyncMirror(settings, telegram.outbox, telegram.links, services.races)
    announcer = Announcer(
        telegram.outbox,
        services.races,
        clock,
        channel=bool(settings.telegram_channel),
        admins=settings.telegram_admin_ids,
        token=None if settings.demo else services.token,
        upstream=sync.upstream,
        watch_token=lambda: services.is_leader,  # the leader syncs: its view of the token is the live one
    )
    telegram.announcer = announcer
    for event_type in (RaceChanged, RaceStatusChanged, RaceEnded):
        services.relay.on(event_type, announcer.wake)
    supervisor = services.supervisor
    names = ["telegram_announcer"]
    supervisor.start("telegram_announcer", announcer.run)
    if bot if bot is not None else settings.telegram_bot_in_serve:
        # pyrogram is imported only where a bot runs.
        from server.telegram.bot import BotRunner, make_client

        deps = bot_deps(services, telegram, clock)
        runner = BotRunner(deps, Lease(holder_id()), make or make_client, clock)
        telegram.runner = runner
        announcer.on_written = runner.wake
        services.relay.on(BoardsSynced, runner.wake)  # another process's sync may have written rows
        for event_type in (RaceStandingsUpdated, RaceChanged, RaceStatusChanged, RaceEnded):
            services.relay.on(event_type, runner.wake_live)  # the live message shows the race
        supervisor.start("telegram_bot", runner.run)
        supervisor.start("telegram_follow_database", lambda: follow_database(services))
        names += ["telegram_bot", "telegram_follow_database"]
    else:
        log.info("Telegram: this process writes the outbox; the bot runs elsewhere (goated bot)")
    try:
        yield telegram
    finally:
        for name in reversed(names):
            await supervisor.stop(name)
