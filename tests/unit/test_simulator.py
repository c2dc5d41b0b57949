"""The simulated upstream's model: shape, determinism, heavy tail, resets, growth and speed."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from server.upstream.simulator import Entry, Payload, Simulation

WEDNESDAY = datetime(2025, 3, 26, 18, 0, tzinfo=UTC)
UID = re.compile(r"^[A-Za-z0-9]{20}$")
NAME = re.compile(r"^[A-Za-z0-9-]{5,42}$")


def decode(simulation: Simulation, *, limit: int | None = None) -> Payload:
    return msgspec.json.decode(simulation.payload(limit=limit), type=Payload)


def by_uid(entries: list[Entry]) -> dict[str, Entry]:
    return {entry.uid: entry for entry in entries}


def test_payload_has_the_contract_shape() -> None:
    simulation = Simulation(start=WEDNESDAY)
    payload = decode(simulation)

    assert payload.success is True
    assert len(payload.data) == 2000
    assert all(UID.match(entry.uid) for entry in payload.data)
    assert all(NAME.match(entry.name) for entry in payload.data)
    assert len({entry.uid for entry in payload.data}) == 2000
    assert len({entry.name for entry in payload.data}) == 2000
    assert any("-" in entry.name for entry in payload.data)
    assert payload.today == pytest.approx(sum(e.wagered.today for e in payload.data), abs=0.01)
    assert payload.this_week == pytest.approx(
        sum(e.wagered.this_week for e in payload.data), abs=0.01
    )


def test_payload_is_what_the_snapshot_holds_in_a_stable_unsorted_order() -> None:
    simulation = Simulation(start=WEDNESDAY, speed=60)
    first = decode(simulation).data
    assert first == simulation.snapshot()

    simulation.advance(WEDNESDAY + timedelta(minutes=10))
    later = decode(simulation).data
    assert [e.uid for e in later[: len(first)]] == [e.uid for e in first]
    for period in ("today", "this_week", "this_month", "all_time"):
        amounts = [getattr(e.wagered, period) for e in later]
        assert amounts != sorted(amounts, reverse=True)
        assert amounts != sorted(amounts)


def test_integral_amounts_are_sent_as_json_integers() -> None:
    raw = json.loads(Simulation(start=WEDNESDAY).payload())
    amounts = [value for entry in raw["data"] for value in entry["wagered"].values()]
    assert all(isinstance(value, int) == float(value).is_integer() for value in amounts)
    assert any(isinstance(value, int) and value > 0 for value in amounts)
    assert any(isinstance(value, float) for value in amounts)


def test_same_seed_gives_the_same_world_and_another_seed_does_not() -> None:
    one = Simulation(start=WEDNESDAY, seed=5, speed=60)
    two = Simulation(start=WEDNESDAY, seed=5, speed=60)
    other = Simulation(start=WEDNESDAY, seed=6, speed=60)
    later = WEDNESDAY + timedelta(hours=3)
    for simulation in (one, two, other):
        simulation.advance(later)

    assert one.payload() == two.payload()
    assert one.payload() != other.payload()


def test_one_long_advance_equals_many_short_ones() -> None:
    jumped = Simulation(start=WEDNESDAY, seed=3, speed=60)
    stepped = Simulation(start=WEDNESDAY, seed=3, speed=60)
    end = WEDNESDAY + timedelta(hours=9)  # crosses midnight

    jumped.advance(end)
    moment = WEDNESDAY
    while moment < end:
        moment += timedelta(seconds=397)
        stepped.advance(min(moment, end))

    a, b = jumped.snapshot(), stepped.snapshot()
    assert [(e.uid, e.name) for e in a] == [(e.uid, e.name) for e in b]
    for x, y in zip(a, b, strict=True):
        assert msgspec.structs.astuple(x.wagered) == pytest.approx(
            msgspec.structs.astuple(y.wagered), rel=1e-9
        )


def test_most_referrals_never_wager_and_a_few_whales_dominate() -> None:
    data = decode(Simulation(start=WEDNESDAY, seed=1)).data
    n = len(data)

    def positive(period: str) -> list[float]:
        return [getattr(e.wagered, period) for e in data if getattr(e.wagered, period) > 0]

    all_time, month, today = positive("all_time"), positive("this_month"), positive("today")
    assert 0.05 * n <= len(all_time) <= 0.15 * n
    assert 0.015 * n <= len(month) <= 0.05 * n
    assert 0.001 * n <= len(today) <= 0.03 * n
    # Heavy tail: the top 5% of wagerers hold over half of everything ever wagered.
    top = sorted(all_time, reverse=True)[: max(1, len(all_time) // 20)]
    assert sum(top) > 0.5 * sum(all_time)
    # Mostly integers, yet also floats with many decimals and dust-sized amounts.
    assert sum(amount.is_integer() for amount in all_time) > 0.5 * len(all_time)
    assert any(len(repr(amount).split(".")[-1]) >= 8 for amount in all_time)
    assert any(amount < 0.05 for amount in all_time)


def test_history_fills_the_current_week_and_month_consistently() -> None:
    data = decode(Simulation(start=WEDNESDAY)).data
    assert sum(e.wagered.this_week > e.wagered.today for e in data) > 0
    assert sum(e.wagered.this_month > e.wagered.this_week for e in data) > 0
    # Both periods began inside March, so each longer period includes the shorter one.
    for entry in data:
        w = entry.wagered
        assert w.today <= w.this_week <= w.this_month <= w.all_time


def test_demo_speed_moves_several_players_every_five_seconds() -> None:
    simulation = Simulation(start=WEDNESDAY, speed=60)
    moment = WEDNESDAY
    before = simulation.snapshot()
    orders = set()
    for _ in range(12):
        moment += timedelta(seconds=5)
        simulation.advance(moment)
        after = simulation.snapshot()
        grew = [a.uid for a, b in zip(after, before, strict=False) if a.wagered != b.wagered]
        assert len(grew) >= 3
        assert all(
            a.wagered.all_time > b.wagered.all_time and a.wagered.today > b.wagered.today
            for a, b in zip(after, before, strict=False)
            if a.wagered != b.wagered
        )
        ranked = sorted(after, key=lambda e: (-e.wagered.today, e.uid))
        orders.add(tuple(e.uid for e in ranked[:20]))
        before = after
    assert len(orders) > 1, "the top of today's board never changed"


def test_speed_zero_freezes_the_world() -> None:
    simulation = Simulation(start=WEDNESDAY, speed=0)
    before = simulation.payload()
    simulation.advance(WEDNESDAY + timedelta(hours=5))  # still Wednesday
    assert simulation.payload() == before
    assert simulation.now == WEDNESDAY + timedelta(hours=5)


def test_an_earlier_time_is_ignored() -> None:
    simulation = Simulation(start=WEDNESDAY, speed=60)
    simulation.advance(WEDNESDAY + timedelta(minutes=5))
    before = simulation.payload()
    simulation.advance(WEDNESDAY)
    assert simulation.now == WEDNESDAY + timedelta(minutes=5)
    assert simulation.payload() == before


@pytest.mark.parametrize(
    ("midnight", "reset"),
    [
        (datetime(2025, 3, 27, tzinfo=UTC), {"today"}),  # Thursday
        (datetime(2025, 3, 31, tzinfo=UTC), {"today", "this_week"}),  # Monday
        (datetime(2025, 4, 1, tzinfo=UTC), {"today", "this_month"}),  # Tuesday the 1st
        (datetime(2025, 9, 1, tzinfo=UTC), {"today", "this_week", "this_month"}),  # Monday 1st
    ],
)
def test_crossing_a_utc_boundary_zeroes_exactly_its_periods(
    midnight: datetime, reset: set[str]
) -> None:
    simulation = Simulation(start=midnight - timedelta(minutes=1), speed=0)
    uid = simulation.snapshot()[0].uid
    simulation.wager(uid, 250.5)
    before = simulation.snapshot()

    simulation.advance(midnight + timedelta(seconds=30))
    after = simulation.snapshot()

    for period in ("today", "this_week", "this_month", "all_time"):
        old = [getattr(e.wagered, period) for e in before]
        new = [getattr(e.wagered, period) for e in after]
        if period in reset:
            assert any(old) and not any(new), period
        else:
            assert new == old, period
    simulation.wager(uid, 10)
    wagered = by_uid(simulation.snapshot())[uid].wagered
    assert wagered.today == 10
    assert wagered.all_time == by_uid(before)[uid].wagered.all_time + 10


def test_after_midnight_today_holds_only_what_was_wagered_since() -> None:
    midnight = datetime(2025, 3, 27, tzinfo=UTC)
    simulation = Simulation(start=midnight - timedelta(minutes=30), speed=60)
    simulation.advance(midnight)
    at_midnight = by_uid(simulation.snapshot())
    assert not any(e.wagered.today for e in at_midnight.values())

    simulation.advance(midnight + timedelta(minutes=10))
    later = simulation.snapshot()
    assert any(e.wagered.today for e in later)
    for entry in later:
        since = entry.wagered.all_time - (
            at_midnight[entry.uid].wagered.all_time if entry.uid in at_midnight else 0.0
        )
        assert entry.wagered.today == pytest.approx(since, rel=1e-9, abs=1e-9)
        assert entry.wagered.this_week >= entry.wagered.today


def test_new_referrals_join_at_the_end_and_names_change_rarely() -> None:
    simulation = Simulation(start=WEDNESDAY, speed=60)
    before = simulation.snapshot()
    simulation.advance(WEDNESDAY + timedelta(hours=12))
    after = simulation.snapshot()

    joined = after[len(before) :]
    assert len(joined) >= 20
    assert [e.uid for e in after[: len(before)]] == [e.uid for e in before]
    assert sum(e.wagered.all_time == 0 for e in joined) > 0.7 * len(joined)
    renamed = [a for a, b in zip(after, before, strict=False) if a.name != b.name]
    assert 1 <= len(renamed) <= 0.02 * len(before)
    assert len({e.name for e in after}) == len(after)
    assert all(NAME.match(e.name) for e in renamed + joined)


def test_wager_and_rename_act_on_one_referral() -> None:
    simulation = Simulation(start=WEDNESDAY, speed=0)
    first, second = simulation.snapshot()[:2]

    simulation.wager(first.uid, 0.001)
    simulation.rename(first.uid, "Fresh-Name-01")
    simulation.rename(first.uid, "Fresh-Name-01")  # its own name again: a no-op
    entry = by_uid(decode(simulation).data)[first.uid]
    assert entry.name == "Fresh-Name-01"
    assert entry.wagered.all_time == pytest.approx(first.wagered.all_time + 0.001)

    with pytest.raises(KeyError):
        simulation.wager("nobody", 5)
    with pytest.raises(ValueError):
        simulation.wager(first.uid, 0)
    with pytest.raises(ValueError):
        simulation.rename(second.uid, "Fresh-Name-01")
    with pytest.raises(KeyError):
        simulation.rename("nobody", "Someone")


def test_limit_keeps_the_first_entries_and_the_full_totals() -> None:
    simulation = Simulation(start=WEDNESDAY)
    full, cut = decode(simulation), decode(simulation, limit=600)
    assert cut.data == full.data[:600]
    assert (cut.today, cut.this_week) == (full.today, full.this_week)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        Simulation(start=datetime(2025, 3, 26))
    simulation = Simulation(start=WEDNESDAY, players=10)
    with pytest.raises(ValueError):
        simulation.advance(datetime(2025, 3, 27))


def test_a_hundred_thousand_players_stay_fast() -> None:
    simulation = Simulation(start=WEDNESDAY, players=100_000, speed=60)
    assert len(decode(simulation).data) == 100_000

    began = time.perf_counter()
    simulation.advance(WEDNESDAY + timedelta(seconds=5))
    body = simulation.payload()
    elapsed = time.perf_counter() - began

    assert elapsed < 0.5
    payload = msgspec.json.decode(body, type=Payload)
    assert len(payload.data) >= 100_000
    assert sum(e.wagered.all_time > 0 for e in payload.data) > 5_000
