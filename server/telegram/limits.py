"""Telegram's sending limits and our per-user command limit, as token buckets.

The buckets are pure (they take `now`); `Throttle` is the async edge that sleeps.
Telegram's published limits for bots: about 30 messages a second in all, about 1 a
second to one chat, and about 20 a minute to one group or channel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

GLOBAL_RATE, GLOBAL_BURST = 30.0, 30.0
CHAT_RATE, CHAT_BURST = 1.0, 1.0
GROUP_RATE, GROUP_BURST = 20.0 / 60.0, 3.0
USER_COMMAND_RATE, USER_COMMAND_BURST = 1.0 / 4.0, 5.0  # 5 at once, then one every 4 s
IDLE_BUCKETS = 10_000  # forget full buckets past this many chats


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: float  # most tokens held
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate, burst, burst, now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0 when it is now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1

    def try_take(self, now: float) -> bool:
        if self.wait(now) > 0:
            return False
        self.take(now)
        return True

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.burst


class SendLimits:
    """The buckets a message to one chat must pass: overall, and its chat's."""

    def __init__(self) -> None:
        self._global: TokenBucket | None = None
        self._chats: dict[str, TokenBucket] = {}

    def wait(self, chat: str, group: bool, now: float) -> float:
        """Seconds to wait before a message to `chat` may go; 0 means go (and it is counted)."""
        if self._global is None:
            self._global = TokenBucket.full(GLOBAL_RATE, GLOBAL_BURST, now)
        bucket = self._chats.get(chat)
        if bucket is None:
            if len(self._chats) >= IDLE_BUCKETS:
                self._chats = {k: b for k, b in self._chats.items() if not b.is_full(now)}
            rate, burst = (GROUP_RATE, GROUP_BURST) if group else (CHAT_RATE, CHAT_BURST)
            bucket = self._chats[chat] = TokenBucket.full(rate, burst, now)
        delay = max(self._global.wait(now), bucket.wait(now))
        if delay == 0:
            self._global.take(now)
            bucket.take(now)
        return delay


class CommandLimits:
    """Per-user command budget, so one user cannot make the bot hit Telegram's limits."""

    def __init__(self) -> None:
        self._users: dict[int, TokenBucket] = {}
        self._warned: set[int] = set()

    def check(self, user: int, now: float) -> str:
        """"ok", "warn" (first refusal: tell the user once) or "drop" (stay quiet)."""
        bucket = self._users.get(user)
        if bucket is None:
            if len(self._users) >= IDLE_BUCKETS:
                self._users = {k: b for k, b in self._users.items() if not b.is_full(now)}
            bucket = self._users[user] = TokenBucket.full(USER_COMMAND_RATE, USER_COMMAND_BURST, now)
        if bucket.try_take(now):
            self._warned.discard(user)
            return "ok"
        if user in self._warned:
            return "drop"
        self._warned.add(user)
        return "warn"


class Throttle:
    """Waits for `SendLimits` before each message leaves this process."""

    def __init__(
        self,
        limits: SendLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or SendLimits()
        self._clock = clock
        self._sleep = sleep

    async def acquire(self, chat: str, group: bool) -> None:
        while (delay := self.limits.wait(chat, group, self._clock())) > 0:
            await self._sleep(delay)
