"""`create_app(settings)`: routes, error mapping, static pages and the services lifespan."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.datastructures import ResponseHeader, State
from litestar.openapi import OpenAPIConfig
from litestar.types import Receive, Scope, Send

from server.access import FailOpenStore, parse_networks, rate_limit_config, rate_limit_store
from server.admin import AdminController, admin_status
from server.apidocs import SwaggerPage, docs_router
from server.http_errors import EXCEPTION_HANDLERS, ErrorResponses
from server.health import health
from server.leaderboard.routes import LeaderboardController
from server.logs import DeferringLoggingConfig, protect
from server.metrics import Metrics, metrics_endpoint
from server.races.routes import AdminRaceController, RaceController
from server.pages import PAGES, WEB
from server.realtime.socket import is_socket_scope, serve_socket
from server.realtime.sse import NO_COMPRESSION, sse_endpoint
from server.services import running_services, utc_now
from server.settings import Settings
from server.static import create_static_router
from server.telegram.routes import AdminLinkController, AuthController
from server.upstream.routes import UpstreamAdminController

log = logging.getLogger(__name__)


class GoatedApp(Litestar):
    """The Litestar app, with `/ws` served ahead of its router and middleware by the bare
    ASGI endpoint `serve_socket` (server/realtime/socket.py says why)."""

    @inspect.markcoroutinefunction  # an ASGI 3 app to the server, which awaits what it returns
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:  # type: ignore[override]
        # Not a coroutine of its own: the server awaits the endpoint's, and an idle viewer
        # does not hold one more suspended frame (~450 bytes) for the connection's life.
        if is_socket_scope(scope):
            return serve_socket(scope, receive, send, self.state.socket_deps)
        return super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    schedule: bool = True,
    demo_history: bool = True,
) -> GoatedApp:
    protect(settings)
    metrics = Metrics(clock)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running_services(settings, clock=clock, schedule=schedule, demo_history=demo_history) as services:
            app.state.services = services
            app.state.live = services.live
            app.state.store = services.store
            app.state.page_cache = services.page_cache
            app.state.socket_deps = services.socket_deps
            metrics.attach(services)
            log.info("Goated Live ready (%s mode) on %s", services.mode, settings.database_url.split("@")[-1])
            try:
                yield
            finally:
                metrics.detach()
                store = app.stores.get("rate_limit")
                if isinstance(store, FailOpenStore):  # its Redis client is the lifespan's to close
                    await store.aclose()

    return GoatedApp(
        route_handlers=[
            *PAGES,
            health,
            metrics_endpoint,
            LeaderboardController,
            RaceController,
            AdminRaceController,
            AdminController,
            admin_status,
            UpstreamAdminController,
            AuthController,
            AdminLinkController,
            sse_endpoint,
            create_static_router(WEB),
        ],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[ErrorResponses()],
        openapi_config=OpenAPIConfig(
            title="Goated Live",
            version="0.1.0",
            description="Live wager leaderboards and race timers for Goated.com affiliates.",
            path="/schema",
            render_plugins=[SwaggerPage()],
            openapi_router=docs_router("/schema"),
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048, exclude_opt_key=NO_COMPRESSION),
        state=State({"metrics": metrics, "metrics_token": settings.metrics_token}),
        logging_config=DeferringLoggingConfig(),
        middleware=[
            metrics.http.middleware,
            # 0 turns it off, for deployments whose proxy limits requests already.
            *([rate_limit_config(settings.rate_limit_per_minute, parse_networks(settings.trusted_proxies)).middleware] if settings.rate_limit_per_minute else []),
        ],
        stores={"rate_limit": rate_limit_store(settings.redis_url, f"{settings.channel_prefix}:rate")()},
        response_headers=[
            ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
            ResponseHeader(name="Referrer-Policy", value="same-origin"),
        ],
        debug=False,
    )
