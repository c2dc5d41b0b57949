"""The bot itself: the pyrogram client, its commands and the outbox sender, run by whichever
process holds the lease, restarted with backoff when Telegram cannot be reached."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pyrogram import Client, types
from pyrogram.errors import RPCError

from server.db.engine import DB_ERRORS
from server.db.tables import AppState
from server.settings import Settings
from server.telegram.commands import COMMANDS, BotDeps, register
from server.telegram.lease import RENEW, USERNAME_KEY, Lease
from server.telegram.client import ClientFactory
from server.telegram.pinned import LiveMessage, LiveView
from server.telegram.sender import NETWORK_ERRORS, Sender, backoff

log = logging.getLogger(__name__)



def make_client(settings: Settings) -> Client:
    """The real client. FloodWaits are never slept inside pyrogram (sleep_threshold=0):
    the sender handles them, keeping its claim on the row."""
    logging.getLogger("pyrogram").setLevel(logging.WARNING)  # its INFO is one line per connection step
    workdir = Path(settings.telegram_session_dir)
    workdir.mkdir(parents=True, exist_ok=True)
    return Client(
        "goated-bot",
        api_id=settings.telegram_api_id,
        api_hash=settings.telegram_api_hash,
        bot_token=settings.telegram_bot_token,
        workdir=str(workdir),
        sleep_threshold=0,
        loop=asyncio.get_running_loop(),
    )


class BotRunner:
    def __init__(
        self,
        deps: BotDeps,
        lease: Lease,
        make: ClientFactory,
        clock: Callable[[], datetime],
        *,
        renew: float = RENEW,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._deps = deps
        self._lease = lease
        self._make = make
        self._clock = clock
        self._renew = renew
        self._jitter = jitter
        self.state = "starting"  # starting | standby | running | error
        self.username: str | None = None
        self.sender: Sender | None = None
        self.live: LiveMessage | None = None  # the pinned live message, while this process runs the bot
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self._failures = 0

    @property
    def holder(self) -> str:
        return self._lease.holder

    def wake(self, *_: object) -> None:
        if self.sender is not None:
            self.sender.wake()
        self.wake_live()

    def wake_live(self, *_: object) -> None:
        """What the live message shows may have changed (a sync, a race event)."""
        if self.live is not None:
            self.live.wake()

    async def run(self) -> None:
        while True:
            try:
                held = await self._lease.acquire(self._clock())
            except DB_ERRORS as exc:
                self._failed(f"database: {type(exc).__name__}: {exc}")
                await asyncio.sleep(self._renew)
                continue
            if not held:
                if self.state != "standby":
                    log.info("telegram: another process runs the bot; standing by")
                self.state = "standby"
                await asyncio.sleep(self._renew)
                continue
            try:
                await self._serve()
                self._failures = 0
            except (RPCError, *NETWORK_ERRORS, *DB_ERRORS) as exc:
                await self._restart_later(exc, expected=True)
            except asyncio.CancelledError:
                await self._give_up_lease()
                raise
            except Exception as exc:  # a bug, or Telegram's answer garbled: log, say so in /health, start over
                await self._restart_later(exc, expected=False)

    async def _restart_later(self, exc: Exception, *, expected: bool) -> None:
        error = f"{type(exc).__name__}: {exc}"
        self._failures += 1
        delay = backoff(self._failures, self._jitter())
        if expected or error == self.last_error:
            log.error("telegram bot stopped (%s); restarting in %.0f s", error, delay)
        else:  # the traceback once per new kind of failure, not once per retry
            log.exception("telegram bot crashed; restarting in %.0f s", delay)
        self._failed(error)
        await self._give_up_lease()
        await asyncio.sleep(delay)

    async def _serve(self) -> None:
        """Run the client until the lease is lost (returns) or something breaks (raises)."""
        client = self._make(self._deps.settings)
        register(client, self._deps)
        await client.start()
        try:
            self.username = client.me.username if client.me else None
            await self._announce(client)
            self.sender = Sender(
                client,
                self._deps.outbox,
                self._deps.settings.telegram_channel,
                self._deps.throttle,
                self._lease.holder,
                self._clock,
                on_blocked=self._blocked,
            )
            self._deps.wake_sender = self.sender.wake
            tasks = {asyncio.create_task(self.sender.run(), name="telegram_sender")}
            settings = self._deps.settings
            if settings.telegram_live_message and settings.telegram_channel:
                view = LiveView(self._deps.live, self._deps.races, settings.telegram_live_board, settings.telegram_live_top)
                self.live = LiveMessage(client, settings.telegram_channel, view, self._deps.throttle, self._clock)
                tasks.add(asyncio.create_task(self.live.run(), name="telegram_live_message"))
            self.state = "running"
            log.info("telegram bot @%s is running", self.username)
            try:
                while await self._lease.acquire(self._clock()):
                    done, _ = await asyncio.wait(tasks, timeout=self._renew)
                    for task in done:
                        task.result()  # the sender and the live message only end by raising,
                        # and one that ended anyway would leave this loop renewing without a pause
                        raise RuntimeError(f"telegram: {task.get_name()} stopped")
                log.warning("telegram: lost the bot lease to another process; stopping here")
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self.sender = None
                self.live = None
                self._deps.wake_sender = lambda: None
        finally:
            self.state = "standby" if self.state == "running" else self.state
            try:
                await client.stop()
            except (ConnectionError, RPCError, *NETWORK_ERRORS) as exc:
                log.warning("telegram: client did not stop cleanly: %s", exc)

    async def _announce(self, client: Client) -> None:
        """Tell Telegram our commands (the menu) and the site our username (the login widget)."""
        if self.username:
            await AppState.insert(AppState(key=USERNAME_KEY, value=self.username, updated_at=self._clock())).on_conflict(
                target=AppState.key, action="DO UPDATE", values=[AppState.value, AppState.updated_at]
            ).run()
        try:
            await client.set_bot_commands(
                [types.BotCommand(name, _DESCRIPTIONS[name]) for name, _, admin in COMMANDS if not admin]
            )
        except RPCError as exc:
            log.warning("telegram: could not set the command menu: %s", exc)

    async def _blocked(self, telegram_id: int) -> None:
        await self._deps.accounts.set_alerts(telegram_id, False, self._clock())

    async def _give_up_lease(self) -> None:
        try:
            await self._lease.release()
        except DB_ERRORS as exc:
            log.warning("telegram: could not release the bot lease (%s); it runs out by itself", exc)

    def _failed(self, error: str) -> None:
        self.state = "error"
        self.last_error, self.last_error_at = error, self._clock()


_DESCRIPTIONS = {
    "start": "what this bot does",
    "help": "the commands",
    "top": "the top 10: today, week, month or all",
    "race": "the current race",
    "rank": "a player's places",
    "link": "link your Goated account",
    "unlink": "remove your link",
    "alerts": "hear when you are passed, drop out of the prizes or near the next place",
}
