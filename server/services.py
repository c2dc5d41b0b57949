"""Everything the app runs on, built and torn down by one async context manager."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from server.access import parse_networks
from server.db.engine import DB_ERRORS, close_pool, open_engine, open_pool
from server.demo_history import prepare_demo_world
from server.schema import migrate
from server.health import build_report
from server.status import HealthReport, Part
from server.leader import Elector, FileLockElector, FollowerElector, Leadership, PostgresElector, RedisElector
from server.leaderboard.live import LiveBoards
from server.leaderboard.routes import PageCache
from server.leaderboard.store import BoardStore
from server.leaderboard.sync import SyncResult, SyncService, run_schedule
from server.races.calendar import auto_series
from server.races.lifecycle import run_ticker
from server.races.service import RaceService
from server.races.store import RaceStore
from server.realtime.hub import CLOSE_GOING_AWAY, Hub
from server.realtime.presence import Presence
from server.realtime.redis_backend import ResilientRedisPubSubBackend
from server.events import event_decoder
from server.realtime.messages import EVENTS_CHANNEL, ChannelsGap, SyncRequested, encoder
from server.realtime.relay import Relay
from server.realtime.socket import SocketDeps, SocketLimits
from server.realtime.sources import ChannelRouter, LeaderboardSource, is_period
from server.settings import Settings
from server.supervisor import Supervisor, cancel_and_wait
from server.telegram.runtime import ClientFactory, Telegram, running_telegram
from server.upstream.client import GoatedClient
from server.upstream.demo import start_demo_upstream
from server.upstream.resilience import ResilientUpstream, RetryPolicy, make_breaker
from server.token_key import TokenCipher
from server.upstream.token import TokenKeeper

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Services:
    settings: Settings
    mode: str
    store: BoardStore
    client: GoatedClient
    upstream: ResilientUpstream
    token: TokenKeeper
    live: LiveBoards
    hub: Hub
    relay: Relay
    sync: SyncService
    page_cache: PageCache
    socket_deps: SocketDeps
    channels: ChannelsPlugin
    redis: Redis | None
    presence: Presence
    clock: Callable[[], datetime] = utc_now  # the app's time: what every part reads, never the wall clock directly
    races: RaceService | None = None
    telegram: Telegram | None = None
    leadership: Leadership | None = None
    supervisor: Supervisor = field(default_factory=lambda: Supervisor(utc_now))
    _jobs: set[asyncio.Task[object]] = field(default_factory=set)
    db_errors: tuple[type[BaseException], ...] = DB_ERRORS

    @property
    def is_leader(self) -> bool:
        return self.leadership is None or self.leadership.is_leader

    async def request_sync(self, trigger: str) -> SyncResult | None:
        """Sync here if this process leads; otherwise ask the leader (None: requested)."""
        if self.is_leader:
            return await self.sync.run_once(trigger)
        await self.relay.publish(SyncRequested(trigger=trigger))
        return None

    async def health_report(self) -> HealthReport:
        """Every part's state now (`/health`, and the bot's /status)."""
        return await build_report(self)

    async def resync(self) -> None:
        """After any gap (missed board versions, a channels backend reconnect, a relay
        restart, a new leadership): rebuild everything this replica derives from the database — the boards,
        the races and `race:current` — and give every viewer fresh snapshots. The one path."""
        await self.sync.load()
        self.relay.resnapshot()
        if self.races is not None:
            await self.races.reload()

    def background(self, coro: Coroutine[Any, Any, object], what: str) -> None:
        """Run a one-off job owned by the services (cancelled on shutdown, errors logged)."""
        task = asyncio.create_task(coro, name=what)
        self._jobs.add(task)

        def done(t: asyncio.Task[object]) -> None:
            self._jobs.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed: %s", what, t.exception())

        task.add_done_callback(done)

    def channels_health(self) -> Part:
        backend = self.channels._backend  # noqa: SLF001 - the plugin does not expose it
        info: dict[str, object] = {
            "backend": "redis" if self.redis is not None else "memory",
            "received": self.relay.received,
            "publish_errors": self.relay.publish_errors,
            "resyncs": self.relay.resyncs,
        }
        if not self.supervisor.running("relay"):
            return Part(status="degraded", detail="event relay is not running: other processes' events do not reach this one", info=info)
        if isinstance(backend, ResilientRedisPubSubBackend):
            info["reconnects"] = backend.reconnects
            if not backend.connected:
                return Part(
                    status="degraded",
                    detail=f"redis unreachable ({backend.last_error or 'connecting'}): serving this process's viewers only, reconnecting",
                    info=info,
                )
        return Part(status="ok", info=info)


@asynccontextmanager
async def running_services(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    schedule: bool = True,
    lead: bool = True,
    bot: bool | None = None,
    telegram_client: ClientFactory | None = None,
    demo_history: bool = False,
) -> AsyncIterator[Services]:
    """Build every resource, start the background tasks, and undo it all on exit.

    `lead`: campaign for the sync leadership (the bot process never does, or it could win
    the lock and leave the deployment with nobody syncing).
    `bot` runs the Telegram bot here (default: TELEGRAM_BOT_IN_SERVE); `telegram_client`
    builds its pyrogram client (tests fake Telegram there).
    `demo_history`: on the demo's first start (an empty database), write weeks of simulated
    history and finished races first (the server does; `sync --once` and the bot do not).
    """
    async with AsyncExitStack() as stack:
        engine = await open_engine(settings.database_url)
        await migrate(engine)
        await open_pool(engine)
        stack.push_async_callback(close_pool, engine)
        store = BoardStore(engine)

        http = await stack.enter_async_context(
            httpx.AsyncClient(
                timeout=httpx.Timeout(settings.upstream_timeout, connect=5.0),
                headers={"User-Agent": "goated-live/0.1"},
            )
        )
        token = TokenKeeper(settings.goated_token, source="env")
        if settings.demo:
            world, _ = await prepare_demo_world(
                settings, store, RaceStore(engine), auto_series(settings), clock, history=demo_history
            )
            base_url = await stack.enter_async_context(start_demo_upstream(world, affiliate_code=settings.affiliate_code))
            client = GoatedClient(http, base_url, settings.affiliate_code, token=None)
            mode = "demo"
        else:
            # TOKEN_KEY opens the token an admin stored (encrypted at rest; server/upstream/token.py).
            await token.unlock(TokenCipher.from_setting(settings.token_key))
            client = GoatedClient(http, settings.goated_api_url, settings.affiliate_code, token.token)
            mode = "live"
        upstream = ResilientUpstream(client, RetryPolicy.for_interval(settings.interval), make_breaker())

        redis: Redis | None = None
        if settings.redis_url:
            # One retry on a fresh connection: after Redis comes back, the pool's idle connections
            # are dead, and without it the first publish on each would be lost to the other replicas.
            redis = Redis.from_url(settings.redis_url, retry=Retry(NoBackoff(), 1))
            stack.push_async_callback(redis.aclose)
            backend = ResilientRedisPubSubBackend(
                redis, key_prefix=settings.channel_prefix, gap_message=(EVENTS_CHANNEL, encoder.encode(ChannelsGap()))
            )
        else:
            backend = MemoryChannelsBackend()
        channels = ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True, create_ws_route_handlers=False)
        await stack.enter_async_context(channels)

        live = LiveBoards()
        hub = Hub()

        async def resync() -> None:
            await services.resync()  # `services` is bound just below, before the relay ever runs

        relay = Relay(
            channels, live, hub, resync, event_decoder.decode,
            until_subscribed=backend.until_subscribed if isinstance(backend, ResilientRedisPubSubBackend) else None,
        )
        # Hear the other processes before loading anything their events move forward (boards,
        # races): what they publish meanwhile waits for the relay instead of being lost.
        await relay.subscribe()
        sync = SyncService(upstream, store, live, relay.publish, clock, settings.name_mask)
        await sync.load()

        presence = Presence(hub, redis, settings.channel_prefix, settings.presence_interval)
        router = ChannelRouter()
        router.register("leaderboard", LeaderboardSource(live), is_period)
        limits = SocketLimits(
            max_frame=settings.ws_max_frame,
            max_subscriptions=settings.ws_max_subscriptions,
            idle_timeout=settings.ws_idle_timeout,
            send_backlog=settings.ws_send_backlog,
            max_per_address=settings.ws_max_per_address,
            max_queued_bytes=settings.ws_max_queued_bytes,
        )
        services = Services(
            settings=settings,
            mode=mode,
            store=store,
            client=client,
            upstream=upstream,
            token=token,
            live=live,
            hub=hub,
            relay=relay,
            sync=sync,
            page_cache=PageCache(live),
            socket_deps=SocketDeps(hub, router, limits, parse_networks(settings.trusted_proxies), clock=clock, presence=presence),
            channels=channels,
            redis=redis,
            presence=presence,
            clock=clock,
        )
        # Work only the sync leader does; started and stopped as leadership changes.
        leader_work: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {}
        # ---- races: standings after each sync, lifecycle, race:* channels and ticks ----
        races = RaceService(RaceStore(engine), hub, relay.publish, clock, auto_series(settings), sync)
        await races.load()
        router.register("race", races.live, races.live.is_channel)
        for event_type, handler in races.handlers().items():
            relay.on(event_type, handler)
        services.races = races
        leader_work["race_lifecycle"] = races.lifecycle.run
        services.supervisor.start("race_ticker", lambda: run_ticker(races.live, clock))
        # ---- end races ----
        # ---- telegram: outbox rows from syncs and races; the bot where it runs (off without credentials) ----
        services.telegram = await stack.enter_async_context(
            running_telegram(services, clock, bot=bot, make=telegram_client)
        )
        # ---- end telegram ----
        # Each sync's steps, in order, inside its one transaction: race standings, then the
        # Telegram outbox (whose digests are worded from the same outcome).
        sync.steps = [races.tracker, *([services.telegram.mirror] if services.telegram.mirror is not None else [])]
        services.supervisor.start("relay", relay.run)
        services.supervisor.start("presence", presence.run)
        if schedule:
            leader_work["schedule"] = lambda: run_schedule(sync, settings.interval, first_now=_board_is_stale(live, settings, clock))
        services.leadership = Leadership(
            _elector(settings, redis) if lead else FollowerElector(),
            on_elected=lambda: _start_leader_work(services, leader_work),
            on_deposed=lambda: _stop_leader_work(services, leader_work),
        )
        relay.on(SyncRequested, lambda event: _sync_if_leader(services, event))
        await services.leadership.step()  # a lone process leads from its first second
        services.supervisor.start("leadership", services.leadership.run)
        try:
            yield services
        finally:
            hub.close_all(CLOSE_GOING_AWAY, "server shutting down")
            await services.supervisor.aclose()
            for job in list(services._jobs):
                await cancel_and_wait(job)


def _sync_if_leader(services: Services, event: SyncRequested) -> None:
    if services.is_leader:
        services.background(_requested_sync(services, event.trigger), f"{event.trigger} sync requested by another replica")


async def _requested_sync(services: Services, trigger: str) -> None:
    if trigger == "token":  # an admin set a new token on another replica: it is in the database
        await _reload_token(services)
    await services.sync.run_once(trigger)


async def _reload_token(services: Services) -> None:
    """Take the token an admin stored (the leader may have been a follower when it was set)."""
    if services.settings.demo:
        return
    before = services.token.token
    await services.token.load()
    if services.token.token != before:
        services.client.set_token(services.token.token)
        services.upstream.breaker.close()


def _elector(settings: Settings, redis: Redis | None) -> Elector:
    if settings.is_postgres:
        return PostgresElector(settings.database_url, settings.channel_prefix)
    if redis is not None:
        return RedisElector(redis, f"{settings.channel_prefix}:leader")
    return FileLockElector(settings.sqlite_path.with_name(settings.sqlite_path.name + ".leader"))


def _board_is_stale(live: LiveBoards, settings: Settings, clock: Callable[[], datetime]) -> bool:
    """A new leader syncs at once when the board is older than one interval."""
    return live.synced_at is None or (clock() - live.synced_at).total_seconds() > settings.interval


async def _start_leader_work(services: Services, work: dict[str, Callable[[], Coroutine[Any, Any, None]]]) -> None:
    if services.leadership is not None and services.leadership.changes > 1:
        # Followers only kept the boards; the leader diffs against the full snapshot.
        await services.resync()
        await _reload_token(services)
    for name, start in work.items():
        services.supervisor.start(name, start)


async def _stop_leader_work(services: Services, work: dict[str, Callable[[], Coroutine[Any, Any, None]]]) -> None:
    for name in work:
        await services.supervisor.stop(name)
