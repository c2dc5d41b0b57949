"""Moves events between processes through Litestar's channels plugin and into the local hub."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from redis.exceptions import RedisError
from litestar.channels import ChannelsPlugin

from server.leaderboard.board import Period
from server.leaderboard.live import LiveBoards, Outcome
from server.realtime.hub import Hub
from server.realtime.messages import EVENTS_CHANNEL, BoardsSynced, Event, encoder, event_decoder

log = logging.getLogger(__name__)


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
        resync: Callable[[], Awaitable[None]],
    ) -> None:
        self._channels = channels
        self._live = live
        self._hub = hub
        self._resync = resync
        # Other features (races, the Telegram mirror) add handlers for their event types.
        self._handlers: dict[type, list[Callable[[Any], object]]] = {}
        # Called with each event this process produces (/metrics counts race transitions).
        self.on_publish: list[Callable[[Event], None]] = []
        self.received = 0
        self.publish_errors = 0
        self.last_publish_error: str | None = None

    async def publish(self, event: Event) -> None:
        """Deliver to this process's viewers, then to the other processes.

        If the backend (Redis) is down, this process's viewers still get the event; the
        others resynchronise from the database when they see the version gap.
        """
        for observe in self.on_publish:
            observe(event)
        self.deliver(event)
        try:
            await self._channels.wait_published(encoder.encode(event), EVENTS_CHANNEL)
        except (RedisError, OSError) as exc:
            self.publish_errors += 1
            self.last_publish_error = f"{type(exc).__name__}: {exc}"
            log.error("could not publish to other processes: %s", self.last_publish_error)

    def on(self, event_type: type, handler: Callable[[Any], object]) -> None:
        """Call `handler(event)` for every new event of `event_type`, local or remote."""
        self._handlers.setdefault(event_type, []).append(handler)

    def deliver(self, event: Event) -> str:
        outcome = Outcome.APPLIED
        if isinstance(event, BoardsSynced):
            outcome = self._live.apply_event(event)
            if outcome != Outcome.APPLIED:
                return outcome
            for period in Period:
                self._hub.broadcast(f"leaderboard:{period.value}", self._live.latest_text(period))
        for handler in self._handlers.get(type(event), ()):
            handler(event)
        return outcome

    def resnapshot(self) -> None:
        """After a reload, viewers' seq no longer lines up: give them fresh snapshots."""
        for period in Period:
            channel = f"leaderboard:{period.value}"
            if self._hub.subscribers(channel):
                self._hub.broadcast(channel, self._live.snapshot_text(period, channel, None))

    async def run(self) -> None:
        """Consume the shared events channel until cancelled."""
        subscriber = await self._channels.subscribe([EVENTS_CHANNEL])
        try:
            async for raw in subscriber.iter_events():
                self.received += 1
                try:
                    event = event_decoder.decode(raw)
                except msgspec.DecodeError as exc:
                    log.error("dropped an undecodable event from the channels backend: %s", exc)
                    continue
                if self.deliver(event) == Outcome.GAP:
                    log.warning("missed board versions (at %d, got %d): reloading", self._live.seq, event.seq)
                    await self._resync()
                    self.resnapshot()
        finally:
            await self._channels.unsubscribe(subscriber)


async def cancel_and_wait(task: asyncio.Task[object]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
