"""Runs the app under uvicorn, closing viewers' sockets with 1001 (and event streams) before uvicorn stops."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import Mapping

import uvicorn
from litestar import Litestar

from server.realtime.edge import GoatedWebSocketProtocol
from server.realtime.hub import CLOSE_GOING_AWAY
from server.realtime.sse import GoatedHttpProtocol
from server.settings import Settings

log = logging.getLogger(__name__)

CLOSE_GRACE = 1.0  # seconds for close frames to leave before uvicorn's own shutdown
GC_THRESHOLDS = (50_000, 10, 10)  # the default is (700, 10, 10)


class GoatedServer(uvicorn.Server):
    """uvicorn would close open websockets with 1012 after its graceful timeout; viewers
    should instead hear 1001 ("going away") at once and reconnect to another replica."""

    def __init__(self, config: uvicorn.Config, app: Litestar) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        services = getattr(self._app.state, "services", None)
        if services is not None:
            hub = services.hub
            count = len(hub.connections)
            hub.close_all(CLOSE_GOING_AWAY, "server shutting down")
            deadline = asyncio.get_running_loop().time() + CLOSE_GRACE
            while hub.connections and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
            log.info("closed %d websocket(s) with 1001", count)
        await super().shutdown(sockets)


def uvicorn_config(app: Litestar, settings: Settings, **overrides: object) -> uvicorn.Config:
    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "http": GoatedHttpProtocol,  # uvicorn's (httptools), but an event stream can drop a peer that stopped reading
        "ws": GoatedWebSocketProtocol,  # uvicorn's, but a closed connection cannot linger
        "ws_per_message_deflate": False,  # ~5x CPU per socket for small JSON frames
        "ws_max_size": max(settings.ws_max_frame * 4, 65536),
        "ws_ping_interval": 20,
        "ws_ping_timeout": 20,
        "timeout_graceful_shutdown": 3,
        "log_level": settings.log_level.lower(),
        "access_log": False,
        "log_config": None,  # server/logs.py formats uvicorn's lines like everyone else's
        "lifespan": "on",
        # Client addresses come from TRUSTED_PROXIES alone (server/access.py); uvicorn
        # would otherwise believe X-Forwarded-For from any loopback peer.
        "proxy_headers": False,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)  # type: ignore[arg-type]


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the broadcast path (call once, before serving).

    Every viewer keeps ~130 tracked objects alive, and every broadcast briefly makes a few
    per viewer. With the default thresholds those get promoted and set off full collections
    over the whole heap: at 10,000 viewers that was a third of the server's CPU and stalls
    that took broadcast p99 from ~0.3 s to ~1 s (docs/performance.md). Collecting the young
    generation after 50,000 allocations lets a broadcast's objects die young; freezing what
    start-up built keeps it out of every later full collection.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket that sibling workers bind too; the kernel spreads connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def supervise_workers(count: int, argv: list[str], *, env: Mapping[str, str] | None = None, stop_timeout: float = 10.0) -> int:
    """Run `count` copies of `argv` (each a full replica; `env`: their environment, default
    this process's), restart any that crash, and pass SIGTERM/SIGINT on to all of them."""
    import signal
    import subprocess
    import time

    procs: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False

    def start(slot: int) -> None:
        procs[slot] = subprocess.Popen(argv, env=None if env is None else dict(env))
        log.info("worker %d started (pid %d)", slot, procs[slot].pid)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(count):
        start(slot)
    while not stopping:
        time.sleep(0.5)
        for slot, proc in list(procs.items()):
            if proc.poll() is not None and not stopping:
                log.error("worker %d exited with %s; restarting it", slot, proc.returncode)
                time.sleep(1.0)
                start(slot)
    deadline = time.monotonic() + stop_timeout
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return 0
