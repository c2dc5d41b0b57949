"""Diffing: the Delta between two boards of a period, and applying one to a board."""

from __future__ import annotations

from bisect import bisect_left
from itertools import compress
from operator import attrgetter, not_

from server.leaderboard.board import Board, Change, ChangeKind, Delta, Overtake, Row, sort_key
from server.leaderboard.periods import looks_like_reset

__all__ = ["apply", "diff", "is_reset"]

_uid = attrgetter("uid")

_ENTERED = ChangeKind.ENTERED
_MOVED = ChangeKind.MOVED
_WAGERED = ChangeKind.WAGERED
_RENAMED = ChangeKind.RENAMED


def is_reset(old: Board, new: Board, *, rollover: bool) -> bool:
    """Whether the period started over upstream between the two boards.

    Two things must agree: a UTC boundary of the period passed between the snapshots
    (`rollover`, from `periods.rolled_over`), and the data dropped as a rollover drops it
    (`periods.looks_like_reset`). A drop without a boundary is a correction (a refund), a
    normal move whatever the board's size; a boundary without such a drop is a period that
    has not rolled over upstream yet.
    """
    return rollover and looks_like_reset(
        ((row.uid, row.amount) for row in old.rows), {row.uid: row.amount for row in new.rows}
    )


def diff(old: Board, new: Board, *, rollover: bool = False, overtake_top: int = 100, overtake_cap: int = 10) -> Delta:
    """What changed from `old` to `new`, such that `apply(old, diff(old, new)) == new`.

    With `rollover` (a boundary of the period passed between the snapshots) a drop of at
    least half the board is a reset (see `is_reset`); without it every drop is a move.

    Overtakes are listed for rows that improved their rank to `overtake_top` or better,
    at most `overtake_cap` per row, the players just behind the mover first.
    """
    if old.period != new.period:
        raise ValueError(f"cannot diff a {old.period} board against a {new.period} board")
    old_by_uid = dict(zip(map(_uid, old.rows), old.rows))
    changes: list[Change] = []
    shifted = entered = decreased = 0
    # The loop is memory-bound (every row points at strings scattered in upstream order),
    # so it touches as little as it can: rows whose uid, name and amount are unchanged
    # (the bulk) cost one lookup and two comparisons.
    for row, prev in zip(new.rows, map(old_by_uid.get, map(_uid, new.rows))):
        if prev is None:
            entered += 1
            changes.append(Change(_ENTERED, row.uid, row.name, row.rank, row.amount))
            continue
        if prev.amount == row.amount:
            if prev.name == row.name:
                if prev.rank != row.rank:
                    shifted += 1
                continue
            kind = _RENAMED
        else:
            if row.amount < prev.amount:
                decreased += 1
            kind = _WAGERED if prev.rank == row.rank else _MOVED
        changes.append(
            Change(kind, row.uid, row.name, row.rank, row.amount, prev.rank, prev.amount)
        )

    left_total = len(old.rows) - (len(new.rows) - entered)
    # Counting drops costs nothing in the loop above; the full check runs only when they are many.
    if rollover and (left_total + decreased) * 2 >= len(old.rows) > 0 and is_reset(old, new, rollover=True):
        return _reset(new)
    left: list[str] = sorted(old_by_uid.keys() - set(map(_uid, new.rows))) if left_total else []
    overtakes = _overtakes(
        changes,
        new.rows,
        old_by_uid,
        sorted(old_by_uid[uid].rank for uid in left),
        overtake_top,
        overtake_cap,
    )
    return Delta(
        new.period,
        changes=tuple(changes),
        left=tuple(left),
        overtakes=tuple(overtakes),
        shifted=shifted,
    )


def _reset(new: Board) -> Delta:
    changes = tuple([Change(_ENTERED, r.uid, r.name, r.rank, r.amount) for r in new.rows])
    return Delta(new.period, reset=True, changes=changes)


def _overtakes(
    changes: list[Change],
    new_rows: tuple[Row, ...],
    old_by_uid: dict[str, Row],
    left_ranks: list[int],
    top: int,
    cap: int,
) -> list[Overtake]:
    """Who each improving mover passed: players ahead of it before and behind it now.

    Rather than scanning the whole board per mover, count how many it passed (those ahead
    of it before, minus those still ahead and those who left: a look at at most `top` rows)
    and walk down from its new rank only until that many, or `cap`, are found.
    """
    overtakes: list[Overtake] = []
    if cap <= 0:
        return overtakes
    previous = old_by_uid.get
    absent = len(old_by_uid) + 1  # an entered player counts as ranked below everyone
    for change in changes:  # in new rank order
        rank = change.rank
        if rank > top:
            break
        old_rank = absent if change.prev_rank is None else change.prev_rank
        if rank >= old_rank:
            continue
        still_ahead = 0
        for row in new_rows[: rank - 1]:
            prev = previous(row.uid)
            if prev is not None and prev.rank < old_rank:
                still_ahead += 1
        wanted = min(cap, old_rank - 1 - still_ahead - bisect_left(left_ranks, old_rank))
        index = rank  # the row ranked just behind the mover
        while wanted > 0 and index < len(new_rows):  # the bound only guards malformed boards
            row = new_rows[index]
            prev = previous(row.uid)
            if prev is not None and prev.rank < old_rank:
                overtakes.append(Overtake(change.uid, row.uid, rank))
                wanted -= 1
            index += 1
    return overtakes


def _row_key(row: Row) -> tuple[float, str]:
    return sort_key(row.uid, row.amount)


def apply(old: Board, delta: Delta) -> Board:
    """The board `delta` turns `old` into; ranks are renumbered from the board order."""
    if old.period != delta.period:
        raise ValueError(f"cannot apply a {delta.period} delta to a {old.period} board")
    incoming = sorted((Row(0, c.uid, c.name, c.amount) for c in delta.changes), key=_row_key)
    if delta.reset:
        return Board(delta.period, _numbered(incoming))
    if not incoming and not delta.left:
        return old
    gone = set(delta.left)
    gone.update(map(_uid, incoming))
    # Rows that stay keep their relative order; the changed ones are merged in by bisect.
    kept = list(compress(old.rows, map(not_, map(gone.__contains__, map(_uid, old.rows)))))
    merged: list[Row] = []
    start = 0
    for row in incoming:
        at = bisect_left(kept, _row_key(row), lo=start, key=_row_key)
        merged.extend(kept[start:at])
        merged.append(row)
        start = at
    merged.extend(kept[start:])
    return Board(delta.period, _numbered(merged))


def _numbered(rows: list[Row]) -> tuple[Row, ...]:
    # Reuse the rows whose rank is unchanged: most of them, on a quiet sync.
    return tuple(
        [
            row if row.rank == rank else Row(rank, row.uid, row.name, row.amount)
            for rank, row in enumerate(rows, 1)
        ]
    )
