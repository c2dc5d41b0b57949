from datetime import UTC, datetime

import pytest

from server.errors import ConfigError
from server.settings import DEMO_SYNC_INTERVAL, LIVE_SYNC_INTERVAL, Settings


def test_defaults_are_the_embedded_demo() -> None:
    s = Settings.from_env({})
    assert s.demo
    assert s.database_url.startswith("sqlite:///data/")
    assert s.redis_url is None
    assert s.interval == DEMO_SYNC_INTERVAL


def test_token_switches_to_live_with_quarter_hour_syncs() -> None:
    s = Settings.from_env({"GOATED_TOKEN": "abc", "GOATED_API_URL": "https://api.goated.com/user2/"})
    assert not s.demo
    assert s.interval == LIVE_SYNC_INTERVAL
    assert s.goated_api_url == "https://api.goated.com/user2"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SYNC_INTERVAL": "soon"}, "SYNC_INTERVAL"),
        ({"SYNC_INTERVAL": "-5"}, "SYNC_INTERVAL"),
        ({"PORT": "70000"}, "PORT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"SIM_PLAYERS": "200001"}, "SIM_PLAYERS"),
        ({"SIM_START": "next tuesday"}, "SIM_START"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"GOATED_AFFILIATE_CODE": "a/b"}, "GOATED_AFFILIATE_CODE"),
    ],
)
def test_malformed_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


def test_sim_start_is_an_instant_in_utc() -> None:
    assert Settings.from_env({}).sim_start is None  # the demo's world starts now
    expected = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
    for raw in ("2026-11-18T15:30:00Z", "2026-11-18T16:30:00+01:00", "2026-11-18 15:30"):
        assert Settings.from_env({"SIM_START": raw}).sim_start == expected, raw


def test_blank_values_mean_unset() -> None:
    assert Settings.from_env({"REDIS_URL": "  ", "GOATED_TOKEN": ""}).demo


def test_public_view_masks_secrets() -> None:
    key = "bm90LWEtcmVhbC1rZXktYnV0LTMyLWJ5dGVzLWxvbmc="
    s = Settings.from_env(
        {"GOATED_TOKEN": "secret-jwt", "ADMIN_TOKEN": "admin-secret-16ch", "TOKEN_KEY": key, "DATABASE_URL": "postgresql://u:pw@db/goated"}
    )
    text = repr(s.public())
    assert "secret-jwt" not in text and "admin-secret" not in text and "pw@" not in text and key not in text
    assert "u:***@db/goated" in text


def test_admin_token_has_a_minimum_length() -> None:
    assert Settings.from_env({"ADMIN_TOKEN": "x" * 16}).admin_token == "x" * 16
    for weak in ("a", "x" * 15):
        with pytest.raises(ConfigError, match="ADMIN_TOKEN must be at least 16 characters"):
            Settings.from_env({"ADMIN_TOKEN": weak})


def test_token_key_is_one_or_more_fernet_keys_never_echoed() -> None:
    key, old = "bm90LWEtcmVhbC1rZXktYnV0LTMyLWJ5dGVzLWxvbmc=", "YW5vdGhlci1rZXktb2YtdGhpcnR5LXR3by1ieXRlcyE="
    assert Settings.from_env({"TOKEN_KEY": f"{key}, {old}"}).token_key == f"{key}, {old}"
    for bad in ("short", key[:-2], f"{key},nope"):
        with pytest.raises(ConfigError, match="TOKEN_KEY is not valid.*generate one with") as caught:
            Settings.from_env({"TOKEN_KEY": bad})
        assert bad not in str(caught.value)


def test_rate_limit_zero_turns_it_off_but_negative_is_refused() -> None:
    assert Settings.from_env({"RATE_LIMIT_PER_MINUTE": "0"}).rate_limit_per_minute == 0
    with pytest.raises(ConfigError, match="RATE_LIMIT_PER_MINUTE"):
        Settings.from_env({"RATE_LIMIT_PER_MINUTE": "-1"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "0"}, "PORT='0' is not valid: expected a whole number >= 1"),
        ({"PORT": "80a"}, "PORT='80a' is not valid: expected a whole number"),
        ({"SIM_SPEED": "fast"}, "SIM_SPEED='fast' is not valid: expected a number"),
        ({"SYNC_INTERVAL": "x"}, "SYNC_INTERVAL='x' is not valid: expected a number"),
        ({"PORT": "65536"}, "PORT='65536' is not valid: expected a whole number <= 65535"),
        ({"SIM_SPEED": "inf"}, "SIM_SPEED='inf' is not valid: expected a number <= 1e+300"),
        ({"SIM_SPEED": "nan"}, "SIM_SPEED='nan' is not valid: expected a number > 0.0"),
        ({"TELEGRAM_TOP_N": "51"}, "TELEGRAM_TOP_N='51' is not valid: expected a whole number <= 50"),
        ({"WS_MAX_QUEUED_BYTES": "0"}, "WS_MAX_QUEUED_BYTES='0' is not valid: expected a whole number >= 1"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml' is not valid: invalid enum value 'xml'"),
    ],
)
def test_bounds_are_declared_on_the_fields_and_named_with_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == message


def test_settings_built_directly_meet_the_same_bounds() -> None:
    with pytest.raises(ConfigError, match="SIM_PLAYERS is not valid: expected a whole number <= 100000"):
        Settings(sim_players=100_001).validate()
    assert Settings.from_env({"LOG_LEVEL": "debug", "LOG_FORMAT": "JSON", "PORT": "8123"}).port == 8123
