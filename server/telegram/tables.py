"""Piccolo tables for Telegram: the outbox, account links, the bot's users, the site
sessions opened by Sign in with Telegram, and the pinned live message."""

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
    expires_at = Timestamptz(null=True, default=None)  # a post no longer true after this is not sent (race posts)
    expired_at = Timestamptz(null=True, default=None)  # when it was dropped for that, unsent
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
    """A Telegram user the bot or the site knows: their name and alert preferences (`/alerts`)."""

    telegram_id = BigInt(primary_key=True)
    name = Text()
    username = Varchar(length=64, null=True, default=None)
    alerts = Boolean(default=False)  # places: their place on the boards changes
    alert_passed = Boolean(default=False)  # someone passes them in the current race
    alert_paid = Boolean(default=False)  # they drop out of the current race's paid places
    alert_near_cents = BigInt(null=True, default=None)  # they come within this of the place above in the race
    updated_at = Timestamptz()


class AlertMarkRow(Table, tablename="telegram_alert_marks"):
    """What the last sync saw of a user's player in the current race (written in the sync's
    transaction), so the next sync alerts on what is new, not on what still holds."""

    telegram_id = BigInt(primary_key=True)
    race_id = Integer()
    paid = Boolean(default=False)  # in a paid place
    near_of = Integer(null=True, default=None)  # the position above they were within their amount of
    updated_at = Timestamptz()


class WebSessionRow(Table, tablename="web_sessions"):
    """A site session opened by Sign in with Telegram. The cookie holds a random id; this row
    holds only its keyed hash, so the table cannot be turned back into cookies. Signing out
    deletes the row: every copy of the cookie stops working on every replica at once."""

    id_hash = Varchar(length=64, primary_key=True)  # hex HMAC-SHA256 of the cookie's id
    telegram_id = BigInt(index=True)
    first_name = Text(default="")
    last_name = Text(default="")
    username = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz()
    expires_at = Timestamptz(index=True)


class LiveMessageRow(Table, tablename="telegram_live_message"):
    """The pinned live message of a chat: which message it is and what it last said, so a
    restart (or another process taking the bot over) edits the same message."""

    chat = Varchar(length=64, primary_key=True)  # TELEGRAM_CHANNEL as configured: a new channel starts afresh
    chat_id = BigInt(null=True, default=None)  # Telegram's numeric id of that chat
    message_id = BigInt(null=True, default=None)  # None: not posted yet
    text_hash = Varchar(length=64, null=True, default=None)  # SHA-256 of the text it shows
    edited_at = Timestamptz(null=True, default=None)  # last post or edit
    pin_checked_at = Timestamptz(null=True, default=None)
    not_before = Timestamptz(null=True, default=None)  # a FloodWait: no call to this chat before then
    last_error = Text(null=True, default=None)
    updated_at = Timestamptz()


TELEGRAM_TABLES: tuple[type[Table], ...] = (OutboxRow, LinkRow, AccountRow, WebSessionRow, LiveMessageRow, AlertMarkRow)
