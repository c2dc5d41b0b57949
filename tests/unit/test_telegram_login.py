"""Sign in with Telegram: the widget's hash as Telegram specifies it, and the bounds of what it signs."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from server.errors import BadRequest
from server.telegram.login import LoginRefused, TelegramIdentity, check_string, verify_widget

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
AUTH_DATE = int(NOW.timestamp()) - 60


def telegram_signs(fields: dict[str, str]) -> str:
    """Telegram's documented algorithm, written out independently of the code under test."""
    lines = sorted(f"{k}={v}" for k, v in fields.items())
    secret = hashlib.sha256(TOKEN.encode()).digest()
    return hmac.new(secret, "\n".join(lines).encode(), hashlib.sha256).hexdigest()


FIELDS = {"id": "42", "first_name": "Ann", "last_name": "Lee", "username": "ann", "photo_url": "https://t.me/i/userpic/320/ann.jpg", "auth_date": str(AUTH_DATE)}


def test_known_good_data_is_accepted() -> None:
    data = {**FIELDS, "hash": telegram_signs(FIELDS)}
    assert check_string(data) == "\n".join(f"{k}={FIELDS[k]}" for k in sorted(FIELDS))
    who = verify_widget(data, TOKEN, NOW)
    assert who == TelegramIdentity(id=42, first_name="Ann", last_name="Lee", username="ann", photo_url=FIELDS["photo_url"])
    assert who.name == "Ann Lee"
    # Numbers as JSON numbers (the account page posts JSON) check the same.
    assert verify_widget({**data, "id": 42, "auth_date": AUTH_DATE}, TOKEN, NOW).id == 42
    assert verify_widget({**data, "hash": data["hash"].upper()}, TOKEN, NOW).id == 42


@pytest.mark.parametrize(
    "change",
    [
        {"first_name": "Eve"},  # a field changed after signing
        {"id": "43"},
        {"extra": "1"},  # a field added
        {"hash": "f" * 64},
        {"hash": ""},
    ],
)
def test_tampered_data_is_refused(change: dict[str, str]) -> None:
    data = {**FIELDS, "hash": telegram_signs(FIELDS), **change}
    with pytest.raises(LoginRefused):
        verify_widget(data, TOKEN, NOW)


def test_another_bots_signature_is_refused() -> None:
    data = {**FIELDS, "hash": telegram_signs(FIELDS)}
    with pytest.raises(LoginRefused):
        verify_widget(data, "999:" + "Z" * 35, NOW)


def test_a_login_older_than_a_day_is_refused() -> None:
    stale = {**FIELDS, "auth_date": str(int((NOW - timedelta(days=1, seconds=1)).timestamp()))}
    with pytest.raises(LoginRefused, match="more than a day old"):
        verify_widget({**stale, "hash": telegram_signs(stale)}, TOKEN, NOW)
    fresh = {**FIELDS, "auth_date": str(int((NOW - timedelta(hours=23)).timestamp()))}
    assert verify_widget({**fresh, "hash": telegram_signs(fresh)}, TOKEN, NOW).id == 42


@pytest.mark.parametrize(
    "change",
    [
        {"id": str(2**63)},  # past BIGINT: a 500 from the database before
        {"id": "1" + "0" * 400},
        {"id": "0"},
        {"id": "-5"},
        {"auth_date": "9" * 400},  # too large for a float: a 500 from the age check before
        {"username": "u" * 65},
    ],
)
def test_signed_values_out_of_range_are_a_bad_request(change: dict[str, str]) -> None:
    fields = {**FIELDS, **change}
    with pytest.raises(BadRequest):
        verify_widget({**fields, "hash": telegram_signs(fields)}, TOKEN, NOW)
    assert verify_widget({**FIELDS, "id": str(2**63 - 1), "hash": telegram_signs({**FIELDS, "id": str(2**63 - 1)})}, TOKEN, NOW).id == 2**63 - 1
