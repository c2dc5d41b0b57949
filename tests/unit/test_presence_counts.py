"""Presence's pure parts: counts summed over replicas, Redis's hash read back, and the throttle
that keeps a channel to one presence message per interval (on an injected clock)."""

from __future__ import annotations

import json

from server.realtime.hub import Connection, Hub
from server.realtime.presence import Presence, Throttle, decode_counts, sum_counts


def test_counts_add_up_by_channel_over_replicas() -> None:
    assert sum_counts([{"leaderboard:monthly": 2, "race:current": 1}, {"leaderboard:monthly": 3}, {}]) == {
        "leaderboard:monthly": 5,
        "race:current": 1,
    }
    assert sum_counts([]) == {}


def test_a_replicas_hash_is_read_back_leaving_out_what_is_not_a_count() -> None:
    raw = {b"": b"1", b"leaderboard:monthly": b"12", b"race:7": b"0", b"race:8": b"-3", b"race:9": b"many"}
    assert decode_counts(raw) == {"leaderboard:monthly": 12, "race:7": 0}


def test_a_change_is_announced_at_once_then_at_most_once_per_interval() -> None:
    throttle = Throttle(5.0)
    assert throttle.due({"a": 1}, now=100.0) == [("a", 1)]
    assert throttle.due({"a": 1}, now=105.0) == [], "an unchanged count sends nothing"
    assert throttle.due({"a": 2}, now=106.0) == [("a", 2)]
    assert throttle.due({"a": 3}, now=107.0) == [], "changed again within the interval: held"
    assert throttle.due({"a": 4}, now=110.9) == []
    assert throttle.due({"a": 4}, now=111.0) == [("a", 4)], "the latest count once the interval is over"


def test_channels_are_throttled_each_on_its_own() -> None:
    throttle = Throttle(5.0)
    assert throttle.due({"a": 1}, now=0.0) == [("a", 1)]
    assert throttle.due({"a": 2, "b": 1}, now=1.0) == [("b", 1)]
    assert sorted(throttle.due({"a": 2, "b": 2}, now=6.0)) == [("a", 2), ("b", 2)]


def test_a_channel_without_viewers_here_is_forgotten_and_announced_when_they_return() -> None:
    throttle = Throttle(5.0)
    assert throttle.due({"a": 3}, now=0.0) == [("a", 3)]
    assert throttle.due({}, now=5.0) == []
    assert throttle.due({"a": 3}, now=10.0) == [("a", 3)]


class Viewer:
    """A hub connection whose socket is a list (the edge a websocket would be)."""

    def __init__(self, hub: Hub, *channels: str) -> None:
        self.texts: list[str] = []
        self.conn = Connection(self._send, self._close, max_backlog=100)
        hub.attach(self.conn)
        for channel in channels:
            hub.join(self.conn, channel)

    async def _send(self, text: str) -> None:
        self.texts.append(text)

    async def _close(self, code: int, reason: str) -> None:
        pass

    def presence(self) -> list[tuple[str, int]]:
        return [(m["channel"], m["watching"]) for m in map(json.loads, self.texts) if m["type"] == "presence"]


async def test_without_redis_the_local_viewers_are_counted_and_announced_on_the_clock() -> None:
    now = [0.0]
    hub = Hub()
    presence = Presence(hub, None, "test", 5.0, monotonic=lambda: now[0])
    first = Viewer(hub, "leaderboard:monthly")
    await presence.step()
    assert first.presence() == [("leaderboard:monthly", 1)]

    others = [Viewer(hub, "leaderboard:monthly") for _ in range(3)]
    now[0] = 2.0
    await presence.step()  # within the interval: nothing yet
    assert first.presence() == [("leaderboard:monthly", 1)]
    assert json.loads(presence.text("leaderboard:monthly")) == {"type": "presence", "channel": "leaderboard:monthly", "watching": 4}

    now[0] = 5.0
    await presence.step()
    assert first.presence() == [("leaderboard:monthly", 1), ("leaderboard:monthly", 4)]
    assert all(v.presence() == [("leaderboard:monthly", 4)] for v in others)

    for viewer in others[:2]:
        hub.detach(viewer.conn)
    now[0] = 10.0
    await presence.step()
    assert first.presence()[-1] == ("leaderboard:monthly", 2)
    assert presence.totals == {"leaderboard:monthly": 2} and presence.sent == 3
    assert presence.health(running=True).status == "ok"
    assert presence.health(running=False).status == "degraded"
