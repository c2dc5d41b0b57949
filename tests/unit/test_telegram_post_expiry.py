"""Race posts expire when the window they are written in closes (pure)."""

from __future__ import annotations

from datetime import timedelta

from server.races.model import Finalized, RaceStatus, Winner
from server.telegram.announcer import race_posts
from tests.unit.test_telegram_announcer import END, START, race


def expiry(posts: list, kind: str):  # noqa: ANN001, ANN201
    [post] = [p for p in posts if p.kind == kind]
    return post.expires_at


def test_each_race_post_expires_when_it_stops_being_news() -> None:
    assert expiry(race_posts(race(), (), START + timedelta(seconds=2)), "race_started") == START + timedelta(hours=1)
    sprint = race(ends_at=START + timedelta(minutes=20))
    assert expiry(race_posts(sprint, (), START + timedelta(seconds=2)), "race_started") == sprint.ends_at
    assert expiry(race_posts(race(), (), END - timedelta(minutes=59)), "race_1h") == END - timedelta(minutes=10)
    assert expiry(race_posts(race(), (), END - timedelta(minutes=9)), "race_10m") == END
    settled_at = END + timedelta(seconds=5)
    settled = race(RaceStatus.ENDED, finalized=Finalized.ON_TIME, finalized_at=settled_at, winners=(Winner(1, "a", "Ann", 5.0, 6000),))
    assert expiry(race_posts(settled, (), settled_at), "race_ended") == settled_at + timedelta(hours=6)
