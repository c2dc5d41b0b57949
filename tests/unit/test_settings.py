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
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"GOATED_AFFILIATE_CODE": "a/b"}, "GOATED_AFFILIATE_CODE"),
    ],
)
def test_malformed_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


def test_blank_values_mean_unset() -> None:
    assert Settings.from_env({"REDIS_URL": "  ", "GOATED_TOKEN": ""}).demo


def test_public_view_masks_secrets() -> None:
    s = Settings.from_env(
        {"GOATED_TOKEN": "secret-jwt", "ADMIN_TOKEN": "admin-secret", "DATABASE_URL": "postgresql://u:pw@db/goated"}
    )
    text = repr(s.public())
    assert "secret-jwt" not in text and "admin-secret" not in text and "pw@" not in text
    assert "u:***@db/goated" in text


def test_rate_limit_zero_turns_it_off_but_negative_is_refused() -> None:
    assert Settings.from_env({"RATE_LIMIT_PER_MINUTE": "0"}).rate_limit_per_minute == 0
    with pytest.raises(ConfigError, match="RATE_LIMIT_PER_MINUTE"):
        Settings.from_env({"RATE_LIMIT_PER_MINUTE": "-1"})
