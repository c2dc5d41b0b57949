"""The floor under a websocket delivery here: the CPU of one loopback `send(2)` per viewer.

Every server that writes each viewer's frame to its own TCP socket pays at least this, in
`bench.fanout_bench` and in production: the kernel copies the frame into the viewer's socket,
runs the loopback receive path in the sender's context and wakes the reader. This measures it
with no server at all: N loopback connections, the sending ends held by this process (plain
blocking sockets, a Python `for` loop of `sock.send(frame)`), the receiving ends drained by
`--readers` child processes on uvloop (a protocol that drops the bytes; as many processes as the
fan-out bench's load generators, 4 by default).
The same frame bytes go to every socket, as a prepared websocket frame would. `--via uvloop`
instead wraps each sending end in a uvloop transport and calls `transport.write(frame)`, the
write path of `goated serve` and of the bare `websockets` server.

    .venv/bin/python -m bench.write_floor --viewers 10000 --bytes 3300 --rounds 20 [--readers 4] [--pin]

`--pin` puts this process on the first CPU and the readers on the others, as `fanout_bench
--pin` does for the measured server. Each round sends the frame once to every socket; prints
this process's CPU (user + system, from getrusage: the scheduler's run time, so a round of a
few milliseconds is measured as it is) per send in the best, median and worst round.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import socket
import statistics
import time
from collections.abc import Callable
from multiprocessing.connection import Connection as Pipe

from server.realtime.frames import text_frame


def reader(port: int, count: int, cpus: set[int] | None, pipe: Pipe) -> None:
    """Open `count` connections to 127.0.0.1:port and drop whatever arrives, until told to stop."""
    import asyncio

    import uvloop

    if cpus:
        os.sched_setaffinity(0, cpus)

    class Drop(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            pass

    async def main() -> None:
        loop = asyncio.get_running_loop()
        transports = []
        for _ in range(count):
            transport, _ = await loop.create_connection(Drop, "127.0.0.1", port)
            transports.append(transport)
        pipe.send("connected")
        await loop.run_in_executor(None, pipe.recv)  # "stop"
        for t in transports:
            t.close()

    uvloop.run(main())


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an int no smaller than `low`, or a clear error."""

    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def send_rounds(socks: list[socket.socket], frame: bytes, rounds: int, gap: float) -> list[float]:
    """µs of CPU per send, each round: `sock.send(frame)` to every socket."""
    per_send = []
    for _ in range(rounds):
        time.sleep(gap)
        before = cpu()
        for s in socks:
            s.send(frame)
        per_send.append((cpu() - before) / len(socks) * 1e6)
    return per_send


def uvloop_rounds(socks: list[socket.socket], frame: bytes, rounds: int, gap: float) -> list[float]:
    """µs of CPU per write, each round: `transport.write(frame)` to every socket's uvloop transport."""
    import asyncio

    import uvloop

    async def run() -> list[float]:
        loop = asyncio.get_running_loop()
        transports = []
        for s in socks:
            transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, s)
            transports.append(transport)
        per_write = []
        for _ in range(rounds):
            await asyncio.sleep(gap)
            before = cpu()
            for t in transports:
                t.write(frame)
            per_write.append((cpu() - before) / len(transports) * 1e6)
            assert all(t.get_write_buffer_size() == 0 for t in transports), "a write was buffered: the readers fell behind"
        return per_write

    return uvloop.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=at_least(1), default=10_000, help="loopback connections, each sent the frame once a round")
    parser.add_argument("--bytes", type=at_least(0), default=3300, help="the message's size (the frame adds its 2-10-byte header)")
    parser.add_argument("--rounds", type=at_least(1), default=20)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between rounds, for the reader to drain")
    parser.add_argument("--readers", type=at_least(1), default=4, help="processes holding the receiving ends")
    parser.add_argument("--pin", action="store_true", help="this process on the first CPU, the readers on the rest")
    parser.add_argument("--via", choices=["send", "uvloop"], default="send",
                        help="send: sock.send in a loop; uvloop: each socket wrapped in a uvloop transport, transport.write "
                             "in a loop (the write path of goated serve and of the bare websockets server)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (via, best_us, median_us, worst_us, rounds) instead")
    args = parser.parse_args()
    args.readers = min(args.readers, args.viewers)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the reader inherits it
    cpus = sorted(os.sched_getaffinity(0))
    reader_cpus = None
    if args.pin and len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[0]})
        reader_cpus = set(cpus[1:])

    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = listener.getsockname()[1]
    ctx = mp.get_context("spawn")
    shares = [args.viewers // args.readers + (i < args.viewers % args.readers) for i in range(args.readers)]
    pipes, children = [], []
    for share in shares:
        ours, theirs = ctx.Pipe()
        child = ctx.Process(target=reader, args=(port, share, reader_cpus, theirs), daemon=True)
        child.start()
        pipes.append(ours)
        children.append(child)
    socks = []
    listener.settimeout(60)
    while len(socks) < args.viewers:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            dead = [c.exitcode for c in children if not c.is_alive()]
            raise SystemExit(f"only {len(socks):,} of {args.viewers:,} connections came in 60 s (readers exited: {dead})") from None
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(conn)
    for pipe in pipes:
        assert pipe.recv() == "connected"
    frame = text_frame("x" * args.bytes)  # the server's own framing (server/realtime/frames.py)

    per_send = uvloop_rounds(socks, frame, args.rounds, args.gap) if args.via == "uvloop" else send_rounds(socks, frame, args.rounds, args.gap)
    for pipe, child in zip(pipes, children, strict=True):
        pipe.send("stop")
        child.join(10)
    ordered = sorted(per_send)
    if args.json:
        print(json.dumps({"via": args.via, "best_us": ordered[0], "median_us": statistics.median(ordered), "worst_us": ordered[-1],
                          "rounds": args.rounds}))
        return
    print(
        f"{args.viewers:,} loopback sockets, {len(frame):,}-byte frame, {'pinned' if reader_cpus else 'unpinned'}: "
        f"CPU per {'transport.write' if args.via == 'uvloop' else 'send(2)'} best {ordered[0]:.1f} µs, median {statistics.median(ordered):.1f} µs, worst {ordered[-1]:.1f} µs "
        f"over {args.rounds} rounds"
    )


if __name__ == "__main__":
    main()
