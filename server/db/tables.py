"""Piccolo tables: players with their latest amounts, sync runs, and rank history."""

from __future__ import annotations

from piccolo.columns import (
    BigSerial,
    DoublePrecision,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class PlayerRow(Table, tablename="players"):
    """The latest snapshot of each referral. Boards are derived from it by ranking,
    so a sync writes only the players whose amounts or name changed."""

    uid = Varchar(length=64, primary_key=True)
    name = Text()
    today = DoublePrecision(default=0.0)
    weekly = DoublePrecision(default=0.0)
    monthly = DoublePrecision(default=0.0)
    all_time = DoublePrecision(default=0.0)
    first_seen = Timestamptz()
    last_seen = Timestamptz()  # last sync that changed this player or found it gone
    gone_at = Timestamptz(null=True, default=None)  # no longer in the upstream's list


class SyncRun(Table, tablename="sync_runs"):
    """One attempt to sync the upstream, successful or not."""

    id = Serial(primary_key=True)
    started_at = Timestamptz(index=True)
    finished_at = Timestamptz(null=True, default=None)
    status = Varchar(length=16, default="running")  # running | ok | failed | refused
    trigger = Varchar(length=16, default="schedule")
    players = Integer(default=0)
    changes = Integer(default=0)
    seq = Integer(null=True, default=None, index=True)  # board version after an ok sync
    error = Text(null=True, default=None)
    timings = Text(default="{}")  # JSON: seconds per stage


class HistoryPoint(Table, tablename="history"):
    """A player's rank and amount in one period after a sync that changed them."""

    id = BigSerial(primary_key=True)
    sync_id = Integer(index=True)
    period = Varchar(length=12)
    uid = Varchar(length=64, index=True)
    rank = Integer(null=True, default=None)  # None: left the board
    amount = DoublePrecision(default=0.0)
    at = Timestamptz()


class AppState(Table, tablename="app_state"):
    """Small named values changed at runtime (e.g. the upstream token set by an admin)."""

    key = Varchar(length=64, primary_key=True)
    value = Text()
    updated_at = Timestamptz()
