"""Piccolo tables for races: the races, their latest (and final) standings, custom-race
baselines, and the audit log of changes made to them."""

from __future__ import annotations

from piccolo.columns import BigInt, BigSerial, Boolean, DoublePrecision, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class RaceRow(Table, tablename="races"):
    """One race. Status changes are conditional UPDATEs (`WHERE status = ...`), so two server
    processes never both start or finalize the same race."""

    id = Serial(primary_key=True)
    version = Integer(default=1)  # seq of its race:{id} channel; bumped by every change
    title = Text()
    kind = Varchar(length=16)  # monthly | weekly | custom
    status = Varchar(length=16, default="upcoming", index=True)  # upcoming | live | ended | cancelled
    starts_at = Timestamptz()
    ends_at = Timestamptz(index=True)
    pool_cents = BigInt(default=0)
    split = Text(default="[]")  # JSON list of percent per place
    min_wager = DoublePrecision(default=0.0)
    description = Text(default="")
    auto_key = Varchar(length=64, null=True, default=None, unique=True)  # automatic races: one per period
    created_at = Timestamptz()
    updated_at = Timestamptz()
    baseline_at = Timestamptz(null=True, default=None)
    standings_at = Timestamptz(null=True, default=None)
    finalized = Varchar(length=16, null=True, default=None)  # on_time | on_startup
    finalized_at = Timestamptz(null=True, default=None)
    winners = Text(default="[]")  # JSON, set once when the race ends
    # Set with the winners: the final standings as canonical JSON (docs/races.md), served
    # byte for byte at /api/races/{id}/final.json, and its SHA-256 in hex.
    final_json = Text(null=True, default=None)
    final_sha256 = Varchar(length=64, null=True, default=None)


class RaceStandingRow(Table, tablename="race_standings"):
    """A race's standings as of its last accepted sync; once the race ends, its final result.
    Each sync writes only the rows that changed."""

    key = Varchar(length=96, primary_key=True)  # "{race_id}:{uid}"
    race_id = Integer(index=True)
    uid = Varchar(length=64)
    name = Text()
    position = Integer()
    prev_position = Integer(null=True, default=None)
    amount = DoublePrecision(default=0.0)
    prize_cents = BigInt(default=0)
    gap = DoublePrecision(null=True, default=None)
    qualified = Boolean(default=False)
    tied = Integer(default=1)  # players sharing this position


class RaceBaselineRow(Table, tablename="race_baselines"):
    """Each player's all_time amount when a custom race started (players at 0 are left out)."""

    key = Varchar(length=96, primary_key=True)  # "{race_id}:{uid}"
    race_id = Integer(index=True)
    uid = Varchar(length=64)
    all_time = DoublePrecision(default=0.0)


class RaceAuditRow(Table, tablename="race_audit"):
    """One change to a race: created, edited, prizes changed, cancelled (by an admin, or by
    the system for automatic races) or settled; written in the change's own transaction."""

    id = BigSerial(primary_key=True)
    race_id = Integer(index=True)
    at = Timestamptz()
    action = Varchar(length=16)  # created | edited | prizes_changed | cancelled | settled
    actor = Varchar(length=64)  # "admin" or "system"
    details = Text(default="{}")  # JSON: the terms when created, else {field: {"from": .., "to": ..}}


RACE_TABLES: tuple[type[Table], ...] = (RaceRow, RaceStandingRow, RaceBaselineRow, RaceAuditRow)
