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

from server.access import parse_networks
from server.db.engine import DB_ERRORS, close_pool, migrate, open_engine, open_pool
from server.health import Part
from server.leaderboard.live import LiveBoards
from server.leaderboard.routes import PageCache
from server.leaderboard.store import BoardStore
from server.leaderboard.sync import SyncService, run_schedule
from server.races.calendar import auto_series
from server.races.lifecycle import run_ticker
from server.races.service import RaceService
from server.races.store import RaceStore
from server.realtime.hub import CLOSE_GOING_AWAY, Hub
from server.realtime.redis_backend import ResilientRedisPubSubBackend
from server.realtime.relay import Relay, cancel_and_wait
from server.realtime.socket import SocketDeps, SocketLimits
from server.realtime.sources import ChannelRouter, LeaderboardSource, is_period
from server.settings import Settings
from server.upstream.client import GoatedClient
from server.upstream.demo import start_demo_upstream
from server.upstream.resilience import ResilientUpstream, RetryPolicy, make_breaker
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
    races: RaceService | None = None
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _jobs: set[asyncio.Task[object]] = field(default_factory=set)
    db_errors: tuple[type[BaseException], ...] = DB_ERRORS

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
        relay_task = self.tasks.get("relay")
        backend = self.channels._backend  # noqa: SLF001 - the plugin does not expose it
        info: dict[str, object] = {
            "backend": "redis" if self.redis is not None else "memory",
            "received": self.relay.received,
            "publish_errors": self.relay.publish_errors,
        }
        if relay_task is None or relay_task.done():
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
) -> AsyncIterator[Services]:
    """Build every resource, start the background tasks, and undo it all on exit."""
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
            base_url = await stack.enter_async_context(start_demo_upstream(settings))
            client = GoatedClient(http, base_url, settings.affiliate_code, token=None)
            mode = "demo"
        else:
            await token.load()
            client = GoatedClient(http, settings.goated_api_url, settings.affiliate_code, token.token)
            mode = "live"
        upstream = ResilientUpstream(client, RetryPolicy.for_interval(settings.interval), make_breaker())

        redis: Redis | None = None
        if settings.redis_url:
            redis = Redis.from_url(settings.redis_url)
            stack.push_async_callback(redis.aclose)
            backend = ResilientRedisPubSubBackend(redis, key_prefix=settings.channel_prefix)
        else:
            backend = MemoryChannelsBackend()
        channels = ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True, create_ws_route_handlers=False)
        await stack.enter_async_context(channels)

        live = LiveBoards()
        hub = Hub()
        sync_holder: list[SyncService] = []

        async def resync() -> None:
            await sync_holder[0].load()

        relay = Relay(channels, live, hub, resync)
        sync = SyncService(upstream, store, live, relay.publish, clock)
        sync_holder.append(sync)
        await sync.load()

        router = ChannelRouter()
        router.register("leaderboard", LeaderboardSource(live), is_period)
        limits = SocketLimits(
            max_frame=settings.ws_max_frame,
            max_subscriptions=settings.ws_max_subscriptions,
            idle_timeout=settings.ws_idle_timeout,
            send_backlog=settings.ws_send_backlog,
            max_per_address=settings.ws_max_per_address,
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
            socket_deps=SocketDeps(hub, router, limits, parse_networks(settings.trusted_proxies)),
            channels=channels,
            redis=redis,
        )
        # ---- races: standings after each sync, lifecycle, race:* channels and ticks ----
        races = RaceService(RaceStore(engine), hub, relay.publish, clock, auto_series(settings), sync)
        await races.load()
        router.register("race", races.live, races.live.is_channel)
        for event_type, handler in races.handlers().items():
            relay.on(event_type, handler)
        sync.listeners.append(races.tracker)
        services.races = races
        services.tasks["race_lifecycle"] = asyncio.create_task(races.lifecycle.run(), name="race_lifecycle")
        services.tasks["race_ticker"] = asyncio.create_task(run_ticker(races.live, clock), name="race_ticker")
        # ---- end races ----
        services.tasks["relay"] = asyncio.create_task(relay.run(), name="relay")
        if schedule:
            services.tasks["schedule"] = asyncio.create_task(
                run_schedule(sync, settings.interval, first_now=not live.loaded), name="schedule"
            )
        try:
            yield services
        finally:
            hub.close_all(CLOSE_GOING_AWAY, "server shutting down")
            for task in (*services.tasks.values(), *services._jobs):
                await cancel_and_wait(task)
