"""Personal race alerts (pure): passed, out of the paid places, near the place above, each at
most once per sync and only when new; the one DM that carries them with the board moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.leaderboard.board import Period
from server.races.model import Race, RaceKind, RaceStatus
from server.races.standings import Standing
from server.telegram.formatting import Move
from server.telegram.personal import Mark, Prefs, RaceNews, personal_dm, race_lines, race_news

T0 = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
RACE = Race(
    id=7, version=1, title="December <Race>", kind=RaceKind.CUSTOM, status=RaceStatus.LIVE,
    starts_at=T0 - timedelta(days=9), ends_at=T0 + timedelta(days=2), pool_cents=100_000, split=(50.0, 30.0, 20.0),
)  # prizes: $500, $300, $200 for the top 3
ALL = Prefs(passed=True, paid=True, near_cents=100_00)  # near: within $100


def standings(*rows: tuple[str, int | None, float]) -> list[Standing]:
    """(uid, previous position, amount), best first; prizes for the top 3."""
    prizes = RACE.prizes_cents
    out = []
    for i, (uid, prev, amount) in enumerate(rows):
        position = i + 1
        out.append(
            Standing(
                position=position, prev_position=prev, uid=uid, name=uid.title(), amount=amount,
                prize_cents=prizes[i] if i < len(prizes) else 0, gap=None if i == 0 else rows[i - 1][2] - amount, qualified=True,
            )
        )
    return out


def test_passed_and_out_of_the_paid_places_in_one_sync() -> None:
    # Before: ann #1, bob #2, me #3 (paid), cy #4, di #5. Cy and Di pass me; Bob slides below me.
    after = standings(("ann", 1, 3000.0), ("cy", 4, 2000.0), ("di", 5, 1500.0), ("me", 3, 1450.25), ("bob", 2, 1200.0))
    news, mark = race_news(RACE, after, "me", ALL, Mark(7, paid=True, near_of=None))
    assert news == RaceNews(
        title="December <Race>", position=4, passed_by=("Cy", "Di"), dropped_out=True, paid_places=3, near=(49.75, 3)
    )
    assert mark == Mark(7, paid=False, near_of=3)
    assert race_lines(news) == [
        "⚔️ <b>December &lt;Race&gt;</b>: passed by Cy, Di — you're #4 now",
        "💸 <b>December &lt;Race&gt;</b>: you dropped out of the paid places — #4 now, the top 3 win prizes",
        "🎯 <b>December &lt;Race&gt;</b>: $49.75 behind #3 — you're #4",
    ]
    # The same standings at the next sync (everyone where they were): nothing new.
    same = standings(("ann", 1, 3000.0), ("cy", 2, 2000.0), ("di", 3, 1500.0), ("me", 4, 1450.25), ("bob", 5, 1200.0))
    assert race_news(RACE, same, "me", ALL, mark) == (None, mark)


def test_near_alerts_when_newly_within_reach_once() -> None:
    prefs = Prefs(near_cents=100_00)
    gaps = [150.0, 80.0, 60.0, 120.0, 90.0, 100.0]  # behind #1, sync after sync
    mark = Mark(7, paid=True, near_of=None)
    said = []
    for gap in gaps:
        news, mark = race_news(RACE, standings(("ann", 1, 1000.0 + gap), ("me", 2, 1000.0)), "me", prefs, mark)
        said.append(news.near if news else None)
    assert said == [None, (80.0, 1), None, None, (90.0, 1), None]  # into reach, out, in again; $100 is within
    # Within reach of a new place above (they climbed): that is news again.
    news, mark = race_news(RACE, standings(("ann", 1, 1090.0), ("me", 2, 1050.0), ("bob", 3, 1000.0)), "me", prefs, mark)
    assert news is None and mark.near_of == 1
    news, _ = race_news(RACE, standings(("ann", 1, 1300.0), ("me", 2, 1210.0), ("bob", 3, 1000.0)), "me", prefs, Mark(7, True, 2))
    assert news is not None and news.near == (90.0, 1)


def test_what_counts_as_new() -> None:
    rows = standings(("ann", 1, 2000.0), ("me", 2, 1950.0), ("bob", None, 1900.0), ("cy", 3, 10.0))
    # First sync after opting in (no mark): in reach is news, out of the paid places cannot be.
    news, mark = race_news(RACE, rows, "me", ALL, None)
    assert news is not None and news.near == (50.0, 1) and not news.dropped_out and news.passed_by == ()
    # A mark from another race: the same (a new race starts from nothing).
    out_of_prizes = standings(("ann", 1, 2000.0), ("bob", None, 1990.0), ("dan", None, 1980.0), ("me", 2, 1000.0))
    news, _ = race_news(RACE, out_of_prizes, "me", Prefs(paid=True), Mark(6, paid=True, near_of=None))
    assert news is None
    # A newcomer who goes straight past them did pass them; someone who was already above did not.
    news, _ = race_news(RACE, out_of_prizes, "me", Prefs(passed=True), mark)
    assert news is not None and news.passed_by == ("Bob", "Dan")
    # New to the race themselves: nobody passed them.
    new = standings(("ann", 1, 2000.0), ("bob", None, 1990.0), ("me", None, 5.0))
    assert race_news(RACE, new, "me", Prefs(passed=True), mark)[0] is None
    # Not in the race: nothing, and the mark says not paid.
    assert race_news(RACE, rows, "zed", ALL, mark) == (None, Mark(7, paid=False, near_of=None))
    # Kinds they did not ask for are not told, though they happened.
    assert race_news(RACE, out_of_prizes, "me", Prefs(near_cents=1), Mark(7, True, None))[0] is None


def test_one_dm_with_the_board_moves_and_the_race_news() -> None:
    news = RaceNews(title="Dash", position=9, passed_by=("A", "<B>", "C", "D", "E"), dropped_out=True, paid_places=0)
    moves = [Move(Period.ALL_TIME, 3, 4, ("Bob",))]
    assert personal_dm("<Ann>", moves, news) == "\n".join(
        [
            "🔔 <b>&lt;Ann&gt;</b>",
            "📉 All time: down to #4 (was #3) — passed by Bob",
            "⚔️ <b>Dash</b>: passed by A, &lt;B&gt;, C and 2 more — you're #9 now",
            "💸 <b>Dash</b>: you dropped out of the paid places — #9 now, no place wins a prize now",
        ]
    )
    assert personal_dm("Ann", [], news) is not None and personal_dm("Ann", [], news).startswith("🔔 <b>Ann</b>\n⚔️")  # type: ignore[union-attr]
    assert personal_dm("Ann", moves, None) == "🔔 <b>Ann</b>\n📉 All time: down to #4 (was #3) — passed by Bob"
    assert personal_dm("Ann", [], None) is None
