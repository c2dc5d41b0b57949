"""A process's race channels: messages, seq, resume, and ticks encoded once per channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec

from server.races.live import CURRENT, LiveRaces
from server.races.messages import RaceChanged, RaceEnded, RaceStandingsUpdated, RaceStatusChanged
from server.races.model import Finalized, Race, RaceKind, RaceStatus, Winner
from server.races.standings import Standing
from server.realtime.hub import Connection, Hub

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def _noop(*_: object) -> None:
    return None


_SENT: dict[int, list[str]] = {}  # what each viewer's socket was handed, by id(conn)


def viewer(hub: Hub, *channels: str) -> Connection:
    box: list[str] = []

    async def record(text: str) -> None:
        box.append(text)

    conn = Connection(record, _noop, max_backlog=10_000)
    _SENT[id(conn)] = box
    hub.attach(conn)
    for channel in channels:
        hub.join(conn, channel)
    return conn


def sent(conn: Connection) -> list[dict]:
    box = _SENT[id(conn)]
    out = [json.loads(t) for t in box]
    box.clear()
    return out


def race(version: int, status: RaceStatus = RaceStatus.UPCOMING, **kw: object) -> Race:
    values: dict[str, object] = {
        "id": 7,
        "version": version,
        "title": "Sprint",
        "kind": RaceKind.CUSTOM,
        "status": status,
        "starts_at": T0 + timedelta(seconds=10),
        "ends_at": T0 + timedelta(seconds=70),
        "pool_cents": 1000,
        "split": (60.0, 40.0),
    }
    values.update(kw)
    return Race(**values)  # type: ignore[arg-type]


ROW = Standing(position=1, prev_position=None, uid="u1", name="one", amount=5.0, prize_cents=600, gap=None, qualified=True)


async def test_a_race_lifetime_on_both_channels() -> None:
    clock, hub = Clock(), Hub()
    live = LiveRaces(hub, clock)
    live.load([], {})
    by_id, current = viewer(hub, "race:7"), viewer(hub, CURRENT)
    snap = json.loads(live.snapshot(CURRENT, None))
    assert snap["type"] == "race" and snap["race"] is None and snap["seq"] == 0

    live.on_changed(RaceChanged(race=race(1), reason="created"))
    assert [m["type"] for m in sent(by_id)] == ["race"]
    (switch,) = sent(current)
    assert (switch["type"], switch["seq"], switch["race"]["id"], switch["seconds_left"]) == ("race", 1, 7, 10)

    clock.now = T0 + timedelta(seconds=10)
    live.on_status(RaceStatusChanged(race=race(2, RaceStatus.LIVE), previous=RaceStatus.UPCOMING, at=clock.now))
    live.on_standings(RaceStandingsUpdated(race=race(3, RaceStatus.LIVE), synced_at=clock.now, standings=(ROW,)))
    clock.now = T0 + timedelta(seconds=70)
    live.on_status(RaceStatusChanged(race=race(4, RaceStatus.ENDED), previous=RaceStatus.LIVE, at=clock.now))
    settled = race(5, RaceStatus.ENDED, finalized=Finalized.ON_TIME, finalized_at=clock.now,
                   winners=(Winner(position=1, uid="u1", name="one", amount=5.0, prize_cents=600),))
    live.on_ended(RaceEnded(race=settled, at=clock.now, standings=(ROW,)))

    on_id = sent(by_id)
    assert [(m["type"], m["seq"]) for m in on_id] == [("status", 2), ("standings", 3), ("status", 4), ("race_ended", 5)]
    assert on_id[0]["previous"] == "upcoming" and on_id[2]["status"] == "ended"
    assert on_id[3]["winners"] == [{"position": 1, "uid": "u1", "name": "one", "amount": 5.0, "prize_cents": 600}]
    assert on_id[3]["finalized"] == "on_time"
    # race:current has its own gapless seq; it keeps the ended race to show its winners.
    assert [(m["type"], m["seq"]) for m in sent(current)] == [("status", 2), ("standings", 3), ("status", 4), ("race_ended", 5)]
    clock.now += timedelta(seconds=31)
    live.tick(clock.now)  # the linger is over: race:current moves on (to nothing here)
    (after,) = sent(current)
    assert (after["type"], after["seq"], after["race"]) == ("race", 6, None)


async def test_echoes_and_late_events_are_not_sent_twice() -> None:
    clock, hub = Clock(), Hub()
    live = LiveRaces(hub, clock)
    live.load([race(3, RaceStatus.LIVE)], {7: (ROW,)})
    conn = viewer(hub, "race:7")
    event = RaceStandingsUpdated(race=race(4, RaceStatus.LIVE), synced_at=clock.now, standings=(ROW,))
    live.on_standings(event)
    live.on_standings(event)  # our own event coming back through Redis
    live.on_changed(RaceChanged(race=race(2, RaceStatus.LIVE), reason="edited"))  # older than what we have
    assert [m["seq"] for m in sent(conn)] == [4]


async def test_resume_replays_what_was_missed_or_says_it_cannot() -> None:
    clock, hub = Clock(), Hub()
    live = LiveRaces(hub, clock)
    live.load([race(1, RaceStatus.LIVE)], {})
    for version in range(2, 6):
        live.on_standings(RaceStandingsUpdated(race=race(version, RaceStatus.LIVE), synced_at=clock.now, standings=(ROW,)))
    missed = live.replay("race:7", 3)
    assert [json.loads(t)["seq"] for t in missed or []] == [4, 5]
    assert live.replay("race:7", 5) == []
    assert live.replay("race:7", 0) is None  # version 1 was never a message here: send a snapshot
    assert live.replay("race:7", 99) is None
    assert json.loads(live.snapshot("race:7", None))["seq"] == 5


async def test_channel_names() -> None:
    live = LiveRaces(Hub(), Clock())
    live.load([race(1)], {})
    assert live.is_channel("current") and live.is_channel("7")
    assert not live.is_channel("8") and not live.is_channel("x7") and not live.is_channel("")


async def test_one_encoded_tick_per_channel_whatever_the_viewers() -> None:
    clock, hub = Clock(), Hub()
    live = LiveRaces(hub, clock)
    live.load([race(1, RaceStatus.LIVE), race(1, RaceStatus.UPCOMING, id=8)], {})
    viewers = [viewer(hub, "race:7", CURRENT) for _ in range(200)]
    nobody_on_8 = True
    clock.now = T0 + timedelta(seconds=20, milliseconds=3)
    assert live.tick(clock.now) == 2 and nobody_on_8  # race:7 and race:current; race:8 has no viewers
    texts = [t for conn in viewers for t in _SENT[id(conn)]]
    by_channel: dict[str, set[int]] = {}
    for text in texts:
        by_channel.setdefault(json.loads(text)["channel"], set()).add(id(text))
    assert {ch: len(ids) for ch, ids in by_channel.items()} == {"race:7": 1, CURRENT: 1}  # one str object each
    tick = json.loads(_SENT[id(viewers[0])][0])
    assert tick == {
        "type": "tick", "channel": "race:7", "seq": 1, "race_id": 7,
        "server_now": "2026-11-26T12:00:20.003000Z", "status": "live", "seconds_left": 50,
    }


async def test_no_ticks_for_finished_races() -> None:
    clock, hub = Clock(), Hub()
    live = LiveRaces(hub, clock)
    live.load([race(9, RaceStatus.ENDED, finalized=Finalized.ON_TIME, finalized_at=T0 - timedelta(hours=1))], {})
    viewer(hub, "race:7", CURRENT)
    assert live.tick(clock.now) == 0
    assert msgspec.json.decode(live.snapshot(CURRENT, None))["race"] is None
