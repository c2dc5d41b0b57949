"""Ranked boards: the immutable value types the ranking, diff and store share."""

from __future__ import annotations

from enum import StrEnum

import msgspec


class Period(StrEnum):
    """A leaderboard period; the value is what clients and URLs use."""

    TODAY = "today"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    ALL_TIME = "all_time"


class Player(msgspec.Struct, frozen=True):
    """One referral as the upstream reports it in one snapshot (full precision amounts)."""

    uid: str
    name: str
    today: float
    weekly: float
    monthly: float
    all_time: float
    # The upstream's name when `name` is masked (NAME_MASK=partial, see privacy.py): stored,
    # and shown to the player alone; None when `name` is the upstream's name.
    real_name: str | None = None

    def amount(self, period: Period) -> float:
        return getattr(self, period.value)


class Row(msgspec.Struct, frozen=True, gc=False):
    """One ranked line of a board. Ranks start at 1."""

    rank: int
    uid: str
    name: str
    amount: float


class Board(msgspec.Struct, frozen=True):
    """A period's ranked board: only players with amount > 0, best first.

    Order is amount descending, then uid ascending, so equal amounts never swap places
    between syncs.
    """

    period: Period
    rows: tuple[Row, ...] = ()

    @property
    def total(self) -> int:
        return len(self.rows)


def sort_key(uid: str, amount: float) -> tuple[float, str]:
    """The one ordering every board uses (also mirrored by the web client)."""
    return (-amount, uid)


class ChangeKind(StrEnum):
    ENTERED = "entered"  # was not on the board (amount was 0 or player is new)
    MOVED = "moved"  # amount changed and the rank changed
    WAGERED = "wagered"  # amount changed, rank stayed
    RENAMED = "renamed"  # only the display name changed


class Change(msgspec.Struct, frozen=True, omit_defaults=True):
    """A row whose own data changed in a sync. Rows that only shifted because others
    moved are not listed: their new rank follows from the board order."""

    kind: ChangeKind
    uid: str
    name: str
    rank: int
    amount: float
    prev_rank: int | None = None  # None when the player entered
    prev_amount: float = 0.0


class Overtake(msgspec.Struct, frozen=True, array_like=True):
    """`uid` passed `passed` and now holds `rank`."""

    uid: str
    passed: str
    rank: int


class Delta(msgspec.Struct, frozen=True):
    """What turns the previous board of a period into the new one.

    When `reset` is true the period rolled over upstream (amounts dropped to zero for
    most players): `changes` then carries the whole new board and `left` is empty.
    """

    period: Period
    reset: bool = False
    changes: tuple[Change, ...] = ()
    left: tuple[str, ...] = ()
    overtakes: tuple[Overtake, ...] = ()
    shifted: int = 0  # rows whose rank changed only because others moved

    @property
    def empty(self) -> bool:
        return not (self.reset or self.changes or self.left)
