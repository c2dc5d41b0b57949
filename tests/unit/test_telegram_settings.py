"""TELEGRAM_* settings: all three credentials or none, numeric admin ids only, secrets masked."""

from __future__ import annotations

import pytest

from server.errors import ConfigError
from server.settings import Settings

CREDENTIALS = {
    "TELEGRAM_API_ID": "12345",
    "TELEGRAM_API_HASH": "0123456789abcdef0123456789abcdef",
    "TELEGRAM_BOT_TOKEN": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
}


def test_off_by_default() -> None:
    s = Settings.from_env({})
    assert not s.telegram_enabled and s.telegram_admin_ids == () and s.telegram_top_n == 10


def test_a_full_configuration() -> None:
    s = Settings.from_env(
        {
            **CREDENTIALS,
            "TELEGRAM_CHANNEL": "goatedlive",
            "TELEGRAM_ADMIN_IDS": "111, 222 333",
            "TELEGRAM_TOP_N": "5",
            "TELEGRAM_MIN_MOVE": "3",
            "TELEGRAM_PERIODS": "today, weekly",
            "TELEGRAM_BOT_IN_SERVE": "false",
        }
    )
    assert s.telegram_enabled and s.telegram_api_id == 12345
    assert s.telegram_channel == "@goatedlive" and s.telegram_admin_ids == (111, 222, 333)
    assert (s.telegram_top_n, s.telegram_min_move, s.telegram_periods, s.telegram_bot_in_serve) == (5, 3, ("today", "weekly"), False)
    assert Settings.from_env({**CREDENTIALS, "TELEGRAM_CHANNEL": "-1001234567890"}).telegram_channel == "-1001234567890"


def test_admin_usernames_are_refused_with_a_reason() -> None:
    with pytest.raises(ConfigError, match=r"TELEGRAM_ADMIN_IDS.*'@boss' is not a numeric Telegram user id.*usernames"):
        Settings.from_env({"TELEGRAM_ADMIN_IDS": "111,@boss"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TELEGRAM_BOT_TOKEN": CREDENTIALS["TELEGRAM_BOT_TOKEN"]}, "TELEGRAM_API_ID, TELEGRAM_API_HASH missing"),
        ({**CREDENTIALS, "TELEGRAM_BOT_TOKEN": "nope"}, "TELEGRAM_BOT_TOKEN"),
        ({**CREDENTIALS, "TELEGRAM_API_HASH": "xyz"}, "TELEGRAM_API_HASH"),
        ({**CREDENTIALS, "TELEGRAM_API_ID": "abc"}, "TELEGRAM_API_ID"),
        ({**CREDENTIALS, "TELEGRAM_CHANNEL": "https://t.me/+invite"}, "TELEGRAM_CHANNEL"),
        ({**CREDENTIALS, "TELEGRAM_TOP_N": "500"}, "TELEGRAM_TOP_N"),
        ({**CREDENTIALS, "TELEGRAM_PERIODS": "yearly"}, "TELEGRAM_PERIODS"),
        ({**CREDENTIALS, "TELEGRAM_BOT_IN_SERVE": "maybe"}, "TELEGRAM_BOT_IN_SERVE"),
    ],
)
def test_malformed_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_secrets_are_masked() -> None:
    text = repr(Settings.from_env(CREDENTIALS).public())
    assert CREDENTIALS["TELEGRAM_BOT_TOKEN"] not in text and CREDENTIALS["TELEGRAM_API_HASH"] not in text
