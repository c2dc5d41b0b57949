"""What the bot says: digests, race posts, alerts, escaping and splitting (pure)."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from server.leaderboard.board import Board, Change, ChangeKind, Overtake, Period, Row
from server.races.model import Race, RaceKind, RaceStatus, Winner
from server.races.standings import Standing
from server.realtime.messages import DeltaMsg
from server.telegram.alerts import moves
from server.telegram.formatting import MAX_LENGTH, Move, alert, digest, duration, name, race_ended, race_started, race_time_left, split

HOSTILE = '<b>evil</b>&"'
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def delta(*changes: Change, overtakes: tuple[Overtake, ...] = (), reset: bool = False, left: tuple[str, ...] = ()) -> DeltaMsg:
    return DeltaMsg(
        channel="leaderboard:today", seq=2, period=Period.TODAY, sync_id=1, synced_at=AT, total=100,
        reset=reset, changes=changes, overtakes=overtakes, left=left,
    )


def moved(uid: str, name_: str, rank: int, prev: int | None, amount: float = 100.0) -> Change:
    kind = ChangeKind.ENTERED if prev is None else ChangeKind.MOVED
    return Change(kind, uid, name_, rank, amount, prev)


def test_every_name_is_escaped() -> None:
    text = digest(
        delta(moved("a", HOSTILE, 2, 6), overtakes=(Overtake("a", "b", 2),)),
        {"a": HOSTILE, "b": "<i>x</i>"},
        top_n=10,
        min_move=1,
    )
    assert text is not None
    assert "<b>evil</b>" not in text.replace("<b>&lt;b&gt;", "")  # only our own tags are tags
    assert html.escape(HOSTILE) in text and "&lt;i&gt;x&lt;/i&gt;" in text
    assert name("a\nb") == "a b"  # a name never breaks its line
    assert len(name("x" * 500)) < 60
    flag = "\U0001f1fa\U0001f1f8"
    assert name(flag * 30) == flag * 47 + "…" or name(flag * 30) == flag * 30  # 30 flags fit in 48 graphemes
    assert name("a" * 47 + flag * 3) == "a" * 47 + "…"  # cut before the flag, never through it
    assert name("\u202eevil") == "evil" and name("\u200b") == "?" and name("") == "?"


def test_digest_lists_entries_movers_and_passes_within_top_n() -> None:
    changes = (
        moved("a", "Ann", 1, 4, 900),
        Change(ChangeKind.WAGERED, "w", "Same", 2, 600, 2, 590),  # wagered, kept its place
        moved("n", "Newbie", 3, None, 500),
        moved("s", "Small", 6, 7, 250),  # one place: below min_move 2
        moved("c", "Climber", 8, 15, 200),  # into the top 10: an entry, not a move
        moved("far", "Far", 40, 90),  # outside the top 10
    )
    overtakes = (Overtake("a", "b", 1), Overtake("far", "x", 40))
    text = digest(delta(*changes, overtakes=overtakes), {"a": "Ann", "b": "Bob", "far": "Far", "x": "Xena"}, top_n=10, min_move=2)
    assert text == (
        "📊 <b>Today</b> · top 10\n"
        "🆕 <b>Newbie</b> enters the top 10 at #3 ($500.00)\n"
        "🆕 <b>Climber</b> enters the top 10 at #8 ($200.00, up from #15)\n"
        "⬆️ <b>Ann</b> #4 → #1 ($900.00)\n"
        "⚔️ Ann passed Bob for #1"
    )


def test_nothing_in_the_top_n_means_no_digest() -> None:
    assert digest(delta(moved("far", "Far", 40, 90)), {}, top_n=10, min_move=1) is None
    assert digest(delta(), {}, top_n=10, min_move=1) is None


def test_a_reset_is_one_line() -> None:
    text = digest(delta(moved("a", "Ann", 1, None, 50), moved("b", "Bob", 2, None, 20), reset=True), {}, top_n=10, min_move=1)
    assert text == "📊 <b>Today</b> · top 10\n🔄 New day: the today board started over; Ann leads with $50.00."


def test_long_sections_are_capped() -> None:
    passes = tuple(Overtake("a", f"p{i}", 1) for i in range(25))
    text = digest(delta(moved("a", "Ann", 1, 30), overtakes=passes), {"a": "Ann"}, top_n=10, min_move=1)
    assert text is not None and text.endswith("… and 15 more") and text.count("⚔️") == 10


def race(**overrides: object) -> Race:
    values: dict[str, object] = {
        "id": 7, "version": 3, "title": HOSTILE, "kind": RaceKind.CUSTOM, "status": RaceStatus.LIVE,
        "starts_at": AT, "ends_at": AT + timedelta(hours=3), "pool_cents": 100_050, "split": (50.0, 30.0, 20.0),
    }
    values.update(overrides)
    return Race(**values)  # type: ignore[arg-type]


def test_race_posts() -> None:
    assert race_started(race()) == (
        "🏁 <b>&lt;b&gt;evil&lt;/b&gt;&amp;&quot;</b> is live!\n"
        "Prize pool $1,000.50 · ends Dec 01, 15:00 UTC\n"
        "Prizes: 🥇 $500.25 · 🥈 $300.15 · 🥉 $200.10"
    )
    standing = Standing(position=1, prev_position=2, uid="a", name="<Ann>", amount=12.5, prize_cents=50_025, gap=None, qualified=True)
    assert race_time_left(race(), "10 minutes", [standing]).splitlines()[1] == "🥇 &lt;Ann&gt; — $12.50 · $500.25"
    assert "No wagers yet" in race_time_left(race(), "1 hour", [])
    winners = [Winner(1, "a", "<Ann>", 1234.5, 50_025), Winner(2, "b", "Bob", 99.0, 30_015)]
    assert race_ended(race(status=RaceStatus.ENDED), winners) == (
        "🏆 <b>&lt;b&gt;evil&lt;/b&gt;&amp;&quot;</b> has ended!\n"
        "🥇 <b>&lt;Ann&gt;</b> — $1,234.50 wagered — wins $500.25\n"
        "🥈 <b>Bob</b> — $99.00 wagered — wins $300.15"
    )
    assert "No one qualified" in race_ended(race(status=RaceStatus.ENDED), [])


def test_amounts_read_as_on_the_web_pages() -> None:
    # The upstream printed 2.675 and 0.125: the pages show $2.68 and $0.13, and so does the bot.
    rows = [
        Standing(position=1, prev_position=None, uid="a", name="Ann", amount=2.675, prize_cents=0, gap=None, qualified=True),
        Standing(position=2, prev_position=None, uid="b", name="Bob", amount=0.125, prize_cents=0, gap=2.55, qualified=True),
    ]
    assert race_time_left(race(), "1 hour", rows).splitlines()[1:] == ["🥇 Ann — $2.68", "🥈 Bob — $0.13"]


def test_alert_text() -> None:
    text = alert("<Ann>", [Move(Period.TODAY, 3, 5, ("Bob", "<Eve>")), Move(Period.ALL_TIME, None, 40)])
    assert text == "🔔 <b>&lt;Ann&gt;</b>\n📉 Today: down to #5 (was #3) — passed by Bob, &lt;Eve&gt;\nAll time: you're on the board at #40"
    assert alert("x", []) is None


def test_moves_see_players_who_only_slid_down() -> None:
    old = Board(Period.TODAY, tuple(Row(i + 1, u, u.upper(), 100.0 - i) for i, u in enumerate("abcdef")))
    d = delta(moved("f", "F", 2, 6, 99.5), overtakes=(Overtake("f", "b", 2),))  # f passes b..e; overtakes capped at one
    found = moves(old, d, {"b", "d", "a"}, {"f": "F"})
    assert found == {
        "b": Move(Period.TODAY, 2, 3, ("F",)),
        "d": Move(Period.TODAY, 4, 5, ()),
    }
    assert moves(old, delta(moved("f", "F", 1, None), reset=True), {"a"}, {}) == {}


def test_split_keeps_lines_whole_and_stays_below_the_limit() -> None:
    lines = [f"{i:04d} " + "é" * 50 for i in range(300)]
    text = "\n".join(lines)
    pieces = split(text)
    assert len(pieces) > 1 and all(len(p.encode("utf-16-le")) // 2 <= MAX_LENGTH for p in pieces)
    assert "\n".join(pieces) == text


def test_split_counts_utf16_like_telegram() -> None:
    text = "\n".join(["😀" * 1000] * 3)  # 2,000 units a line
    pieces = split(text)
    assert [len(p.encode("utf-16-le")) // 2 for p in pieces] == [4001, 2000]


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300), min_size=1, max_size=60))
def test_split_never_exceeds_the_limit_nor_cuts_an_entity(parts: list[str]) -> None:
    text = "\n".join(html.escape(p) for p in parts) + "\n" + "&amp;" * 2000
    for piece in split(text, limit=500):
        assert len(piece.encode("utf-16-le")) // 2 <= 500
        assert html.escape(html.unescape(piece), quote=False) == piece.replace("&quot;", '"').replace("&#x27;", "'")


def test_duration() -> None:
    assert [duration(s) for s in (5, 65, 3_725, 90_000)] == ["5s", "1m 5s", "1h 2m", "1d 1h"]
