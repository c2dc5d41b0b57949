"""Python's share of one delivery: `Hub.broadcast` to N viewers whose transports do nothing.

The path is the one `goated serve` takes for an idle websocket viewer (server/realtime/socket.py):
`Hub.broadcast` → `Connection.push` → the broadcast's prepared frame (`FrameCache`, made once)
→ the transport's `write`, here a counter instead of uvloop's `send(2)`. What
`bench.fanout_bench` measures per delivery beyond this is the kernel's and the event loop's.

    .venv/bin/python -m bench.hub_bench --viewers 10000 --bytes 3300

It also times, on the same text, what `websockets.broadcast` does in Python for each connection
before its transport's `write`: `ServerProtocol.send_text` (frame one message for this
connection) and `data_to_send` (take the bytes), on N open sans-I/O protocols.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.write_floor import at_least
from server.realtime.frames import FrameCache
from server.realtime.hub import Connection, Hub

CHANNEL = "leaderboard:monthly"


class NullTransport:
    """Takes every write at once and keeps nothing."""

    __slots__ = ("writes",)

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1


async def _send(text: str) -> None:  # never used: every write is taken at once
    raise AssertionError("a message had to wait")


async def _close(code: int, reason: str) -> None:
    return None


def viewers(hub: Hub, count: int) -> list[NullTransport]:
    frames = FrameCache()
    transports = []
    for _ in range(count):
        transport = NullTransport()

        def write_now(text: str, write=transport.write, frame=frames.frame) -> bool:
            write(frame(text))
            return True

        conn = Connection(_send, _close, max_backlog=256, peer="127.0.0.1", write_now=write_now)
        hub.attach(conn)
        hub.join(conn, CHANNEL)
        transports.append(transport)
    return transports


async def run(count: int, size: int, rounds: int) -> tuple[float, float]:
    hub = Hub()
    transports = viewers(hub, count)
    times = []
    for n in range(rounds):
        text = f'{{"type":"delta","n":{n},"pad":"{"x" * max(0, size - 30)}"}}'  # a new text: framed once per round
        started = time.perf_counter()
        sent = hub.broadcast(CHANNEL, text)
        times.append(time.perf_counter() - started)
        assert sent == count
    assert all(t.writes == rounds for t in transports)
    times.sort()
    return times[0] / count * 1e6, times[len(times) // 2] / count * 1e6


def websockets_share(count: int, size: int, rounds: int) -> tuple[float, float]:
    """µs per connection (best, median) of websockets' framing for one broadcast, as broadcast() does it."""
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    protocols = []
    for _ in range(count):
        protocol = ServerProtocol()
        protocol.state = State.OPEN  # as after the handshake
        protocols.append(protocol)
    times = []
    for n in range(rounds):
        data = f'{{"type":"delta","n":{n},"pad":"{"x" * max(0, size - 30)}"}}'.encode()
        started = time.perf_counter()
        for protocol in protocols:
            protocol.send_text(data)
            for chunk in protocol.data_to_send():
                assert chunk  # the framed message, not the end-of-stream marker
        times.append(time.perf_counter() - started)
    times.sort()
    return times[0] / count * 1e6, times[len(times) // 2] / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=at_least(1), default=10_000)
    parser.add_argument("--bytes", type=at_least(0), default=3300, help="the delta's size")
    parser.add_argument("--rounds", type=at_least(1), default=20)
    args = parser.parse_args()
    best, median = asyncio.run(run(args.viewers, args.bytes, args.rounds))
    print(f"{args.viewers:,} viewers, {args.bytes:,}-byte delta: {best:.2f} µs per delivery (best of {args.rounds}), {median:.2f} µs median")
    best, median = websockets_share(args.viewers, args.bytes, args.rounds)
    print(f"websockets' framing per connection, as websockets.broadcast does it: {best:.2f} µs (best of {args.rounds}), {median:.2f} µs median")


if __name__ == "__main__":
    main()
