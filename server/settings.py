"""Frozen settings, read once from the environment; a malformed value fails loudly."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import msgspec

from server.errors import ConfigError
from server.races.model import InvalidRace, cents_from_amount, split_from_text, validate_split

DEFAULT_DATABASE_URL = "sqlite:///data/goated.sqlite"
DEFAULT_API_URL = "https://apis.goated.com/user"
DEMO_SYNC_INTERVAL = 5.0
LIVE_SYNC_INTERVAL = 900.0
DEFAULT_RACE_SPLIT = (50.0, 25.0, 15.0, 10.0)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the server needs to know about its surroundings.

    Built by `from_env` in production and directly by tests.
    """

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_prefix: str | None = None  # None: "goated:<affiliate code>", so deployments sharing a Redis stay apart
    goated_api_url: str = DEFAULT_API_URL
    goated_token: str | None = None
    affiliate_code: str = "GOATEDLIVE"
    sync_interval: float | None = None  # None: 5 s in demo mode, 15 min (aligned) otherwise
    admin_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    sim_players: int = 2000
    sim_seed: int = 1
    sim_speed: float = 60.0
    upstream_timeout: float = 20.0
    ws_max_subscriptions: int = 16
    ws_max_frame: int = 4096
    ws_idle_timeout: float = 120.0
    ws_send_backlog: int = 256
    ws_max_per_address: int = 50
    rate_limit_per_minute: int = 600
    trusted_proxies: str = ""  # comma-separated addresses/CIDRs whose X-Forwarded-For we believe
    log_level: str = "INFO"
    log_format: str = "text"  # text | json (one object per line)
    metrics_token: str | None = None  # None: /metrics answers anyone who can reach it
    race_monthly_pool_cents: int | None = None  # None: no automatic monthly race (demo mode has one)
    race_monthly_split: tuple[float, ...] = DEFAULT_RACE_SPLIT
    race_weekly_pool_cents: int | None = None
    race_weekly_split: tuple[float, ...] = DEFAULT_RACE_SPLIT
    race_min_wager: float = 0.0
    # ---- telegram (off unless the API id, hash and bot token are all set) ----
    telegram_api_id: int | None = None
    telegram_api_hash: str | None = None
    telegram_bot_token: str | None = None
    telegram_channel: str | None = None  # @username or numeric id (-100...): where digests and race posts go
    telegram_admin_ids: tuple[int, ...] = ()  # numeric user ids, never usernames
    telegram_top_n: int = 10  # places that count in a digest
    telegram_min_move: int = 1  # places a player must climb to be listed as a mover
    telegram_periods: tuple[str, ...] = ("today", "weekly", "monthly", "all_time")  # boards with digests
    telegram_bot_in_serve: bool = True  # False: `serve` only writes the outbox; run `goated bot` to send
    telegram_session_dir: str = "data"  # where the bot keeps its MTProto session file

    @property
    def demo(self) -> bool:
        """No upstream token: serve the built-in simulated upstream."""
        return self.goated_token is None

    @property
    def interval(self) -> float:
        if self.sync_interval is not None:
            return self.sync_interval
        return DEMO_SYNC_INTERVAL if self.demo else LIVE_SYNC_INTERVAL

    @property
    def channel_prefix(self) -> str:
        return self.redis_prefix or f"goated:{self.affiliate_code}"

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    def public(self) -> dict[str, object]:
        """A view safe to print: secrets are masked."""
        out: dict[str, object] = {}
        for field in self.__struct_fields__:
            value = getattr(self, field)
            out[field] = "***" if field.endswith(("token", "secret", "password", "api_hash")) and value else value
        out["database_url"] = _mask_url(self.database_url)
        if self.redis_url:
            out["redis_url"] = _mask_url(self.redis_url)
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> Settings:
        values: dict[str, object] = {}
        for var, (field, parse) in _ENV.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[field] = parse(raw.strip())
            except ValueError as exc:
                raise ConfigError(f"{var}={raw!r} is not valid: {exc}") from None
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if not (self.database_url.startswith("sqlite:///") or self.is_postgres):
            raise ConfigError(
                "DATABASE_URL must start with sqlite:/// or postgresql:// "
                f"(got {_mask_url(self.database_url)!r})"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
        if self.goated_token and not self.goated_api_url.startswith(("http://", "https://")):
            raise ConfigError("GOATED_API_URL must be an http(s) URL")
        if self.sync_interval is not None and self.sync_interval < 1:
            raise ConfigError("SYNC_INTERVAL must be at least 1 second")
        if not 1 <= self.sim_players <= 100_000:
            raise ConfigError("SIM_PLAYERS must be between 1 and 100000")
        if not self.affiliate_code.replace("-", "").replace("_", "").isalnum():
            raise ConfigError("GOATED_AFFILIATE_CODE must be letters, digits, '-' or '_'")
        for var, split in (("RACE_MONTHLY_SPLIT", self.race_monthly_split), ("RACE_WEEKLY_SPLIT", self.race_weekly_split)):
            try:
                validate_split(split)
            except InvalidRace as exc:
                raise ConfigError(f"{var}: {exc}") from None
        if self.race_min_wager < 0:
            raise ConfigError("RACE_MIN_WAGER must not be negative")
        _validate_telegram(self)


def _validate_telegram(s: Settings) -> None:
    given = {
        "TELEGRAM_API_ID": s.telegram_api_id is not None,
        "TELEGRAM_API_HASH": s.telegram_api_hash is not None,
        "TELEGRAM_BOT_TOKEN": s.telegram_bot_token is not None,
    }
    if any(given.values()) and not all(given.values()):
        missing = ", ".join(name for name, ok in given.items() if not ok)
        raise ConfigError(f"TELEGRAM_API_ID, TELEGRAM_API_HASH and TELEGRAM_BOT_TOKEN go together: {missing} missing")
    if s.telegram_bot_token is not None and not _BOT_TOKEN.fullmatch(s.telegram_bot_token):
        raise ConfigError("TELEGRAM_BOT_TOKEN does not look like a bot token from BotFather (<digits>:<secret>)")
    if s.telegram_api_hash is not None and not _API_HASH.fullmatch(s.telegram_api_hash):
        raise ConfigError("TELEGRAM_API_HASH must be the 32 hex digits shown at my.telegram.org")
    if not 1 <= s.telegram_top_n <= 50:
        raise ConfigError("TELEGRAM_TOP_N must be between 1 and 50")
    if s.telegram_min_move < 1:
        raise ConfigError("TELEGRAM_MIN_MOVE must be at least 1")
    unknown = sorted(set(s.telegram_periods) - {"today", "weekly", "monthly", "all_time"})
    if unknown:
        raise ConfigError(f"TELEGRAM_PERIODS: unknown period(s) {', '.join(unknown)}; use today, weekly, monthly, all_time")


_BOT_TOKEN = re.compile(r"[0-9]{3,20}:[A-Za-z0-9_-]{20,100}")
_API_HASH = re.compile(r"[0-9a-fA-F]{32}")


def _telegram_ids(raw: str) -> tuple[int, ...]:
    ids: list[int] = []
    for part in re.split(r"[\s,]+", raw.strip()):
        if not part:
            continue
        if not re.fullmatch(r"[0-9]{1,20}", part):
            raise ValueError(
                f"{part!r} is not a numeric Telegram user id; usernames change hands, so only ids are accepted "
                "(an admin can get theirs from @userinfobot)"
            )
        ids.append(int(part))
    return tuple(ids)


def _telegram_channel(raw: str) -> str:
    if re.fullmatch(r"-?[0-9]{5,20}", raw) or re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,31}", raw):
        return raw
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", raw):
        return f"@{raw}"
    raise ValueError("must be the channel's @username or its numeric id (e.g. -1001234567890)")


