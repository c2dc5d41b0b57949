"""What command handlers get passed, and the one place their errors become sentences."""

from __future__ import annotations

import difflib
import html
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from pyrogram import Client, enums, types
from pyrogram.errors import RPCError

from server.db.engine import DB_ERRORS
from server.errors import BadRequest, GoatedError, NotFound
from server.status import HealthReport
from server.leaderboard.board import Period
from server.leaderboard.live import LiveBoards
from server.leaderboard.search import search_key
from server.leaderboard.sync import SyncResult
from server.races.service import RaceService
from server.settings import Settings
from server.telegram.formatting import split
from server.telegram.limits import CommandLimits, Throttle
from server.telegram.links import Accounts, Links
from server.telegram.outbox import Outbox
from server.telegram.sender import NO_PREVIEW

log = logging.getLogger(__name__)

TOO_FAST = "You're sending commands faster than I can answer. Give me a few seconds."
ADMIN_ONLY = "That command is for admins only."
NO_DATABASE = "I can't reach the database right now. Please try again in a minute."
BROKEN = "Something went wrong on my side. Please try again later."


@dataclass(slots=True)
class BotDeps:
    """Everything the commands read and change: the same objects the web server uses."""

    settings: Settings
    live: LiveBoards
    races: RaceService | None
    sync_now: Callable[[str], Awaitable[SyncResult | None]]  # None: the leader was asked to sync
    links: Links
    accounts: Accounts
    outbox: Outbox
    status: Callable[[], Awaitable[HealthReport]]
    throttle: Throttle
    clock: Callable[[], datetime]
    limits: CommandLimits = field(default_factory=CommandLimits)
    monotonic: Callable[[], float] = time.monotonic
    wake_sender: Callable[[], None] = lambda: None
    players: PlayerIndex | None = None

    def __post_init__(self) -> None:
        if self.players is None:
            self.players = PlayerIndex(self.live)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.telegram_admin_ids


Command = Callable[[BotDeps, types.Message, str], Awaitable[str | None]]


def arguments(message: types.Message) -> str:
    """Everything after the command word, as typed (names may hold spaces)."""
    text = message.text or message.caption or ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def sender_name(user: types.User) -> str:
    return " ".join(p for p in (user.first_name, user.last_name) if p) or user.username or str(user.id)


async def reply(deps: BotDeps, message: types.Message, text: str) -> None:
    """Answer in the message's chat, within Telegram's limits, split if long."""
    chat = message.chat
    group = chat.type is not enums.ChatType.PRIVATE
    for piece in split(text):
        await deps.throttle.acquire(str(chat.id), group)
        await message.reply_text(piece, parse_mode=enums.ParseMode.HTML, link_preview_options=NO_PREVIEW)


def guarded(deps: BotDeps, command: Command, *, admin: bool = False) -> Callable[[Client, types.Message], Awaitable[None]]:
    """The handler pyrogram calls: rate limit, admin check, and friendly errors."""

    async def handle(_: Client, message: types.Message) -> None:
        user = message.from_user
        if user is None:  # an anonymous group admin or a channel: nobody to answer or check
            return
        verdict = deps.limits.check(user.id, deps.monotonic())
        if verdict != "ok":
            if verdict == "warn":
                await _answer(deps, message, TOO_FAST)
            return
        if admin and not deps.is_admin(user.id):
            await _answer(deps, message, ADMIN_ONLY)
            return
        try:
            await deps.accounts.seen(user.id, sender_name(user), user.username, deps.clock())
            text = await command(deps, message, arguments(message))
        except GoatedError as exc:
            text = html.escape(str(exc))
        except DB_ERRORS as exc:
            log.error("telegram command %r: database unavailable: %s: %s", message.text, type(exc).__name__, exc)
            text = NO_DATABASE
        except Exception:  # the one place a bug in a command meets a user: log it, say sorry
            log.exception("telegram command %r failed", message.text)
            text = BROKEN
        if text:
            await _answer(deps, message, text)

    return handle


async def _answer(deps: BotDeps, message: types.Message, text: str) -> None:
    try:
        await reply(deps, message, text)
    except (RPCError, OSError, ConnectionError) as exc:
        log.warning("telegram: could not answer in chat %s: %s: %s", message.chat.id, type(exc).__name__, exc)


# ---- players by name ------------------------------------------------------------------


class PlayerIndex:
    """Players on the live boards by name, rebuilt when the boards move on. Names and
    queries are compared by their `search_key`, the key the API's search uses."""

    def __init__(self, live: LiveBoards) -> None:
        self._live = live
        self._seq = -1
        self._names: dict[str, str] = {}  # uid -> name
        self._by_key: dict[str, list[str]] = {}  # search key of a name -> uids
        self._keys: list[str] = []  # of _by_key, for close matches

    def _refresh(self) -> None:
        if self._seq == self._live.seq and self._names:
            return
        names: dict[str, str] = {}
        keys: dict[str, str] = {}
        for period in Period:
            rows = self._live.board(period).rows
            for row, key in zip(rows, self._live.name_keys(period), strict=True):
                names[row.uid] = row.name
                keys[row.uid] = key
        by_key: dict[str, list[str]] = {}
        for uid, key in keys.items():
            by_key.setdefault(key, []).append(uid)
        self._names, self._by_key, self._keys, self._seq = names, by_key, list(by_key), self._live.seq

    def name(self, uid: str) -> str | None:
        self._refresh()
        return self._names.get(uid)

    def find(self, query: str) -> tuple[str, str]:
        """(uid, name) of the player called `query` (or with that uid); NotFound with
        close matches otherwise. Every name suggested finds its player when typed back."""
        query = " ".join(query.split())
        key = search_key(query)
        if not key:
            raise BadRequest("Give me a name, e.g. /rank Alice")
        self._refresh()
        if query in self._names:
            return query, self._names[query]
        uids = self._by_key.get(key, [])
        if len(uids) == 1:
            return uids[0], self._names[uids[0]]
        if len(uids) > 1:
            raise BadRequest(
                f"Several players are called {query}: use their id instead ({', '.join(sorted(uids)[:5])})."
            )
        close = difflib.get_close_matches(key, self._keys, n=3, cutoff=0.6)
        if close:
            suggestions = ", ".join(s for c in close for s in self._findable_as(c))
            raise NotFound(f"No player called {query} on the boards. Did you mean: {suggestions}?")
        raise NotFound(f"No player called {query} on the boards.")

    def _findable_as(self, key: str) -> list[str]:
        """What to type to find the players whose names have `key`: the name when `find`
        answers with that one player, their ids otherwise (a name shared, or someone's id)."""
        uids = self._by_key[key]
        if len(uids) == 1:
            name = self._names[uids[0]]
            typed = " ".join(name.split())
            if typed not in self._names or typed == uids[0]:
                return [name]
        return sorted(uids)[:5]


PERIODS = {
    "today": Period.TODAY,
    "day": Period.TODAY,
    "daily": Period.TODAY,
    "week": Period.WEEKLY,
    "weekly": Period.WEEKLY,
    "month": Period.MONTHLY,
    "monthly": Period.MONTHLY,
    "all": Period.ALL_TIME,
    "alltime": Period.ALL_TIME,
    "all_time": Period.ALL_TIME,
    "all-time": Period.ALL_TIME,
}


def parse_period(text: str) -> Period:
    if not text:
        return Period.TODAY
    period = PERIODS.get(text.strip().lower())
    if period is None:
        raise BadRequest(f"I don't know the period {text!r}. Try today, week, month or all.")
    return period
