from datetime import UTC, datetime

from server.leaderboard.sync import next_boundary


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_quarter_hours_align_to_the_wall_clock() -> None:
    assert next_boundary(ts("2026-11-26 10:07:31"), 900) == ts("2026-11-26 10:15:00")
    assert next_boundary(ts("2026-11-26 10:59:59"), 900) == ts("2026-11-26 11:00:00")


def test_a_boundary_instant_waits_for_the_next_one() -> None:
    assert next_boundary(ts("2026-11-26 10:15:00"), 900) == ts("2026-11-26 10:30:00")


def test_short_demo_intervals() -> None:
    assert next_boundary(ts("2026-11-26 10:00:03"), 5) == ts("2026-11-26 10:00:05")
