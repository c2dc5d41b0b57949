"""The live message (TELEGRAM_LIVE_MESSAGE): one pinned channel message with the top of a board
and the race countdown, edited in place after each sync instead of posting anew.

Only the process holding the bot lease keeps it (it runs beside the outbox sender). Its
state is a row (`telegram_live_message`), so a restart or another process taking over edits
the same message. An edit that would not change the text is not sent, and Telegram's
MESSAGE_NOT_MODIFIED counts as done. Edits are at least `EDIT_GAP` apart (20 a minute) and
pass the channel's rate limit with the outbox's posts; a burst of syncs becomes one edit
with the newest text. A FloodWait is kept in the row (`not_before`): nothing is tried on the
chat before it, by this process or the next. A deleted message is posted again and pinned;
one a person unpinned is pinned again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pyrogram import Client, enums
from pyrogram.errors import Flood, MessageEditTimeExpired, MessageIdInvalid, MessageNotModified, RPCError

from server.db.engine import DB_ERRORS
from server.leaderboard.board import Period
from server.leaderboard.live import LiveBoards
from server.races.service import RaceService
from server.telegram.limits import Throttle
from server.telegram.livetext import board_text, live_race, race_text, text_hash
from server.telegram.outbox import CHANNEL
from server.telegram.sender import NETWORK_ERRORS, NO_PREVIEW, backoff, target
from server.telegram.tables import LiveMessageRow
from server.wakeup import Wakeup

log = logging.getLogger(__name__)

EDIT_GAP = timedelta(seconds=3)  # at most 20 edits a minute to the chat, whatever the bucket's burst
PIN_CHECK = timedelta(minutes=2)  # how often the chat's pinned message is looked at
SETTLE = 0.5  # seconds after a wake-up: a sync's race standings arrive just after its boards
BOARDS = {"today": Period.TODAY, "weekly": Period.WEEKLY, "monthly": Period.MONTHLY, "all_time": Period.ALL_TIME}
BETWEEN_RACES = Period.MONTHLY  # what TELEGRAM_LIVE_BOARD=race shows while no race is live


# ---- what it shows ----------------------------------------------------------------------


class LiveView:
    """What the message shows, read from this process's live boards and races."""

    def __init__(self, live: LiveBoards, races: RaceService | None, board: str, top: int) -> None:
        self._live = live
        self._races = races
        self._board = board
        self._top = top

    def __call__(self, now: datetime) -> str | None:
        """None until the boards hold a sync (a fresh database): nothing to show yet."""
        if not self._live.loaded:
            return None
        races = self._races.live.races() if self._races is not None else []
        synced_at = self._live.synced_at
        if self._board == "race":
            race = live_race(races, now)
            view = self._races.live.view(race.id) if race is not None and self._races is not None else None
            if race is not None and view is not None:
                return race_text(view.race, view.standings, now, synced_at, self._top)
            return board_text(self._live.board(BETWEEN_RACES), races, now, synced_at, self._top)
        return board_text(self._live.board(BOARDS[self._board]), races, now, synced_at, self._top)


# ---- its state --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveState:
    message_id: int | None = None
    chat_id: int | None = None
    text_hash: str | None = None
    edited_at: datetime | None = None
    pin_checked_at: datetime | None = None
    not_before: datetime | None = None
    last_error: str | None = None


async def load_state(chat: str) -> LiveState:
    row = await LiveMessageRow.select().where(LiveMessageRow.chat == chat).first().run()
    if row is None:
        return LiveState()
    return LiveState(
        message_id=row["message_id"],
        chat_id=row["chat_id"],
        text_hash=row["text_hash"],
        edited_at=row["edited_at"],
        pin_checked_at=row["pin_checked_at"],
        not_before=row["not_before"],
        last_error=row["last_error"],
    )


async def save_state(chat: str, state: LiveState, now: datetime) -> None:
    values = {
        LiveMessageRow.message_id: state.message_id,
        LiveMessageRow.chat_id: state.chat_id,
        LiveMessageRow.text_hash: state.text_hash,
        LiveMessageRow.edited_at: state.edited_at,
        LiveMessageRow.pin_checked_at: state.pin_checked_at,
        LiveMessageRow.not_before: state.not_before,
        LiveMessageRow.last_error: state.last_error,
        LiveMessageRow.updated_at: now,
    }
    await LiveMessageRow.insert(LiveMessageRow(chat=chat, **{c._meta.name: v for c, v in values.items()})).on_conflict(
        target=LiveMessageRow.chat, action="DO UPDATE", values=list(values)
    ).run()


# ---- keeping it -------------------------------------------------------------------------


