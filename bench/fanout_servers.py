"""Baseline broadcast servers for bench/fanout_bench.py: raw `websockets` and Litestar channels.

Both send the same delta text every `--interval` seconds (aligned to the wall clock, like
the product's schedule) with a fresh `synced_at`, so client latency means the same thing.

    python -m bench.fanout_servers raw --port 8801 --interval 2 --delta delta.json --snapshot snap.json
    python -m bench.fanout_servers litestar --port 8802 --interval 2 --delta delta.json
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import msgspec

CHANNEL = "leaderboard:monthly"
_SYNCED_AT = re.compile(rb'"synced_at":"[^"]*"')
_encode = msgspec.json.Encoder().encode


def delta_maker(template: bytes) -> Callable[[], str]:
    """A function returning the template with `synced_at` set to now (same bytes otherwise)."""
    match = _SYNCED_AT.search(template)
    if match is None:
        raise ValueError("the delta template has no synced_at")
    head, tail = template[: match.start()].decode(), template[match.end() :].decode()

    def make() -> str:
        return f'{head}"synced_at":{_encode(datetime.now(UTC)).decode()}{tail}'

    return make


async def ticks(interval: float) -> AsyncIterator[None]:
    """Yield at every multiple of `interval` since the epoch, like the product's schedule."""
    due = (int(time.time() // interval) + 1) * interval
    while True:
        while (left := due - time.time()) > 0:  # timers may fire a millisecond early
            await asyncio.sleep(left)
        yield
        due += interval


async def run_raw(port: int, interval: float, template: bytes, snapshot: str) -> None:
    """`websockets.broadcast` to every subscribed connection: one write per socket, no task."""
    import websockets
    from websockets.asyncio.server import ServerConnection, serve

    clients: set[ServerConnection] = set()
    make = delta_maker(template)

    async def handler(ws: ServerConnection) -> None:
        try:
            await ws.recv()  # the subscribe message
            await ws.send(snapshot)
            clients.add(ws)
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096):
        async for _ in ticks(interval):
            websockets.broadcast(clients, make())


def litestar_app(interval: float, template: bytes) -> object:
    """Litestar's channels plugin with its generated per-subscriber websocket handler."""
    from litestar import Litestar
    from litestar.channels import ChannelsPlugin
    from litestar.channels.backends.memory import MemoryChannelsBackend

    channels = ChannelsPlugin(
        backend=MemoryChannelsBackend(),
        channels=[CHANNEL],
        create_ws_route_handlers=True,
        ws_handler_base_path="/ws/",
    )
    make = delta_maker(template)

    async def publish_forever() -> None:
        async for _ in ticks(interval):
            channels.publish(make(), CHANNEL)

    @asynccontextmanager
    async def publisher(_: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(publish_forever())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    return Litestar(route_handlers=[], plugins=[channels], lifespan=[publisher], openapi_config=None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["raw", "litestar"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--delta", type=Path, required=True, help="a delta message to send (synced_at is replaced)")
    parser.add_argument("--snapshot", type=Path, help="the snapshot answered to a subscribe (raw only)")
    args = parser.parse_args()
    template = args.delta.read_bytes()
    if args.kind == "raw":
        import uvloop

        snapshot = args.snapshot.read_text() if args.snapshot else "{}"
        uvloop.run(run_raw(args.port, args.interval, template, snapshot))
        return 0
    import uvicorn

    uvicorn.run(
        litestar_app(args.interval, template),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=args.port,
        ws_per_message_deflate=False,  # as `goated serve`
        ws_ping_interval=20,
        ws_ping_timeout=20,
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
