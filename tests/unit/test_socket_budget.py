"""What one socket may hold on the server: its queue bounded in bytes as well as messages,
snapshot sizes snapped to a few shared texts, race snapshots shared within a second."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from server.races.live import CURRENT, LiveRaces
from server.races.messages import RaceStandingsUpdated
from server.races.model import RaceStatus
from server.realtime.hub import CLOSE_SLOW_CONSUMER, Connection, Hub, utf8_size
from server.realtime.sources import echo, snap_limit
from tests.unit.test_race_live import ROW, Clock, race


def stuck_connection(max_bytes: int, max_backlog: int = 256) -> tuple[Connection, list[str]]:
    """A connection whose client never takes anything: the first message stays in flight."""
    started: list[str] = []
    never = asyncio.Event()

    async def send(text: str) -> None:
        started.append(text)
        await never.wait()

    async def close(code: int, reason: str) -> None:
        return None

    return Connection(send, close, max_backlog=max_backlog, max_bytes=max_bytes), started


async def test_the_queue_is_bounded_in_bytes() -> None:
    conn, started = stuck_connection(max_bytes=1000)
    assert conn.push("a" * 400)  # in flight: out of the queue
    assert conn.push("b" * 400) and conn.push("c" * 400)
    assert started == ["a" * 400] and conn.queued_bytes == 800
    assert not conn.push("d" * 400)  # 1,200 bytes would wait: cut off like any slow consumer
    assert conn.closed and conn.close_code == CLOSE_SLOW_CONSUMER and conn.queued_bytes == 0
    await conn.finish(grace=0)


async def test_bytes_are_utf8_bytes_and_one_big_message_alone_still_goes() -> None:
    conn, _ = stuck_connection(max_bytes=1000)
    conn.push("x")
    assert conn.push("🐐" * 600)  # 2,400 bytes, nothing else waiting: a big board's snapshot goes
    assert conn.queued_bytes == 2400 == utf8_size("🐐" * 600)
    assert not conn.push("y")
    await conn.finish(grace=0)


async def test_the_message_cap_still_holds() -> None:
    conn, _ = stuck_connection(max_bytes=10**9, max_backlog=3)
    assert all(conn.push("m") for _ in range(4))  # one in flight, three waiting
    assert not conn.push("m") and conn.close_code == CLOSE_SLOW_CONSUMER
    await conn.finish(grace=0)


async def test_a_broadcast_counts_each_viewer_against_its_budget() -> None:
    hub = Hub()
    conn, _ = stuck_connection(max_bytes=1000)
    hub.attach(conn)
    hub.join(conn, "leaderboard:today")
    text = "é" * 300  # 600 bytes on the wire
    assert [hub.broadcast("leaderboard:today", text) for _ in range(3)] == [1, 1, 0]
    assert hub.bytes_queued == 1200 and hub.dropped == 1 and conn.closed
    await conn.finish(grace=0)


@pytest.mark.parametrize(
    ("asked", "snapped"),
    [(None, None), (1, 10), (10, 10), (11, 25), (25, 25), (26, 50), (51, 100), (101, 250), (251, 1000), (1000, 1000), (1001, None), (10_000, None)],
)
def test_limits_snap_up_to_a_few_sizes(asked: int | None, snapped: int | None) -> None:
    assert snap_limit(asked) == snapped


def test_echoes_are_bounded() -> None:
    assert echo("leaderboard:weekly") == "leaderboard:weekly"
    assert echo("x" * 16_000) == "x" * 64 + "…"


async def test_race_snapshots_are_shared_within_a_second() -> None:
    clock, hub = Clock(), Hub()
    live = LiveRaces(hub, clock)
    live.load([race(3, RaceStatus.LIVE)], {7: (ROW,)})
    first = live.snapshot("race:7", None)
    assert live.snapshot("race:7", None) is first
    assert live.snapshot("race:7", 50) is first and live.snapshot("race:7", 1000) is first  # standings hold 50 at most
    assert live.snapshot("race:7", 10) is not first
    assert live.snapshot(CURRENT, None) is live.snapshot(CURRENT, None)
    clock.now += timedelta(milliseconds=400)
    assert live.snapshot("race:7", None) is first  # same second (T0 is on the second)
    clock.now += timedelta(seconds=1)
    later = live.snapshot("race:7", None)
    assert later is not first and json.loads(later)["server_now"] != json.loads(first)["server_now"]
    live.on_standings(RaceStandingsUpdated(race=race(4, RaceStatus.LIVE), synced_at=clock.now, standings=(ROW,)))
    assert json.loads(live.snapshot("race:7", None))["seq"] == 4  # a new version: a new text
