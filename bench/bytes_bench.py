"""Bytes on the wire: a `delta` for N moves against a full snapshot of a 2,000-row board.

Both messages are made by the real code: ranking, diff, and LiveBoards' encoder (the text
the hub broadcasts). Players and names come from the simulator. Two move patterns: movers
spread over the board (typical) and movers all in the top 100 (the most overtakes).

    .venv/bin/python -m bench.bytes_bench --rows 2000 --moves 50
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime

from server.leaderboard.board import Board, Period, Player
from server.leaderboard.diff import diff
from server.leaderboard.live import LiveBoards
from server.leaderboard.ranking import rank
from server.realtime.messages import BoardsSynced, DeltaMsg
from server.upstream.simulator import Simulation

PERIOD = Period.MONTHLY
CHANNEL = f"leaderboard:{PERIOD.value}"
AT = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def players(rows: int, seed: int) -> list[Player]:
    """`rows` simulated referrals that wagered, their all-time amounts used as this month's."""
    sim = Simulation(players=rows * 12, seed=seed, start=AT, speed=0)  # ~10% ever wagered
    wagered = [e for e in sim.snapshot() if e.wagered.all_time > 0]
    if len(wagered) < rows:
        raise SystemExit(f"the simulation gave only {len(wagered)} wagering players")
    return [Player(e.uid, e.name, 0.0, 0.0, e.wagered.all_time, e.wagered.all_time) for e in wagered[:rows]]


def moved(board: Board, everyone: list[Player], moves: int, top: int | None, rng: random.Random) -> list[Player]:
    """The same players after `moves` of them wagered enough to pass 1-20 rows."""
    rows = board.rows
    pool = range(1, len(rows)) if top is None else range(1, min(top, len(rows)))
    by_uid = {p.uid: p for p in everyone}
    for index in rng.sample(pool, moves):
        row = rows[index]
        ahead = rows[max(0, index - rng.randint(1, 20))]
        p = by_uid[row.uid]
        amount = ahead.amount + rng.uniform(0.5, 50.0)
        by_uid[row.uid] = Player(p.uid, p.name, p.today, p.weekly, amount, max(p.all_time, amount))
    return list(by_uid.values())


def measure(rows: int, moves: int, top: int | None, seed: int) -> dict[str, object]:
    everyone = players(rows, seed)
    old = rank(everyone, PERIOD)
    live = LiveBoards()
    live.reset_to({PERIOD: old}, seq=1, sync_id=1, synced_at=AT)
    snapshot = live.snapshot_text(PERIOD, CHANNEL, None).encode()

    new = rank(moved(old, everyone, moves, top, random.Random(seed)), PERIOD)
    d = diff(old, new)
    msg = DeltaMsg(
        channel=CHANNEL, seq=2, period=PERIOD, sync_id=2, synced_at=AT, total=new.total,
        reset=d.reset, changes=d.changes, left=d.left, overtakes=d.overtakes, shifted=d.shifted,
    )
    outcome = live.apply_event(BoardsSynced(seq=2, sync_id=2, synced_at=AT, deltas=[msg]))
    if outcome != "applied":
        raise RuntimeError(f"the delta did not apply: {outcome}")
    delta = live.latest_text(PERIOD).encode()
    if live.board(PERIOD) != new:
        raise RuntimeError("applying the delta did not give the new board")
    import msgspec

    overtake_bytes = len(msgspec.json.encode(d.overtakes))
    return {
        "pattern": "spread over the board" if top is None else f"all in the top {top}",
        "snapshot": len(snapshot),
        "delta": len(delta),
        "changes": len(d.changes),
        "overtakes": len(d.overtakes),
        "overtake_bytes": overtake_bytes,
        "shifted": d.shifted,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = [measure(args.rows, args.moves, top, args.seed) for top in (None, 100)]
    print(f"### Delta for {args.moves} moves vs a {args.rows:,}-row snapshot (`{CHANNEL}`, JSON text as broadcast)\n")
    print("| movers | snapshot bytes | delta bytes | delta / snapshot | changes | overtakes (bytes) | rows shifted |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['pattern']} | {r['snapshot']:,} | {r['delta']:,} | {r['delta'] / r['snapshot']:.1%} | "
            f"{r['changes']} | {r['overtakes']} ({r['overtake_bytes']:,}) | {r['shifted']:,} |"
        )
    worst = max(r["delta"] / r["snapshot"] for r in results)
    print(f"\nGoal: delta <= 10% of the snapshot; worst pattern {worst:.1%}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
