"""Runs the simulated upstream on a loopback port for demo mode, so the real client,
decoder and sync run unchanged against it over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import uvicorn

from server.settings import Settings
from server.upstream.sim_app import create_sim_app
from server.upstream.simulator import Simulation


@asynccontextmanager
async def serve_on_loopback(app: object, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn in this event loop; yields its base URL."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
        log_config=None,  # keep the host process's logging (server/logs.py)
        timeout_keep_alive=120,  # longer than any sync interval: no reuse of a closing connection
        proxy_headers=False,  # see server/serve.py
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the host process owns signals
    task = asyncio.create_task(server.serve(), name=f"uvicorn:{host}:{port}")
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise why it could not start
                raise RuntimeError("server stopped before it started")
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        yield f"http://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def start_demo_upstream(settings: Settings) -> AsyncIterator[str]:
    simulation = Simulation(
        players=settings.sim_players,
        seed=settings.sim_seed,
        start=datetime.now(UTC),
        speed=settings.sim_speed,
    )
    app = create_sim_app(simulation, affiliate_code=settings.affiliate_code)
    async with serve_on_loopback(app) as base_url:
        yield base_url
