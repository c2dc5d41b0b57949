"""Site sessions after Sign in with Telegram, kept in the database: the cookie holds a random
id, the `web_sessions` row its keyed hash. Signing out deletes the row, so a copied cookie
stops working on every replica at once; a new bot token (a new key) ends every session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from server.telegram.login import TelegramIdentity
from server.telegram.tables import WebSessionRow

SESSION_DAYS = 30
MAX_PER_USER = 10  # sessions one Telegram user keeps open; signing in again drops the oldest
_ID_BYTES = 32
_COOKIE_MAX = 64  # token_urlsafe(32) is 43 characters; anything longer is not ours


def _digest(cookie: str, key: bytes) -> str:
    return hmac.new(key, cookie.encode(), hashlib.sha256).hexdigest()


def _ours(cookie: str | None) -> bool:
    return bool(cookie) and len(cookie) <= _COOKIE_MAX  # type: ignore[arg-type]


async def open_session(identity: TelegramIdentity, key: bytes, now: datetime) -> str:
    """A new session for `identity`; returns the cookie's value."""
    cookie = secrets.token_urlsafe(_ID_BYTES)
    await WebSessionRow.insert(
        WebSessionRow(
            id_hash=_digest(cookie, key),
            telegram_id=identity.id,
            first_name=identity.first_name,
            last_name=identity.last_name,
            username=identity.username,
            created_at=now,
            expires_at=now + timedelta(days=SESSION_DAYS),
        )
    ).run()
    await _prune(identity.id, now)
    return cookie


async def _prune(telegram_id: int, now: datetime) -> None:
    await WebSessionRow.delete().where(WebSessionRow.expires_at <= now).run()
    newest = (
        await WebSessionRow.select(WebSessionRow.id_hash)
        .where(WebSessionRow.telegram_id == telegram_id)
        .order_by(WebSessionRow.created_at, ascending=False)
        .limit(MAX_PER_USER)
        .run()
    )
    if len(newest) == MAX_PER_USER:
        await WebSessionRow.delete().where(
            (WebSessionRow.telegram_id == telegram_id) & WebSessionRow.id_hash.not_in([r["id_hash"] for r in newest])
        ).run()


async def read_session(cookie: str | None, key: bytes, now: datetime) -> TelegramIdentity | None:
    """The identity of a live session, or None (no cookie, signed out, expired, or forged)."""
    if not _ours(cookie):
        return None
    row = (
        await WebSessionRow.select(
            WebSessionRow.telegram_id, WebSessionRow.first_name, WebSessionRow.last_name, WebSessionRow.username
        )
        .where((WebSessionRow.id_hash == _digest(cookie, key)) & (WebSessionRow.expires_at > now))  # type: ignore[arg-type]
        .first()
        .run()
    )
    if row is None:
        return None
    return TelegramIdentity(
        id=row["telegram_id"], first_name=row["first_name"], last_name=row["last_name"], username=row["username"]
    )


async def close_session(cookie: str | None, key: bytes) -> None:
    """End the session this cookie names, wherever a copy of it is."""
    if _ours(cookie):
        await WebSessionRow.delete().where(WebSessionRow.id_hash == _digest(cookie, key)).run()  # type: ignore[arg-type]
