"""Piccolo tables for Telegram: the outbox, account links, and the bot's users."""

from __future__ import annotations

from piccolo.columns import BigInt, BigSerial, Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class OutboxRow(Table, tablename="telegram_outbox"):
    """A message waiting to be sent, or sent. Written in the same transaction as what caused
    it (a sync), or idempotently under `dedupe_key` (race announcements, admin alerts)."""

    id = BigSerial(primary_key=True)
    chat = Varchar(length=64, index=True)  # "channel" (TELEGRAM_CHANNEL) or a user's numeric id
    kind = Varchar(length=32)  # digest | race_started | race_1h | race_10m | race_ended | alert | admin
    text = Text()  # Telegram HTML, already below the length limit
    dedupe_key = Varchar(length=160, null=True, default=None, unique=True)
    created_at = Timestamptz()
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(index=True)
    claimed_by = Varchar(length=64, null=True, default=None)
    claimed_until = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None, index=True)
    failed_at = Timestamptz(null=True, default=None)  # given up (only for a DM Telegram refuses for good)
    telegram_message_id = BigInt(null=True, default=None)
    last_error = Text(null=True, default=None)


class LinkRow(Table, tablename="telegram_links"):
    """A Telegram user's claim on a Goated player, and the admin's decision.

    `approved_uid` and `approved_telegram_id` are set only while approved: their unique
    constraints make "one player per Telegram user and one Telegram user per player" hold
    even when two admins approve at the same moment."""

    id = Serial(primary_key=True)
    telegram_id = BigInt(index=True)
    telegram_name = Text()
    uid = Varchar(length=64, index=True)
    player_name = Text()
    status = Varchar(length=16, default="pending", index=True)  # pending | approved | rejected | unlinked
    requested_at = Timestamptz()
    decided_at = Timestamptz(null=True, default=None)
    decided_by = Text(null=True, default=None)  # "telegram:<id>" or "admin-api"
    approved_uid = Varchar(length=64, null=True, default=None, unique=True)
    approved_telegram_id = BigInt(null=True, default=None, unique=True)


class AccountRow(Table, tablename="telegram_accounts"):
    """A Telegram user the bot or the site knows: their name and alert preference."""

    telegram_id = BigInt(primary_key=True)
    name = Text()
    username = Varchar(length=64, null=True, default=None)
    alerts = Boolean(default=False)
    updated_at = Timestamptz()


TELEGRAM_TABLES: tuple[type[Table], ...] = (OutboxRow, LinkRow, AccountRow)
