"""Frozen settings, read once from the environment; a malformed value fails loudly."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from server.errors import ConfigError
from server.leaderboard.privacy import NameMask
from server.logs import SECRET_SUFFIXES
from server.races.model import InvalidRace, cents_from_amount, split_from_text, validate_split

DEFAULT_DATABASE_URL = "sqlite:///data/goated.sqlite"
DEFAULT_API_URL = "https://apis.goated.com/user"
DEMO_SYNC_INTERVAL = 5.0
LIVE_SYNC_INTERVAL = 900.0
DEFAULT_RACE_SPLIT = (50.0, 25.0, 15.0, 10.0)
ADMIN_TOKEN_MIN = 16  # characters; `openssl rand -hex 32` gives 64
# Field names that hold a secret: masked in public() and in every log line.


# Constraints a value from the environment must meet; msgspec checks them as it converts the
# text (`from_env`), and its message says which bound was missed.
FINITE = 1e300  # keeps "inf" out without a bound anyone would meet
Count = Annotated[int, msgspec.Meta(ge=1)]
Whole = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0, le=FINITE)]
NonNegative = Annotated[float, msgspec.Meta(ge=0, le=FINITE)]
Seconds = Annotated[float, msgspec.Meta(ge=1, le=FINITE)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
SimPlayers = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
TopN = Annotated[int, msgspec.Meta(ge=1, le=50)]
BackfillDays = Annotated[int, msgspec.Meta(ge=0, le=90)]
PresenceSeconds = Annotated[float, msgspec.Meta(ge=0.1, le=3600)]


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
    sync_interval: Seconds | None = None  # None: 5 s in demo mode, 15 min (aligned) otherwise
    admin_token: str | None = None
    token_key: str | None = None  # Fernet key(s) sealing the runtime upstream token in the database
    host: str = "127.0.0.1"
    port: Port = 8000
    sim_players: SimPlayers = 2000
    sim_seed: int = 1
    sim_speed: Positive = 60.0
    sim_start: datetime | None = None  # the simulated world's first instant (UTC); None: now
    demo_backfill_days: BackfillDays = 21  # the demo's first start writes this many days of simulated history; 0: none
    upstream_timeout: Positive = 20.0
    ws_max_subscriptions: int = 16
    ws_max_frame: int = 4096
    ws_idle_timeout: float = 120.0
    ws_send_backlog: int = 256
    ws_max_queued_bytes: Count = 2 * 1024 * 1024  # bytes waiting to go to one socket; over it: closed with 4008
    ws_max_per_address: Count = 50
    presence_interval: PresenceSeconds = 5.0  # seconds between "N watching" counts; a replica's count lives 3 of them
    rate_limit_per_minute: Whole = 600
    trusted_proxies: str = ""  # comma-separated addresses/CIDRs whose X-Forwarded-For we believe
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # text | json (one object per line)
    metrics_token: str | None = None  # None: /metrics answers anyone who can reach it
    name_mask: NameMask = NameMask.OFF  # partial: names masked on every public surface (docs/privacy.md)
    race_monthly_pool_cents: int | None = None  # None: no automatic monthly race (demo mode has one)
    race_monthly_split: tuple[float, ...] = DEFAULT_RACE_SPLIT
    race_weekly_pool_cents: int | None = None
    race_weekly_split: tuple[float, ...] = DEFAULT_RACE_SPLIT
    race_min_wager: NonNegative = 0.0
    # ---- telegram (off unless the API id, hash and bot token are all set) ----
    telegram_api_id: Count | None = None
    telegram_api_hash: str | None = None
    telegram_bot_token: str | None = None
    telegram_channel: str | None = None  # @username or numeric id (-100...): where digests and race posts go
    telegram_admin_ids: tuple[int, ...] = ()  # numeric user ids, never usernames
    telegram_top_n: TopN = 10  # places that count in a digest
    telegram_min_move: Count = 1  # places a player must climb to be listed as a mover
    telegram_periods: tuple[str, ...] = ("today", "weekly", "monthly", "all_time")  # boards with digests
    telegram_bot_in_serve: bool = True  # False: `serve` only writes the outbox; run `goated bot` to send
    telegram_session_dir: str = "data"  # where the bot keeps its MTProto session file
    telegram_live_message: bool = False  # keep one pinned channel message with the top and the race countdown, edited in place
    telegram_live_top: TopN = 10  # rows in the live message
    telegram_live_board: Literal["race", "today", "weekly", "monthly", "all_time"] = "race"  # race: the current race (the monthly board between races)

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
            out[field] = "***" if field.endswith(SECRET_SUFFIXES) and value else value
        out["database_url"] = _mask_url(self.database_url)
        if self.redis_url:
            out["redis_url"] = _mask_url(self.redis_url)
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> Settings:
        """Settings from environment variables: each is read (special formats by their own
        parser), then msgspec converts the text to the field's type and checks its bounds;
        a value that fails names its variable (and never echoes a secret)."""
        values: dict[str, object] = {}
        raws: dict[str, tuple[str, str]] = {}  # field -> (variable, raw text)
        for var, (field, parse) in _ENV.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            raws[field] = (var, raw)
            try:
                values[field] = parse(raw.strip()) if parse is not None else raw.strip()
            except ValueError as exc:
                raise ConfigError(f"{_shown(var, field, raw)} is not valid: {exc}") from None
        settings = _converted(values, raws)
        if overrides:
            settings = msgspec.structs.replace(settings, **overrides)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Check a Settings however it was built (tests build them directly): the fields'
        bounds, then what involves several fields or a format."""
        _converted(msgspec.to_builtins(self), {})
        if not (self.database_url.startswith("sqlite:///") or self.is_postgres):
            raise ConfigError(
                "DATABASE_URL must start with sqlite:/// or postgresql:// "
                f"(got {_mask_url(self.database_url)!r})"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
        if self.goated_token and not self.goated_api_url.startswith(("http://", "https://")):
            raise ConfigError("GOATED_API_URL must be an http(s) URL")
        if self.admin_token is not None and len(self.admin_token) < ADMIN_TOKEN_MIN:
            raise ConfigError(
                f"ADMIN_TOKEN must be at least {ADMIN_TOKEN_MIN} characters long (it has {len(self.admin_token)}): "
                "use a long random value, e.g. the output of openssl rand -hex 32"
            )
        if not self.affiliate_code.replace("-", "").replace("_", "").isalnum():
            raise ConfigError("GOATED_AFFILIATE_CODE must be letters, digits, '-' or '_'")
        for var, split in (("RACE_MONTHLY_SPLIT", self.race_monthly_split), ("RACE_WEEKLY_SPLIT", self.race_weekly_split)):
            try:
                validate_split(split)
            except InvalidRace as exc:
                raise ConfigError(f"{var}: {exc}") from None
        _validate_telegram(self)


def _converted(values: Mapping[str, object], raws: Mapping[str, tuple[str, str]]) -> Settings:
    """msgspec converts text to each field's type and checks its bounds (`Count`, `Port`...)."""
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        field = _field_of(str(exc))
        var, raw = raws.get(field, (_VAR_OF.get(field, field.upper()), ""))
        reason = _plain(str(exc).rsplit(" - at ", 1)[0])
        shown = _shown(var, field, raw) if raw else var
        raise ConfigError(f"{shown} is not valid: {reason[:1].lower()}{reason[1:]}") from None


def _shown(var: str, field: str, raw: str) -> str:
    return var if field.endswith(SECRET_SUFFIXES) else f"{var}={raw!r}"  # never echo a secret


def _field_of(message: str) -> str:
    """The field a msgspec error names (`... - at `$.port``)."""
    match = re.search(r"at `\$\.(\w+)", message)
    return match.group(1) if match else ""


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
    if s.telegram_live_message and not s.telegram_channel:
        raise ConfigError("TELEGRAM_LIVE_MESSAGE=on needs TELEGRAM_CHANNEL: the live message is pinned in the channel")
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
    if raw.lower() == "none":  # no digests (beside the live message, say)
        return ()
    return tuple(p.strip().lower() for p in raw.split(",") if p.strip())


# msgspec's words for a type, as said of a setting: every value is text, so "got `str`" is
# no news, and "`int`" means a whole number to whoever set it.
_TYPE_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false"}


def _plain(reason: str) -> str:
    """`Expected `int`, got `str`` → `Expected a whole number` (an optional one's
    `float | null` too); bounds stay (`Expected `int` >= 1` → `Expected a whole number >= 1`)."""
    reason = reason.replace(", got `str`", "")
    return re.sub(r"`(\w+)(?: \| null)?`", lambda m: _TYPE_WORDS.get(m.group(1), m.group(0)), reason)


def _name_mask(raw: str) -> NameMask:
    try:
        return NameMask(raw.lower())
    except ValueError:
        raise ValueError(f"must be {' or '.join(m.value for m in NameMask)}") from None


def _flag(raw: str) -> bool:
    value = raw.lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def utc_instant(raw: str) -> datetime:
    """An ISO-8601 instant, as UTC; one without an offset is taken to be UTC."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be an ISO-8601 instant, e.g. 2026-11-18T15:30:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _networks(raw: str) -> str:
    from server.access import parse_networks

    parse_networks(raw)  # raises ValueError with the bad entry
    return raw


def _text(raw: str) -> str:
    return raw


def _token_key(raw: str) -> str:
    from server.token_key import parse_keys

    parse_keys(raw)  # raises ValueError saying how to generate one
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
    "SYNC_INTERVAL": ("sync_interval", None),
    "ADMIN_TOKEN": ("admin_token", _text),
    "TOKEN_KEY": ("token_key", _token_key),
    "HOST": ("host", _text),
    "PORT": ("port", None),
    "SIM_PLAYERS": ("sim_players", None),
    "SIM_SEED": ("sim_seed", None),
    "SIM_SPEED": ("sim_speed", None),
    "SIM_START": ("sim_start", utc_instant),
    "DEMO_BACKFILL_DAYS": ("demo_backfill_days", None),
    "UPSTREAM_TIMEOUT": ("upstream_timeout", None),
    "LOG_LEVEL": ("log_level", str.upper),
    "LOG_FORMAT": ("log_format", str.lower),
    "METRICS_TOKEN": ("metrics_token", _text),
    "NAME_MASK": ("name_mask", _name_mask),
    "WS_MAX_CONNECTIONS_PER_IP": ("ws_max_per_address", None),
    "WS_MAX_QUEUED_BYTES": ("ws_max_queued_bytes", None),
    "PRESENCE_INTERVAL": ("presence_interval", None),
    "RATE_LIMIT_PER_MINUTE": ("rate_limit_per_minute", None),
    "TRUSTED_PROXIES": ("trusted_proxies", _networks),
    "RACE_MONTHLY_POOL": ("race_monthly_pool_cents", cents_from_amount),
    "RACE_MONTHLY_SPLIT": ("race_monthly_split", split_from_text),
    "RACE_WEEKLY_POOL": ("race_weekly_pool_cents", cents_from_amount),
    "RACE_WEEKLY_SPLIT": ("race_weekly_split", split_from_text),
    "RACE_MIN_WAGER": ("race_min_wager", None),
    "TELEGRAM_API_ID": ("telegram_api_id", None),
    "TELEGRAM_API_HASH": ("telegram_api_hash", _text),
    "TELEGRAM_BOT_TOKEN": ("telegram_bot_token", _text),
    "TELEGRAM_CHANNEL": ("telegram_channel", _telegram_channel),
    "TELEGRAM_ADMIN_IDS": ("telegram_admin_ids", _telegram_ids),
    "TELEGRAM_TOP_N": ("telegram_top_n", None),
    "TELEGRAM_MIN_MOVE": ("telegram_min_move", None),
    "TELEGRAM_PERIODS": ("telegram_periods", _periods),
    "TELEGRAM_BOT_IN_SERVE": ("telegram_bot_in_serve", _flag),
    "TELEGRAM_SESSION_DIR": ("telegram_session_dir", _text),
    "TELEGRAM_LIVE_MESSAGE": ("telegram_live_message", _flag),
    "TELEGRAM_LIVE_TOP": ("telegram_live_top", None),
    "TELEGRAM_LIVE_BOARD": ("telegram_live_board", str.lower),
}

_VAR_OF = {field: var for var, (field, _) in _ENV.items()}
