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
        # The channels Redis has confirmed on the current connection (its `subscribe` replies):
        # only from then on does a PUBLISH by another process reach this one.
        self._confirmed: set[str] = set()
        # Set once every channel is confirmed, or once a connection attempt has failed.
        self._settled = asyncio.Event()
        # A caller gave up waiting for the confirmation (until_subscribed): the subscribers are
        # owed the gap message, sent once a subscription is confirmed, as after a reconnection.
        self._gap_owed = False
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
        self._subscribed.set()  # before any send: a failed one must still leave the stream loop reconnecting
        if new:
            self._settled.clear()
            if self._pubsub is not None and self.connected:
                try:
                    await self._pubsub.subscribe(*(self._key(c) for c in new))
                except (RedisError, OSError) as exc:  # the stream loop reconnects and subscribes every channel
                    log.warning("could not subscribe to %s (%s): subscribing on reconnection", sorted(new), exc)

    async def until_subscribed(self, timeout: float) -> bool:
        """Wait until Redis has confirmed every subscribed channel, so that whatever another
        process publishes from now on reaches this one. Call it before loading the state those
        events move forward, or the events published in between are lost.

        Returns True once confirmed; False when the connection failed or `timeout` (seconds)
        passed first. Then the subscribers get the gap message as soon as the subscription is
        in place (the relay resyncs on it), since events may have been missed meanwhile.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._settled.wait()
        except TimeoutError:
            pass
        confirmed = self.connected and self._channels <= self._confirmed
        if not confirmed:
            self._gap_owed = True
        return confirmed

    def _confirm(self, raw_channel: bytes, prefix: bytes) -> bool:
        """Record Redis's confirmation of a channel; True if it was confirmed already on this
        connection: redis-py reconnected and resubscribed by itself (the client retries a
        failed read once), and what was published in between is lost."""
        again = False
        channel = raw_channel[len(prefix) :].decode() if raw_channel.startswith(prefix) else None
        if channel in self._channels:  # a late reply for a channel since unsubscribed is no news
            again = channel in self._confirmed
            self._confirmed.add(channel)
        if self._channels <= self._confirmed:
            self._settled.set()
        return again

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        gone = set(channels) & self._channels
        self._channels -= gone
        self._confirmed -= gone
        if not self._channels:
            self._subscribed.clear()  # a reconnection waits for the next subscription
        if gone and self._pubsub is not None and self.connected:
            try:
                await self._pubsub.unsubscribe(*(self._key(c) for c in gone))
            except (RedisError, OSError) as exc:  # a reconnection subscribes only what is left
                log.warning("could not unsubscribe from %s (%s)", sorted(gone), exc)

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        return []

    async def _connect(self) -> PubSub | None:
        """A new pub/sub connection subscribed to every channel; None when there is none to
        subscribe to (the relay is between two subscriptions): then wait for the next."""
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except RedisError:
                pass  # the old connection is already broken; a new one replaces it
            self._pubsub = None
        if not self._channels:
            self._subscribed.clear()
            return None
        self._confirmed.clear()
        self._settled.clear()
        # Subscribe replies are read (not ignored): they are the confirmations until_subscribed awaits.
        pubsub = self._redis.pubsub()
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
                if pubsub is None:
                    continue
                lost = False
                if not self.connected:
                    lost = attempt > 0
                    if lost:
                        log.info("redis is back: resubscribed to %s", sorted(self._channels))
                    self.connected, self.last_error, attempt = True, None, 0
                while True:
                    message = await pubsub.get_message(timeout=self._poll)
                    if message is None:
                        continue
                    raw_channel: bytes = message["channel"]
                    if message.get("type") == "subscribe":
                        if self._confirm(raw_channel, prefix):
                            log.warning("redis dropped the subscription and redis-py restored it: reloading what may have been missed")
                            self.reconnects += 1
                            lost = True
                        if (lost or self._gap_owed) and self._settled.is_set() and self._gap_message is not None:
                            # Only now is nothing more lost: a resync from here on sees every later event.
                            lost = self._gap_owed = False
                            yield self._gap_message
                    elif message.get("type") == "message" and raw_channel.startswith(prefix):
                        yield raw_channel[len(prefix) :].decode(), message["data"]
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                if self.connected or attempt == 0:
                    log.error("redis connection lost (%s); serving local viewers, reconnecting", exc)
                self.connected, self.last_error = False, f"{type(exc).__name__}: {exc}"
                self._settled.set()  # nobody waits on a confirmation that cannot come now
                self.reconnects += 1
                delay = full_jitter(attempt, RECONNECT_BASE, RECONNECT_CAP)
                attempt += 1
                await asyncio.sleep(delay)
