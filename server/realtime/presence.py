"""Presence: how many viewers follow each channel, across every replica ("N watching")."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.realtime.hub import Hub
from server.realtime.messages import PresenceMsg, encoder
from server.status import Part

__all__ = ["TTL_INTERVALS", "Presence", "Throttle", "decode_counts", "sum_counts"]

log = logging.getLogger(__name__)

TTL_INTERVALS = 3  # a replica's counts outlive its last write by this many intervals: a dead one drops out after that
ALIVE = ""  # a field always in a replica's hash (no channel has an empty name): its key exists while it lives, viewers or not


def sum_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Viewers per channel, added up over several replicas' counts."""
    total: dict[str, int] = {}
    for one in counts:
        for channel, n in one.items():
            total[channel] = total.get(channel, 0) + n
    return total


def decode_counts(raw: Mapping[bytes, bytes]) -> dict[str, int]:
    """A replica's hash as Redis returns it; fields that are not a count (another version's
    writing, a hand edit) are left out rather than trusted."""
    counts: dict[str, int] = {}
    for field, value in raw.items():
        channel = field.decode("utf-8", "replace")
        if channel == ALIVE or not value.isdigit():
            continue
        counts[channel] = int(value)
    return counts


class Throttle:
    """Which channels' totals to announce: those some viewer may hold another count of, and
    not announced within the last `interval` seconds (on the `now` passed in).

    A viewer holds the last total announced on its channel, or the count it was told when it
    subscribed (`told`), whichever came last; a total everyone already holds is not sent again
    (a lone viewer told "1 watching" on subscribing does not hear "1 watching" again)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._sent: dict[str, tuple[int, float]] = {}  # channel -> (total announced, when)
        self._told: dict[str, set[int]] = {}  # channel -> counts told to subscribers since its last announcement

    def told(self, channel: str, watching: int) -> None:
        """A new subscriber of `channel` was told `watching` (Presence.text)."""
        self._told.setdefault(channel, set()).add(watching)

    def due(self, totals: Mapping[str, int], now: float) -> list[tuple[str, int]]:
        """`totals`: the channels with viewers here. A channel left out is forgotten, so its
        first total after viewers come back is announced, unless they were all told it."""
        for channel in self._sent.keys() - totals.keys():
            del self._sent[channel]
        for channel in self._told.keys() - totals.keys():
            del self._told[channel]
        out: list[tuple[str, int]] = []
        for channel, n in totals.items():
            last = self._sent.get(channel)
            held = self._told.get(channel, set()) | ({last[0]} if last is not None else set())
            if held == {n}:  # every viewer here holds this count already
                self._sent[channel] = (n, last[1] if last is not None else -math.inf)
                self._told.pop(channel, None)
                continue
            if last is not None and now - last[1] < self.interval:
                continue
            self._sent[channel] = (n, now)
            self._told.pop(channel, None)
            out.append((channel, n))
        return out


class Presence:
    """Counts this process's viewers per channel every `interval` seconds (from the hub, so
    every kind of connection it holds counts), adds the other replicas' counts through Redis,
    and sends each channel's viewers the total when it changed.

    With Redis, each replica keeps its counts in a hash of its own (`<prefix>:presence:<id>`)
    that expires `TTL_INTERVALS` intervals after its last write, and lists its id in a set
    (`<prefix>:presence`); a replica that dies without a word drops out of the totals when its
    hash expires, and nothing is counted up or down that could drift. Without Redis, or while
    it is unreachable, the totals are this process's own viewers.
    """

    def __init__(
        self,
        hub: Hub,
        redis: Redis | None,
        key_prefix: str,
        interval: float,  # PRESENCE_INTERVAL (5 s): between counts, and the least time between two presence messages on a channel
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hub = hub
        self._redis = redis
        self._members = f"{key_prefix}:presence"
        self.id = uuid.uuid4().hex
        self._mine = self._key(self.id)
        self.interval = interval
        self._ttl_ms = max(1, round(interval * TTL_INTERVALS * 1000))
        self._monotonic = monotonic
        self._throttle = Throttle(interval)
        self._remote: dict[str, int] = {}  # the other replicas' viewers per channel, as last read
        self.replicas = 1  # processes counted at the last step, this one included
        self.totals: dict[str, int] = {}  # viewers per channel across replicas, at the last step
        self.sent = 0  # presence messages broadcast (per channel, not per viewer)
        self.last_error: str | None = None  # Redis's last failure; None while it answers

    def _key(self, process: str) -> str:
        return f"{self._members}:{process}"

    def text(self, channel: str) -> str:
        """The presence message for `channel` now: what a new subscriber gets right after its
        snapshot (this process's viewers counted as they are, the others' as last read)."""
        watching = self._hub.subscribers(channel) + self._remote.get(channel, 0)
        self._throttle.told(channel, watching)
        return encoder.encode(PresenceMsg(channel=channel, watching=watching)).decode()

    async def run(self) -> None:
        """Count, exchange and announce every interval until cancelled (a supervised task)."""
        try:
            while True:
                await self.step()
                # Sleeping a whole interval after each step keeps steps (and the `now` each
                # passes to the throttle) at least one interval apart.
                await asyncio.sleep(self.interval)
        finally:
            await self._withdraw()

    async def step(self) -> None:
        now = self._monotonic()
        local = self._hub.channel_counts()
        self._remote = await self._exchange(local)
        self.totals = sum_counts((local, self._remote))
        due = self._throttle.due({channel: self.totals[channel] for channel in local}, now)
        for channel, watching in due:
            self._hub.broadcast(channel, encoder.encode(PresenceMsg(channel=channel, watching=watching)).decode())
        self.sent += len(due)

    async def _exchange(self, local: Mapping[str, int]) -> dict[str, int]:
        """Write this process's counts, read the others'; {} without Redis or while it fails."""
        if self._redis is None:
            return {}
        try:
            async with asyncio.timeout(self.interval):
                remote = await self._exchange_with_redis(local)
        except (RedisError, OSError, TimeoutError) as exc:
            if self.last_error is None:
                log.error("presence: redis unreachable (%s); counting this process's viewers only", exc)
            self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self.replicas = 1
            return {}
        if self.last_error is not None:
            log.info("presence: redis is back; counting every replica's viewers again")
            self.last_error = None
        return remote

    async def _exchange_with_redis(self, local: Mapping[str, int]) -> dict[str, int]:
        assert self._redis is not None
        async with self._redis.pipeline(transaction=True) as pipe:
            # Replaced whole in one transaction: a reader never sees it half written.
            pipe.delete(self._mine)
            pipe.hset(self._mine, mapping={ALIVE: 1, **local})
            pipe.pexpire(self._mine, self._ttl_ms)
            pipe.sadd(self._members, self.id)
            pipe.pexpire(self._members, self._ttl_ms)  # gone once no replica writes any more
            pipe.smembers(self._members)
            *_, members = await pipe.execute()
        others = sorted(m.decode() for m in members if m.decode() != self.id)
        if not others:
            self.replicas = 1
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for process in others:
                pipe.hgetall(self._key(process))
            hashes = await pipe.execute()
        gone = [process for process, raw in zip(others, hashes, strict=True) if not raw]
        if gone:  # their hashes expired: dead replicas (a live one that stalled adds itself back)
            await self._redis.srem(self._members, *gone)
        self.replicas = 1 + len(others) - len(gone)
        return sum_counts(decode_counts(raw) for raw in hashes if raw)

    async def _withdraw(self) -> None:
        """On the way out: take this process's viewers out of the totals now, not after the TTL."""
        if self._redis is None:
            return
        try:
            async with asyncio.timeout(1.0):
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.delete(self._mine)
                    pipe.srem(self._members, self.id)
                    await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("presence: could not withdraw this process's counts (%s); they expire on their own", exc)

    def health(self, running: bool) -> Part:
        """The `presence` part of /health."""
        info: dict[str, object] = {
            "counting": "every replica (redis)" if self._redis is not None else "this process (no redis)",
            "replicas": self.replicas,
            "interval_s": self.interval,
            "watching": dict(sorted(self.totals.items())),
        }
        if not running:
            return Part(status="degraded", detail="the presence task is not running: 'N watching' is not updated", info=info)
        if self.last_error is not None:
            return Part(
                status="degraded",
                detail=f"redis unreachable ({self.last_error}): 'N watching' counts this replica's viewers only",
                info=info,
            )
        return Part(status="ok", info=info)
