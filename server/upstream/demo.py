"""Runs the simulated upstream on a loopback port for demo mode, so the real client,
decoder and sync run unchanged against it over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from server.upstream.sim_app import create_sim_app
from server.upstream.simulator import Simulation


@asynccontextmanager
async def serve_on_loopback(app: object, host: str = "127.0.0.1", port: int = 0, **options: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn in this event loop; yields its base URL. `options` are
    uvicorn's (a websocket app passes its protocol, as `goated serve` does)."""
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
        # A connection still open at shutdown is cut after this long, as `goated serve` does
        # (server/serve.py), rather than holding the stop forever.
        timeout_graceful_shutdown=options.pop("timeout_graceful_shutdown", 3),
        **options,
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
async def start_demo_upstream(simulation: Simulation, *, affiliate_code: str) -> AsyncIterator[str]:
    """The simulated upstream for demo mode, serving `simulation` on a loopback port; its
    world runs on from where it stands."""
    app = create_sim_app(simulation, affiliate_code=affiliate_code)
    async with serve_on_loopback(app) as base_url:
        yield base_url
