"""The outbox sender: claim a row, wait for the rate limits, send it, mark it sent.

FloodWait: Telegram refused before sending, so nothing went out. The row goes back to the
outbox not to be tried before the `value` Telegram named, and its chat's later rows wait
behind it; every other chat, the channel included, goes on at once (the sender never sleeps
a FloodWait). Network and server errors: the row is released and retried later with
backoff. A DM that Telegram refuses for good (the user blocked the bot) is marked failed;
channel rows are retried until the channel works again (the bot is not admin yet, the
channel is wrong): never dropped. A row whose expiry passes before it could go (a race post
that is no longer true) is dropped, never sent late.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from pyrogram import Client, enums, types
from pyrogram.errors import BadRequest, Flood, Forbidden, InputUserDeactivated, RPCError, UserIsBlocked

from server.wakeup import Wakeup
from server.backoff import full_jitter
from server.db.engine import DB_ERRORS
from server.telegram.limits import Throttle
from server.telegram.outbox import CHANNEL, Claimed, Outbox

log = logging.getLogger(__name__)

HOLD = timedelta(minutes=2)  # a claim outlives any send; a crashed sender's rows come back after it
POLL = 3.0  # seconds between looks at the outbox when nothing wakes us
PRUNE_EVERY = timedelta(hours=1)
RETRY_BASE, RETRY_CAP = 2.0, 600.0
NO_PREVIEW = types.LinkPreviewOptions(is_disabled=True)
NETWORK_ERRORS = (OSError, TimeoutError, ConnectionError)


def backoff(attempts: int, jitter: float) -> float:
    """Full jitter (server/backoff.py) from RETRY_BASE up to RETRY_CAP, at least one second."""
    return max(1.0, full_jitter(attempts, RETRY_BASE, RETRY_CAP, lambda: jitter))


def target(chat: str, channel: str | None) -> int | str | None:
    """What pyrogram sends to: the configured channel, or a user id."""
    if chat == CHANNEL:
        if channel is None:
            return None
        return int(channel) if channel.lstrip("-").isdigit() else channel
    return int(chat)


class Sender:
    def __init__(
        self,
        client: Client,
        outbox: Outbox,
        channel: str | None,
        throttle: Throttle,
        holder: str,
        clock: Callable[[], datetime],
        *,
        on_blocked: Callable[[int], Awaitable[None]] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._channel = channel
        self._throttle = throttle
        self._holder = holder
        self._clock = clock
        self._on_blocked = on_blocked
        self._jitter = jitter
        self._wake = Wakeup()
        self.sent = 0
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.last_sent_at: datetime | None = None

    @property
    def failing(self) -> bool:
        """The last attempt failed (and nothing went out since)."""
        return self.last_error_at is not None and (self.last_sent_at is None or self.last_error_at > self.last_sent_at)

    def wake(self, *_: object) -> None:
        """New rows may be waiting (a sync or an announcement wrote some)."""
        self._wake.set()

    async def run(self) -> None:
        pruned: datetime | None = None
        while True:
            try:
                await self.drain()
                now = self._clock()
                if pruned is None or now - pruned >= PRUNE_EVERY:
                    if gone := await self._outbox.prune(now):
                        log.info("telegram: forgot %d message(s) sent over a month ago", gone)
                    pruned = now
            except DB_ERRORS as exc:
                self._error(f"database: {type(exc).__name__}: {exc}")
                log.error("telegram sender: database unavailable (%s); retrying", exc)
            await self._wake.wait(POLL)

    async def drain(self) -> int:
        """Send everything that may go now; returns how many went."""
        count = 0
        while (row := await self._outbox.claim(self._holder, self._clock(), HOLD)) is not None:
            count += await self.deliver(row)
        return count

    async def deliver(self, row: Claimed) -> int:
        to = target(row.chat, self._channel)
        if to is None:
            await self._retry(row, "TELEGRAM_CHANNEL is not set", RETRY_CAP)
            return 0
        sending = False
        try:
            await self._throttle.acquire(row.chat, group=row.chat == CHANNEL)
            if row.expires_at is not None and self._clock() >= row.expires_at:
                await self._outbox.expire(row.id, self._holder, self._clock())
                log.info("telegram: dropped row %d (%s): no longer true by the time it could go", row.id, row.kind)
                return 0
            sending = True
            message = await self._client.send_message(to, row.text, parse_mode=enums.ParseMode.HTML, link_preview_options=NO_PREVIEW)
            sending = False
        except asyncio.CancelledError:
            if not sending:
                await self._outbox.release(row.id, self._holder)
            raise
        except Flood as exc:
            # Refused before sending: nothing went out. Only this chat waits.
            wait = float(exc.value) if isinstance(exc.value, int | float) else 5.0
            self._error(f"FloodWait: Telegram asked to wait {wait:.0f} s before writing to {row.chat}")
            log.warning("telegram: FloodWait of %.0f s for chat %s; its messages wait, the others go on", wait, row.chat)
            await self._outbox.postpone(row.id, self._holder, self._clock() + timedelta(seconds=wait), f"FloodWait {wait:.0f} s")
            return 0
        except (BadRequest, Forbidden) as exc:
            if row.chat == CHANNEL:
                await self._retry(row, _describe(exc), backoff(row.attempts, self._jitter()))
                return 0
            await self._outbox.fail(row.id, self._holder, self._clock(), _describe(exc))
            log.warning("telegram: gave up on a message to %s: %s", row.chat, _describe(exc))
            if isinstance(exc, UserIsBlocked | InputUserDeactivated) and self._on_blocked is not None:
                await self._on_blocked(int(row.chat))
            return 0
        except (RPCError, *NETWORK_ERRORS) as exc:
            await self._retry(row, _describe(exc), backoff(row.attempts, self._jitter()))
            return 0
        await self._outbox.mark_sent(row.id, self._clock(), message.id if message is not None else None)
        self.sent += 1
        self.last_sent_at = self._clock()
        return 1

    async def _retry(self, row: Claimed, error: str, delay: float) -> None:
        self._error(error)
        log.warning("telegram: row %d to %s not sent (%s); retrying in %.0f s", row.id, row.chat, error, delay)
        await self._outbox.retry_later(row.id, self._holder, self._clock() + timedelta(seconds=delay), error)

    def _error(self, error: str) -> None:
        self.last_error, self.last_error_at = error, self._clock()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
