"""Moves events between processes through Litestar's channels plugin and into the local hub."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from redis.exceptions import RedisError
from litestar.channels import ChannelsPlugin, Subscriber

from server.leaderboard.board import Board, Period
from server.leaderboard.live import LiveBoards, Outcome
from server.realtime.hub import Hub
from server.realtime.messages import EVENTS_CHANNEL, BoardsSynced, ChannelsGap, encoder

log = logging.getLogger(__name__)

Event = msgspec.Struct  # any wire event

# Seconds a starting process waits for the backend to confirm its subscription before it loads
# its state anyway (Redis down or slow: the gap message and a resync follow once subscribed).
SUBSCRIBE_TIMEOUT = 5.0


class Relay:
    """Publishes this process's events and delivers everyone's to local viewers.

    The process that produced an event applies it at once (so its viewers never wait on
    the backend); the echo it receives back is recognised by its version and skipped.
    """

    def __init__(
        self,
        channels: ChannelsPlugin,
        live: LiveBoards,
        hub: Hub,
        resync: Callable[[], Awaitable[None]],  # rebuild all derived state and resnapshot viewers
        decode: Callable[[bytes], Event],  # every feature's events, as one union (server/events.py)
        # Waits (seconds at most) until the backend confirms the subscription (Redis); None when
        # subscribing is immediate (the in-process backend).
        until_subscribed: Callable[[float], Awaitable[bool]] | None = None,
    ) -> None:
        self._decode = decode
        self._until_subscribed = until_subscribed
        self._subscriber: Subscriber | None = None
        self._channels = channels
        self._live = live
        self._hub = hub
        self._resync = resync
        # Other features (races, the Telegram mirror) add handlers for their event types.
        self._handlers: dict[type, list[Callable[[Any], object]]] = {}
        # Called with each event this process produces (/metrics counts race transitions).
        self.on_publish: list[Callable[[Event], None]] = []
        self.received = 0
        # Reloads from the database begun because events may have been missed (/health shows it).
        self.resyncs = 0
        self.handler_errors = 0
        self.publish_errors = 0
        self.last_publish_error: str | None = None

    async def publish(self, event: Event, *, boards: Mapping[Period, Board] | None = None) -> None:
        """Deliver to this process's viewers, then to the other processes.

        `boards`: the new boards of the sync that made a `BoardsSynced` event, taken as they
        are (the other processes apply the event's deltas to reach the same boards). If the
        backend (Redis) is down, this process's viewers still get the event; the others
        resynchronise from the database when they see the version gap.
        """
        for observe in self.on_publish:
            observe(event)
        self.deliver(event, boards)
        try:
            await self._channels.wait_published(encoder.encode(event), EVENTS_CHANNEL)
        except (RedisError, OSError) as exc:
            self.publish_errors += 1
            self.last_publish_error = f"{type(exc).__name__}: {exc}"
            log.error("could not publish to other processes: %s", self.last_publish_error)

    def on(self, event_type: type, handler: Callable[[Any], object]) -> None:
        """Call `handler(event)` for every new event of `event_type`, local or remote."""
        self._handlers.setdefault(event_type, []).append(handler)

    def deliver(self, event: Event, boards: Mapping[Period, Board] | None = None) -> str:
        """Apply an event here, local or remote: the one way any replica reaches a state."""
        outcome = Outcome.APPLIED
        if isinstance(event, BoardsSynced):
            outcome = self._live.apply_event(event, boards)
            if outcome != Outcome.APPLIED:
                return outcome
            for period in Period:
                self._hub.broadcast(f"leaderboard:{period.value}", self._live.latest_text(period))
        for handler in self._handlers.get(type(event), ()):
            try:
                handler(event)
            except Exception:  # noqa: BLE001 - one feature's bug must not stop the others' delivery
                self.handler_errors += 1
                log.exception("a %s handler failed; the other handlers still ran", type(event).__name__)
        return outcome

    async def _reload(self, why: str) -> None:
        log.warning("%s", why)
        self.resyncs += 1
        await self._resync()

    def resnapshot(self) -> None:
        """After a reload, viewers' seq no longer lines up: give them fresh snapshots."""
        for period in Period:
            channel = f"leaderboard:{period.value}"
            if self._hub.subscribers(channel):
                self._hub.broadcast(channel, self._live.snapshot_text(period, channel, None))

    async def subscribe(self, timeout: float = SUBSCRIBE_TIMEOUT) -> Subscriber:
        """Start hearing every process's events, before this one loads the state they move
        forward: what is published while it loads then waits in the subscriber's queue (the
        versions it loaded are skipped as stale) instead of being lost between the load and
        the subscription. Waits `timeout` seconds at most for the backend to confirm; past
        that, the backend sends the gap message once it is subscribed, and `run` resyncs."""
        if self._subscriber is None:
            self._subscriber = await self._channels.subscribe([EVENTS_CHANNEL])
            if self._until_subscribed is not None and not await self._until_subscribed(timeout):
                log.warning("the channels backend has not confirmed the subscription yet: a resync follows once it does")
        return self._subscriber

    async def run(self) -> None:
        """Consume the shared events channel until cancelled. Subscribes first if `subscribe`
        was not called, or after a failure: then it resyncs, as events may have been missed
        while nobody listened."""
        restarted = self._subscriber is None
        subscriber = await self.subscribe()
        try:
            if restarted:
                await self._reload("the relay restarted: reloading what may have been published meanwhile")
            async for raw in subscriber.iter_events():
                self.received += 1
                try:
                    event = self._decode(raw)
                except msgspec.DecodeError as exc:
                    log.error("dropped an undecodable event from the channels backend: %s", exc)
                    continue
                if isinstance(event, ChannelsGap):
                    await self._reload("the channels backend was disconnected: reloading what may have been missed")
                elif self.deliver(event) == Outcome.GAP:
                    await self._reload(f"missed board versions (at {self._live.seq}, got {event.seq}): reloading")
        finally:
            self._subscriber = None
            await self._channels.unsubscribe(subscriber)
