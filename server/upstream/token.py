"""The upstream's daily token: its expiry (read from the JWT), runtime replacement by an
admin, and storage in the database, encrypted with `TOKEN_KEY`. The token itself is never
logged or returned, and never stored in plaintext."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import UTC, datetime, timedelta

from server.db.tables import AppState
from server.errors import BadRequest, GoatedError
from server.logs import secrets
from server.token_key import GENERATE, InvalidToken, TokenCipher, is_sealed

log = logging.getLogger(__name__)

TOKEN_KEY = "goated_token"
WARN_BEFORE = timedelta(hours=1)
NO_KEY = (
    "the upstream token is stored only encrypted, and TOKEN_KEY is not set: generate a key with "
    f"{GENERATE}, set TOKEN_KEY to it on every replica and restart (or set GOATED_TOKEN and restart)"
)


class TokenKeyMissing(GoatedError):
    """An admin set a token on a server without TOKEN_KEY: refused, nothing changes."""

    status_code = 503


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT, read without verifying it (we only need the date)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    try:
        return datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def fingerprint(token: str) -> str:
    """Enough to tell two tokens apart in /health without revealing either."""
    return f"…{token[-6:]}" if len(token) > 12 else "set"


class TokenKeeper:
    """Holds the current token for the client and says when it runs out."""

    def __init__(self, token: str | None, source: str, cipher: TokenCipher | None = None) -> None:
        self.token = token
        self.cipher = cipher  # None: no stored token is read or written
        self.source = source
        self.expires_at = jwt_expiry(token) if token else None
        self.set_at: datetime | None = None
        self._warned_for: datetime | None = None

    def replace(self, token: str, now: datetime) -> None:
        token = token.strip()
        if not token or len(token) > 8192 or any(c.isspace() for c in token):
            raise BadRequest("token must be one non-empty line without spaces")
        if token.lower().startswith("bearer"):
            raise BadRequest("paste the token alone, without the 'Bearer' prefix")
        expires = jwt_expiry(token)
        if expires is not None and expires <= now:
            raise BadRequest(f"that token already expired at {expires.isoformat()}")
        self.token, self.source, self.expires_at, self.set_at = token, "admin", expires, now
        secrets.add(token)
        self._warned_for = None
        log.info("upstream token replaced by an admin (%s, expires %s)", fingerprint(token), expires)

    def status(self, now: datetime) -> dict[str, object]:
        info: dict[str, object] = {"source": self.source, "set": self.token is not None}
        if self.token:
            info["fingerprint"] = fingerprint(self.token)
        if self.expires_at is not None:
            info["expires_at"] = self.expires_at
            info["expires_in_s"] = round((self.expires_at - now).total_seconds())
        return info

    def warning(self, now: datetime) -> str | None:
        """A sentence for /health (and a log line, once) when expiry is near or past."""
        if self.expires_at is None:
            return None
        left = self.expires_at - now
        if left <= timedelta(0):
            message = f"the upstream token expired at {self.expires_at:%Y-%m-%d %H:%M} UTC: set a new one"
        elif left <= WARN_BEFORE:
            message = f"the upstream token expires in {int(left.total_seconds() // 60)} min: set a new one"
        else:
            return None
        if self._warned_for != self.expires_at:
            self._warned_for = self.expires_at
            log.warning(message)
        return message

    async def load(self) -> None:
        """Prefer a token an admin set at runtime over the one from the environment,
        unless the environment's is newer (an operator restarted with a fresh one)."""
        if self.cipher is None:
            return
        row = await AppState.select(AppState.value, AppState.updated_at).where(AppState.key == TOKEN_KEY).first().run()
        if row is None:
            return
        stored = await self._open(self.cipher, row["value"])
        if stored is None:
            return
        stored_exp = jwt_expiry(stored)
        if self.token and self.expires_at and stored_exp and self.expires_at >= stored_exp:
            return
        self.token, self.source, self.expires_at, self.set_at = stored, "admin", stored_exp, row["updated_at"]
        secrets.add(stored)

    async def unlock(self, cipher: TokenCipher | None) -> bool:
        """Take `TOKEN_KEY`'s cipher and, with it, the token an admin stored; True when that
        changed the token in use. Without a key, a stored token is not used: a plaintext one
        (stored by a version before TOKEN_KEY) is deleted, a sealed one is left for the key."""
        self.cipher = cipher
        if cipher is not None:
            before = self.token
            await self.load()
            return self.token != before
        row = await AppState.select(AppState.value).where(AppState.key == TOKEN_KEY).first().run()
        if row is not None and not is_sealed(row["value"]):
            await AppState.delete().where(AppState.key == TOKEN_KEY).run()
            log.warning("deleted the upstream token an older version stored in plaintext: %s", NO_KEY)
        elif row is not None:
            log.warning("the upstream token an admin stored is not used: %s", NO_KEY)
        return False

    async def _open(self, cipher: TokenCipher, stored: str) -> str | None:
        if not is_sealed(stored):
            # Stored in plaintext by a version before TOKEN_KEY: sealed where it lies.
            await self._write(cipher.seal(stored))
            log.warning("the upstream token an older version stored in plaintext is now encrypted with TOKEN_KEY")
            return stored
        try:
            return cipher.open(stored)
        except InvalidToken:
            log.error(
                "the stored upstream token does not open with TOKEN_KEY (was the key replaced without keeping "
                "the old one after a comma?): set the token again with PUT /api/admin/upstream-token"
            )
            return None

    async def save(self, now: datetime) -> None:
        assert self.token is not None
        if self.cipher is None:
            raise TokenKeyMissing(NO_KEY)
        await self._write(self.cipher.seal(self.token), now)

    async def _write(self, sealed: str, now: datetime | None = None) -> None:
        if now is None:
            await AppState.update({AppState.value: sealed}).where(AppState.key == TOKEN_KEY).run()
            return
        await AppState.insert(AppState(key=TOKEN_KEY, value=sealed, updated_at=now)).on_conflict(
            target=AppState.key, action="DO UPDATE", values=[AppState.value, AppState.updated_at]
        ).run()

