"""Sign in with Telegram: the Login Widget's data checked as Telegram specifies (pure); the
session it opens lives in the database (server/telegram/sessions.py).

https://core.telegram.org/widgets/login#checking-authorization: the data-check-string is
every received field except `hash`, as `key=value` lines sorted by key and joined by "\\n";
`hash` must equal hex(HMAC-SHA256(data-check-string, key=SHA256(bot_token))).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

import msgspec

from server.errors import BadRequest, GoatedError

MAX_AGE = 86_400  # seconds an auth_date stays good for signing in
COOKIE = "goated_session"
_FIELD_LIMIT = 512
# The columns these land in: a Telegram user id is a positive BIGINT (Telegram's own fit in
# 52 bits); a username is at most 32 characters there, 64 in our tables; auth_date is seconds.
USER_ID_MAX = 2**63 - 1
USERNAME_MAX = 64
AUTH_DATE_MAX = 2**40


class LoginRefused(GoatedError):
    status_code = 401


class TelegramIdentity(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    first_name: str = ""
    last_name: str = ""
    username: str | None = None
    photo_url: str | None = None

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or (self.username or str(self.id))


def check_string(fields: Mapping[str, str]) -> str:
    return "\n".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "hash")


def widget_hash(fields: Mapping[str, str], bot_token: str) -> str:
    secret = hashlib.sha256(bot_token.encode()).digest()
    return hmac.new(secret, check_string(fields).encode(), hashlib.sha256).hexdigest()


def verify_widget(fields: Mapping[str, object], bot_token: str, now: datetime) -> TelegramIdentity:
    """The identity in the widget's data, or LoginRefused. Values are checked as the
    strings Telegram signed (numbers arrive as JSON numbers from our own page)."""
    data = {str(k): _as_text(v) for k, v in fields.items() if v is not None}
    given = data.get("hash", "")
    if not given or any(len(v) > _FIELD_LIMIT for v in data.values()):
        raise LoginRefused("the Telegram login data is incomplete")
    if not hmac.compare_digest(widget_hash(data, bot_token).encode(), given.lower().encode()):
        raise LoginRefused("the Telegram login data does not check out")
    try:
        auth_date = int(data["auth_date"])
        user_id = int(data["id"])
    except (KeyError, ValueError):
        raise LoginRefused("the Telegram login data is incomplete") from None
    if not 0 < user_id <= USER_ID_MAX:
        raise BadRequest(f"a Telegram user id is a whole number from 1 to {USER_ID_MAX}")
    if not 0 <= auth_date <= AUTH_DATE_MAX:
        raise BadRequest("auth_date is not a time (seconds since 1970)")
    if len(data.get("username") or "") > USERNAME_MAX:
        raise BadRequest(f"a Telegram username has at most {USERNAME_MAX} characters")
    age = now.timestamp() - auth_date
    if age > MAX_AGE:
        raise LoginRefused("that Telegram login is more than a day old: sign in again")
    if age < -300:
        raise LoginRefused("that Telegram login is dated in the future")
    return TelegramIdentity(
        id=user_id,
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
        username=data.get("username"),
        photo_url=data.get("photo_url"),
    )


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---- the session key ------------------------------------------------------------------


def session_key(bot_token: str) -> bytes:
    """Keys the session ids stored in the database (server/telegram/sessions.py). Derived
    from the bot token, so every replica agrees without another secret; a new bot token
    signs everyone out."""
    return hmac.new(bot_token.encode(), b"goated-live session v1", hashlib.sha256).digest()
