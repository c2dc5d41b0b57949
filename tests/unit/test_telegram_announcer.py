"""Which race posts and admin alerts are due, and their dedupe keys (pure)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from server.errors import UpstreamAuthError
from server.leaderboard.sync import UpstreamHealth
from server.races.model import Finalized, Race, RaceKind, RaceStatus, Winner
from server.telegram.announcer import next_post_at, race_posts, token_alerts
from server.upstream.token import TokenKeeper

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
END = START + timedelta(hours=3)


def race(status: RaceStatus = RaceStatus.LIVE, **overrides: object) -> Race:
    values: dict[str, object] = {
        "id": 5, "version": 2, "title": "Sprint", "kind": RaceKind.CUSTOM, "status": status,
        "starts_at": START, "ends_at": END, "pool_cents": 10_000, "split": (60.0, 40.0),
    }
    values.update(overrides)
    return Race(**values)  # type: ignore[arg-type]


def keys(r: Race, now: datetime) -> list[str | None]:
    return [m.dedupe_key for m in race_posts(r, (), now)]


def test_each_post_falls_due_in_its_window_under_a_stable_key() -> None:
    end = int(END.timestamp())
    assert keys(race(RaceStatus.UPCOMING), START - timedelta(minutes=1)) == []
    assert keys(race(), START + timedelta(seconds=2)) == ["race:5:started"]
    assert keys(race(), START + timedelta(hours=1, minutes=30)) == []  # old news, not yet the last hour
    assert keys(race(), END - timedelta(minutes=59)) == [f"race:5:1h:{end}"]
    assert keys(race(), END - timedelta(minutes=9)) == [f"race:5:10m:{end}"]
    assert keys(race(RaceStatus.ENDED), END + timedelta(seconds=1)) == []  # not settled yet
    settled = race(RaceStatus.ENDED, finalized=Finalized.ON_TIME, finalized_at=END + timedelta(seconds=5), winners=(Winner(1, "a", "Ann", 5.0, 6000),))
    [ended] = race_posts(settled, (), END + timedelta(seconds=6))
    assert ended.dedupe_key == "race:5:ended" and ended.chat == "channel" and "Ann" in ended.text
    assert race_posts(settled, (), END + timedelta(hours=7)) == []  # too late to be news
    assert keys(race(RaceStatus.CANCELLED), START + timedelta(minutes=1)) == []


def test_a_race_whose_end_moves_gets_new_countdown_posts() -> None:
    later = END + timedelta(hours=1)
    assert keys(race(ends_at=later), later - timedelta(minutes=30)) == [f"race:5:1h:{int(later.timestamp())}"]


def test_short_races_skip_the_countdowns_that_make_no_sense() -> None:
    sprint = race(ends_at=START + timedelta(minutes=20))
    assert keys(sprint, START + timedelta(seconds=1)) == ["race:5:started"]
    assert keys(sprint, START + timedelta(minutes=15)) == ["race:5:started"]  # no "10 minutes left" in a 20 min race


def test_next_post_at_is_the_next_countdown_moment() -> None:
    assert next_post_at([race()], START) == END - timedelta(hours=1)
    assert next_post_at([race()], END - timedelta(minutes=30)) == END - timedelta(minutes=10)
    assert next_post_at([race(RaceStatus.UPCOMING)], START) is None


def jwt(expires: datetime) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"exp": int(expires.timestamp())}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{claims}.signature"


def test_token_alerts_one_dm_per_admin_per_token() -> None:
    now = START
    healthy = UpstreamHealth()
    fresh = TokenKeeper(jwt(now + timedelta(hours=5)), source="env")
    assert token_alerts(fresh, healthy, (1, 2), now) == []

    expiring = TokenKeeper(jwt(now + timedelta(minutes=30)), source="env")
    alerts = token_alerts(expiring, healthy, (1, 2), now)
    assert [a.chat for a in alerts] == ["1", "2"] and all("expires in 30 min" in a.text for a in alerts)
    exp = int(expiring.expires_at.timestamp())  # type: ignore[union-attr]
    assert [a.dedupe_key for a in alerts] == [f"token:exp{exp}:1", f"token:exp{exp}:2"]
    # The same token refused later is the same alert (same key): no second DM.
    refused = UpstreamHealth()
    refused.failed(now, UpstreamAuthError("401"))
    assert [a.dedupe_key for a in token_alerts(expiring, refused, (1,), now + timedelta(minutes=40))] == [f"token:exp{exp}:1"]

    opaque = TokenKeeper("not-a-jwt-token", source="env")
    [alert] = token_alerts(opaque, refused, (1,), now)
    assert "refused the token" in alert.text and "not-a-jwt" not in (alert.dedupe_key or "")
    assert token_alerts(expiring, healthy, (), now) == []  # no admins, nobody to tell
