"""Everything the app runs on, built and torn down by one async context manager."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from redis.asyncio import Redis

from server.db.engine import DB_ERRORS, close_pool, make_engine, migrate, open_pool
from server.health import Part
from server.leaderboard.live import LiveBoards
from server.leaderboard.routes import PageCache
from server.leaderboard.store import BoardStore
from server.leaderboard.sync import SyncService, run_schedule
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
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    db_errors: tuple[type[BaseException], ...] = DB_ERRORS

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
        engine = make_engine(settings.database_url)
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
            backend = ResilientRedisPubSubBackend(redis, key_prefix="GOATED_LIVE")
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
            socket_deps=SocketDeps(hub, router, limits),
            channels=channels,
            redis=redis,
        )
        services.tasks["relay"] = asyncio.create_task(relay.run(), name="relay")
        if schedule:
            services.tasks["schedule"] = asyncio.create_task(
                run_schedule(sync, settings.interval, first_now=not live.loaded), name="schedule"
            )
        try:
            yield services
        finally:
            hub.close_all(CLOSE_GOING_AWAY, "server shutting down")
            for task in services.tasks.values():
                await cancel_and_wait(task)
