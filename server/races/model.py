"""Races as values: kinds, statuses, prize splits and prize money in cents (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import msgspec

from server.errors import BadRequest

MAX_PLACES = 100  # paid places a split may have


class RaceKind(StrEnum):
    MONTHLY = "monthly"  # ranks by the upstream's this_month
    WEEKLY = "weekly"  # ranks by this_week
    CUSTOM = "custom"  # any dates; ranks by all_time growth since a baseline taken at the start


class RaceStatus(StrEnum):
    UPCOMING = "upcoming"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (RaceStatus.ENDED, RaceStatus.CANCELLED)


class Finalized(StrEnum):
    ON_TIME = "on_time"  # a server was running at ends_at
    ON_STARTUP = "on_startup"  # every server was down at ends_at: finalized from the last stored standings


class InvalidRace(BadRequest):
    """A race or split that cannot be accepted; the message says why."""


class Winner(msgspec.Struct, frozen=True):
    position: int
    uid: str
    name: str
    amount: float
    prize_cents: int


class AuditEntry(msgspec.Struct, kw_only=True):
    """One change to a race, as kept in its audit log."""

    at: datetime
    action: str  # created | edited | prizes_changed | cancelled | settled
    actor: str  # "admin" (the admin API) or "system" (automatic races; settling)
    details: dict[str, Any]  # created: the terms; settled: the hash; else {field: {"from": old, "to": new}}


class Race(msgspec.Struct, frozen=True, kw_only=True):
    """One race as stored. `version` grows by one per message on its `race:{id}` channel."""

    id: int
    version: int
    title: str
    kind: RaceKind
    status: RaceStatus
    starts_at: datetime
    ends_at: datetime
    pool_cents: int
    split: tuple[float, ...]
    min_wager: float = 0.0
    description: str = ""
    auto_key: str | None = None  # set on automatic races: one per period, whoever creates it
    created_at: datetime | None = None
    updated_at: datetime | None = None
    baseline_at: datetime | None = None  # custom races: when the all_time baseline was taken
    standings_at: datetime | None = None  # when the snapshot behind the stored standings was synced
    finalized: Finalized | None = None
    finalized_at: datetime | None = None
    winners: tuple[Winner, ...] = ()
    final_sha256: str | None = None  # SHA-256 of the final standings' canonical JSON, set with the winners

    @property
    def prizes_cents(self) -> tuple[int, ...]:
        return prizes_cents(self.pool_cents, self.split)


def validate_split(split: Sequence[float]) -> tuple[float, ...]:
    """A split as percent per place: each share > 0, non-increasing by place, total <= 100."""
    if isinstance(split, (str, bytes)) or not isinstance(split, Sequence):
        raise InvalidRace("split must be a list of percentages, first place first")
    if not split:
        raise InvalidRace("split must name at least one paid place")
    if len(split) > MAX_PLACES:
        raise InvalidRace(f"split pays at most {MAX_PLACES} places (got {len(split)})")
    shares: list[Decimal] = []
    for place, share in enumerate(split, 1):
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share):
            raise InvalidRace(f"split: place {place} is not a number ({share!r})")
        if share <= 0:
            raise InvalidRace(f"split: place {place} gets {share}%; every share must be above 0")
        if shares and share > float(shares[-1]):
            raise InvalidRace(
                f"split: place {place} gets {share}%, more than place {place - 1} ({float(shares[-1])}%); "
                "shares must not increase by place"
            )
        shares.append(_decimal(share))
    total = sum(shares, Decimal(0))
    if total > 100:
        raise InvalidRace(f"split adds up to {total}%; it must not exceed 100%")
    return tuple(float(s) for s in split)


def prizes_cents(pool_cents: int, split: Sequence[float]) -> tuple[int, ...]:
    """Prize per place in cents: pool x share, rounded down, so payouts never exceed the pool.

    Shares are taken at their decimal value (29% of 100 cents is 29, not 28.999...).
    """
    return tuple(
        int((pool_cents * _decimal(share) / 100).to_integral_value(rounding=ROUND_FLOOR)) for share in split
    )


def cents_from_amount(text: str) -> int:
    """'1000', '1,000.50' or '12.5' (currency units) -> cents; at most two decimals, above 0."""
    try:
        value = Decimal(text.replace(",", "").replace("_", "").strip())
    except InvalidOperation:
        raise ValueError("must be an amount such as 1000 or 1000.50") from None
    if not value.is_finite() or value <= 0:
        raise ValueError("must be an amount above 0")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError("must have at most two decimals")
    return int(cents)


def split_from_text(text: str) -> tuple[float, ...]:
    """'50,25,15,10' -> (50.0, 25.0, 15.0, 10.0), validated."""
    try:
        shares = [float(part) for part in text.replace("%", "").split(",") if part.strip()]
    except ValueError:
        raise ValueError("must be percentages separated by commas, e.g. 50,25,15,10") from None
    try:
        return validate_split(shares)
    except InvalidRace as exc:
        raise ValueError(str(exc)) from None


def _decimal(share: float) -> Decimal:
    # The shortest repr is what the operator typed: 33.3, not 33.29999999999999715783.
    return Decimal(repr(float(share))) if isinstance(share, float) else Decimal(share)


MAX_TITLE = 120
MAX_DESCRIPTION = 4000


def check_terms(
    *,
    kind: RaceKind,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    pool_cents: int,
    min_wager: float,
    description: str,
    window: tuple[datetime, datetime] | None,
) -> None:
    """Raise InvalidRace with the reason when a race's terms do not hold together.

    `window` is the calendar month or week a monthly or weekly race must cover exactly
    (their standings are the upstream's period amounts, which follow the calendar).
    """
    if not title.strip() or len(title) > MAX_TITLE:
        raise InvalidRace(f"title must be 1-{MAX_TITLE} characters")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidRace(f"description must be at most {MAX_DESCRIPTION} characters")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidRace("starts_at and ends_at need a UTC offset, e.g. 2026-12-01T00:00:00Z")
    if ends_at <= starts_at:
        raise InvalidRace("ends_at must be after starts_at")
    if pool_cents < 0:
        raise InvalidRace("pool_cents must not be negative")
    if not (math.isfinite(min_wager) and min_wager >= 0):
        raise InvalidRace("min_wager must be a number >= 0")
    if window is not None and (starts_at, ends_at) != window:
        raise InvalidRace(
            f"a {kind.value} race covers one calendar {'month' if kind is RaceKind.MONTHLY else 'week (Monday to Monday)'} "
            f"in UTC: starts_at {window[0].isoformat()} and ends_at {window[1].isoformat()}; "
            "use a custom race for other dates"
        )