class LiveMessage:
    """Keeps the channel's live message current. `step()` does what is due now; `run()`
    repeats it when woken (a sync, a race event) and at least once a minute (the countdown)."""

    def __init__(
        self,
        client: Client,
        channel: str,
        render: Callable[[datetime], str | None],
        throttle: Throttle,
        clock: Callable[[], datetime],
        *,
        settle: float = SETTLE,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._channel = channel
        self._to = target(CHANNEL, channel)
        self._render = render
        self._throttle = throttle
        self._clock = clock
        self._settle = settle
        self._jitter = jitter
        self._wake = Wakeup()
        self.message_id: int | None = None
        self.edits = 0
        self.posts = 0
        self.skipped = 0  # steps whose text had not changed
        self.last_error: str | None = None
        self.last_done_at: datetime | None = None
        self.due_at: datetime | None = None  # when a step that had to wait may try again

    @property
    def failing(self) -> bool:
        return self.last_error is not None

    def wake(self, *_: object) -> None:
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                outcome = await self.step()
                failures = 0
                delay = self._delay(outcome)
            except (RPCError, *NETWORK_ERRORS, *DB_ERRORS) as exc:
                failures += 1
                delay = backoff(failures, self._jitter())
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("telegram: the live message could not be updated (%s); trying again in %.0f s", self.last_error, delay)
            if await self._wake.wait(delay) and self._settle:
                await asyncio.sleep(self._settle)

    async def step(self) -> str:
        """One look: "posted", "edited", "repinned", "unchanged", "later" (too soon after the
        last edit), "waiting" (a FloodWait runs) or "flood" (one just came)."""
        now = self._clock()
        state = await load_state(self._channel)
        self.message_id = state.message_id
        if state.not_before is not None and now < state.not_before:
            self.due_at = state.not_before
            return "waiting"
        try:
            outcome = await self._step(state, now)
        except Flood as exc:
            wait = float(exc.value) if isinstance(exc.value, int | float) else 5.0
            self.last_error = f"FloodWait: Telegram asked to wait {wait:.0f} s"
            log.warning("telegram: FloodWait of %.0f s on the live message; not touching the channel's message until then", wait)
            self.due_at = self._clock() + timedelta(seconds=wait)
            state = await load_state(self._channel)
            await save_state(self._channel, replace(state, not_before=self.due_at, last_error=self.last_error), self._clock())
            return "flood"
        self.last_error = None
        self.last_done_at = self._clock()
        if outcome == "unchanged":
            self.skipped += 1
        return outcome

    async def _step(self, state: LiveState, now: datetime) -> str:
        if state.message_id is None:
            text = self._render(now)
            if text is None:
                return "unchanged"  # nothing synced yet: the first sync posts it
            return await self._post(text, now, "no live message yet")
        repinned = False
        if state.pin_checked_at is None or now - state.pin_checked_at >= PIN_CHECK:
            pinned = await self._client.get_messages(self._to, pinned=True)
            if pinned is None or getattr(pinned, "empty", False) or pinned.id != state.message_id:
                try:
                    await self._throttle.acquire(CHANNEL, group=True)
                    await self._client.pin_chat_message(self._to, state.message_id, disable_notification=True)
                except MessageIdInvalid:
                    return await self._repost("the live message was deleted")
                log.info("telegram: the live message %d was not pinned any more; pinned it again", state.message_id)
                repinned = True
            state = replace(state, pin_checked_at=now, last_error=None)
            await save_state(self._channel, state, self._clock())
        text = self._render(now)
        if text is None or text_hash(text) == state.text_hash:
            return "repinned" if repinned else "unchanged"
        if state.edited_at is not None and now - state.edited_at < EDIT_GAP:
            self.due_at = state.edited_at + EDIT_GAP
            return "later"
        await self._throttle.acquire(CHANNEL, group=True)
        now = self._clock()
        text = self._render(now) or text  # the newest, after waiting for the limit: a burst becomes one edit
        digest = text_hash(text)
        if digest == state.text_hash:
            return "repinned" if repinned else "unchanged"
        modified = True
        try:
            await self._client.edit_message_text(
                self._to, state.message_id, text, parse_mode=enums.ParseMode.HTML, link_preview_options=NO_PREVIEW
            )
        except MessageNotModified:
            modified = False  # Telegram already shows this text: nothing to do, and no error
        except (MessageIdInvalid, MessageEditTimeExpired):
            return await self._repost("the live message was deleted")
        await save_state(self._channel, replace(state, text_hash=digest, edited_at=now, last_error=None), self._clock())
        if not modified:
            return "unchanged"
        self.edits += 1
        return "edited"

    async def _repost(self, why: str) -> str:
        now = self._clock()
        text = self._render(now)
        if text is None:
            return "unchanged"
        return await self._post(text, now, why)

    async def _post(self, text: str, now: datetime, why: str) -> str:
        """A new live message, pinned without a notification, remembered."""
        await self._throttle.acquire(CHANNEL, group=True)
        message = await self._client.send_message(self._to, text, parse_mode=enums.ParseMode.HTML, link_preview_options=NO_PREVIEW)
        state = LiveState(message_id=message.id, chat_id=message.chat.id if message.chat else None, text_hash=text_hash(text), edited_at=now)
        await save_state(self._channel, state, self._clock())  # remembered before the pin: a failed pin is retried, not reposted
        self.posts += 1
        self.message_id = message.id
        await self._throttle.acquire(CHANNEL, group=True)
        await self._client.pin_chat_message(self._to, message.id, disable_notification=True)
        await save_state(self._channel, replace(state, pin_checked_at=self._clock()), self._clock())
        log.info("telegram: posted and pinned live message %d (%s)", message.id, why)
        return "posted"

    def _delay(self, outcome: str) -> float:
        """Seconds until the next look: the end of a FloodWait or of the edit gap, else the
        next minute of the clock (the countdown may read differently then)."""
        now = self._clock()
        if outcome in ("waiting", "flood", "later") and self.due_at is not None:
            return max(0.1, (self.due_at - now).total_seconds())
        return 60.0 - now.second - now.microsecond / 1e6 + 0.05