def _periods(raw: str) -> tuple[str, ...]:
    return tuple(p.strip().lower() for p in raw.split(",") if p.strip())


def _flag(raw: str) -> bool:
    value = raw.lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or a positive whole number")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError("must be a port number (1-65535)")
    return value


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
    return level


def _log_format(raw: str) -> str:
    fmt = raw.lower()
    if fmt not in {"text", "json"}:
        raise ValueError("must be text or json")
    return fmt


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be a number >= 0")
    return value


def _networks(raw: str) -> str:
    from server.access import parse_networks

    parse_networks(raw)  # raises ValueError with the bad entry
    return raw


def _text(raw: str) -> str:
    return raw


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}"
    return url


_ENV = {
    "DATABASE_URL": ("database_url", _text),
    "REDIS_URL": ("redis_url", _text),
    "REDIS_PREFIX": ("redis_prefix", _text),
    "GOATED_API_URL": ("goated_api_url", lambda raw: raw.rstrip("/")),
    "GOATED_TOKEN": ("goated_token", _text),
    "GOATED_AFFILIATE_CODE": ("affiliate_code", _text),
    "SYNC_INTERVAL": ("sync_interval", _positive_float),
    "ADMIN_TOKEN": ("admin_token", _text),
    "HOST": ("host", _text),
    "PORT": ("port", _port),
    "SIM_PLAYERS": ("sim_players", _positive_int),
    "SIM_SEED": ("sim_seed", int),
    "SIM_SPEED": ("sim_speed", _positive_float),
    "UPSTREAM_TIMEOUT": ("upstream_timeout", _positive_float),
    "LOG_LEVEL": ("log_level", _log_level),
    "LOG_FORMAT": ("log_format", _log_format),
    "METRICS_TOKEN": ("metrics_token", _text),
    "WS_MAX_CONNECTIONS_PER_IP": ("ws_max_per_address", _positive_int),
    "RATE_LIMIT_PER_MINUTE": ("rate_limit_per_minute", _non_negative_int),
    "TRUSTED_PROXIES": ("trusted_proxies", _networks),
    "RACE_MONTHLY_POOL": ("race_monthly_pool_cents", cents_from_amount),
    "RACE_MONTHLY_SPLIT": ("race_monthly_split", split_from_text),
    "RACE_WEEKLY_POOL": ("race_weekly_pool_cents", cents_from_amount),
    "RACE_WEEKLY_SPLIT": ("race_weekly_split", split_from_text),
    "RACE_MIN_WAGER": ("race_min_wager", _non_negative_float),
    "TELEGRAM_API_ID": ("telegram_api_id", _positive_int),
    "TELEGRAM_API_HASH": ("telegram_api_hash", _text),
    "TELEGRAM_BOT_TOKEN": ("telegram_bot_token", _text),
    "TELEGRAM_CHANNEL": ("telegram_channel", _telegram_channel),
    "TELEGRAM_ADMIN_IDS": ("telegram_admin_ids", _telegram_ids),
    "TELEGRAM_TOP_N": ("telegram_top_n", _positive_int),
    "TELEGRAM_MIN_MOVE": ("telegram_min_move", _positive_int),
    "TELEGRAM_PERIODS": ("telegram_periods", _periods),
    "TELEGRAM_BOT_IN_SERVE": ("telegram_bot_in_serve", _flag),
    "TELEGRAM_SESSION_DIR": ("telegram_session_dir", _text),
}
