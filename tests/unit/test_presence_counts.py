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


def test_a_count_every_viewer_was_told_on_subscribing_is_not_sent_again() -> None:
    throttle = Throttle(5.0)
    throttle.told("a", 1)  # a lone viewer subscribes to a quiet channel: "1 watching" with its snapshot
    assert throttle.due({"a": 1}, now=0.0) == [], "it holds 1 already"
    assert throttle.due({"a": 1}, now=5.0) == []
    assert throttle.due({"a": 2}, now=6.0) == [("a", 2)], "nothing was sent, so a change goes at once"


def test_viewers_told_different_counts_all_hear_the_total() -> None:
    throttle = Throttle(5.0)
    for n in (1, 2, 3):  # three viewers subscribe one after another
        throttle.told("a", n)
    assert throttle.due({"a": 3}, now=0.0) == [("a", 3)], "the first two hold 1 and 2"
    assert throttle.due({"a": 3}, now=10.0) == []


def test_a_newcomer_told_the_total_leaves_the_others_to_the_interval() -> None:
    throttle = Throttle(5.0)
    assert throttle.due({"a": 2}, now=0.0) == [("a", 2)]
    throttle.told("a", 3)  # a third viewer is told 3; the first two hold 2
    assert throttle.due({"a": 3}, now=2.0) == [], "within the interval: held"
    assert throttle.due({"a": 3}, now=5.0) == [("a", 3)]
    throttle.told("a", 4)  # a fourth is told 4, then one of the others leaves: everyone left holds 3 or 4
    assert throttle.due({"a": 3}, now=11.0) == [("a", 3)], "the newcomer holds 4"
    throttle.told("a", 4)  # another joins, told 4; the others are told 4 at the next announcement
    assert throttle.due({"a": 4}, now=16.0) == [("a", 4)]
    throttle.told("a", 4)
    assert throttle.due({"a": 4}, now=30.0) == [], "the last announcement and the newcomer agree"


def test_a_channel_left_empty_forgets_what_its_viewers_were_told() -> None:
    throttle = Throttle(5.0)
    throttle.told("a", 1)
    assert throttle.due({}, now=0.0) == []  # the viewer left before the count was taken
    assert throttle.due({"a": 1}, now=5.0) == [("a", 1)], "a viewer that was told nothing hears the count"


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


async def test_a_lone_viewer_hears_its_count_once() -> None:
    """Subscribing to a channel nobody watched: the count comes with the snapshot and is not
    repeated at the next presence step (docs/protocol.md: an unchanged count sends nothing)."""
    now = [0.0]
    hub = Hub()
    presence = Presence(hub, None, "test", 5.0, monotonic=lambda: now[0])
    await presence.step()
    viewer = Viewer(hub, "leaderboard:monthly")
    viewer.conn.push(presence.text("leaderboard:monthly"))  # as a subscribe does (realtime/socket.py follow)
    for now[0] in (5.0, 10.0, 15.0):
        await presence.step()
    assert viewer.presence() == [("leaderboard:monthly", 1)]
    second = Viewer(hub, "leaderboard:monthly")
    second.conn.push(presence.text("leaderboard:monthly"))
    now[0] = 20.0
    await presence.step()
    assert viewer.presence() == [("leaderboard:monthly", 1), ("leaderboard:monthly", 2)]
    assert second.presence() == [("leaderboard:monthly", 2), ("leaderboard:monthly", 2)], "told 2, then the channel's 2"
