"""A Redis pub/sub channels backend that survives Redis restarts.

Litestar's own Redis backends stop streaming for good when the connection drops; this one
reconnects with full-jitter backoff, resubscribes, and says how it is doing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable

from litestar.channels.backends.base import ChannelsBackend
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.backoff import full_jitter

log = logging.getLogger(__name__)

RECONNECT_BASE = 0.2
RECONNECT_CAP = 5.0


class ResilientRedisPubSubBackend(ChannelsBackend):
    def __init__(
        self, redis: Redis, *, key_prefix: str = "GOATED_LIVE", poll: float = 1.0, gap_message: tuple[str, bytes] | None = None
    ) -> None:
        self._redis = redis
        # (channel, data) delivered to this process's own subscribers after a reconnect: what
        # was published while the connection was down is lost to pub/sub, and they must know.
        self._gap_message = gap_message
        self._prefix = key_prefix
        self._poll = poll
        self._channels: set[str] = set()
        self._pubsub: PubSub | None = None
        self._subscribed = asyncio.Event()
        self.connected = False
        self.last_error: str | None = None
        self.reconnects = 0

    def _key(self, channel: str) -> str:
        return f"{self._prefix}:{channel}"

    async def on_startup(self) -> None:
        pass

    async def on_shutdown(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        for channel in set(channels):
            await self._redis.publish(self._key(channel), data)

    async def subscribe(self, channels: Iterable[str]) -> None:
        new = set(channels) - self._channels
        self._channels |= new
        if new and self._pubsub is not None and self.connected:
            await self._pubsub.subscribe(*(self._key(c) for c in new))
        self._subscribed.set()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        gone = set(channels) & self._channels
        self._channels -= gone
        if gone and self._pubsub is not None and self.connected:
            await self._pubsub.unsubscribe(*(self._key(c) for c in gone))

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        return []

    async def _connect(self) -> PubSub:
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except RedisError:
                pass  # the old connection is already broken; a new one replaces it
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(*(self._key(c) for c in self._channels))
        self._pubsub = pubsub
        return pubsub

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        attempt = 0
        prefix = f"{self._prefix}:".encode()
        while True:
            await self._subscribed.wait()
            try:
                pubsub = await self._connect()
                if not self.connected:
                    lost = attempt > 0
                    if lost:
                        log.info("redis is back: resubscribed to %s", sorted(self._channels))
                    self.connected, self.last_error, attempt = True, None, 0
                    if lost and self._gap_message is not None:
                        yield self._gap_message
                while True:
                    message = await pubsub.get_message(timeout=self._poll)
                    if message is None or message.get("type") != "message":
                        continue
                    raw_channel: bytes = message["channel"]
                    if raw_channel.startswith(prefix):
                        yield raw_channel[len(prefix) :].decode(), message["data"]
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                if self.connected or attempt == 0:
                    log.error("redis connection lost (%s); serving local viewers, reconnecting", exc)
                self.connected, self.last_error = False, f"{type(exc).__name__}: {exc}"
                self.reconnects += 1
                delay = full_jitter(attempt, RECONNECT_BASE, RECONNECT_CAP)
                attempt += 1
                await asyncio.sleep(delay)
