"""Logging for every entry point: one format (readable or JSON), the sync id on every line
of a sync, and secrets masked before anything is written."""

from __future__ import annotations

import json
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from litestar.logging.config import BaseLoggingConfig

if TYPE_CHECKING:
    from litestar.types import GetLogger, Logger, Scope

    from server.settings import Settings

SYNC_ID: ContextVar[int | str | None] = ContextVar("sync_id", default=None)

MASK = "***"
MIN_SECRET = 6  # shorter values would mask ordinary words
# Whatever the configured secrets, never print a bearer credential or a JWT.
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',]+"),
    re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"),
    re.compile(r"(?i)\b(\d{6,12}:)[\w-]{30,}"),  # a Telegram bot token
)
# The attributes every LogRecord has; anything else was passed with `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "sync_id", "taskName", "color_message"}
_OURS = "goated-live"  # marks the handler configure() installs, so a second call replaces it


class SecretMask:
    """Replaces known secret values (and anything shaped like a token) in text."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, *values: str | None) -> None:
        for value in values:
            if value and len(value) >= MIN_SECRET:
                self._values.add(value)

    def __call__(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        text = _PATTERNS[0].sub(rf"\g<1>{MASK}", text)
        text = _PATTERNS[1].sub(MASK, text)
        return _PATTERNS[2].sub(rf"\g<1>{MASK}", text)


secrets = SecretMask()


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret a Settings holds: fields named like one, and passwords inside URLs."""
    found: list[str] = []
    for name in settings.__struct_fields__:
        value = getattr(settings, name)
        if isinstance(value, str) and name.endswith(("token", "secret", "password", "api_hash")):
            found.append(value)
        elif isinstance(value, str) and "://" in value:
            creds = value.partition("://")[2].rpartition("@")[0]
            if ":" in creds:
                found.append(creds.split(":", 1)[1])
    return found


def protect(settings: Settings) -> None:
    """Mask this deployment's secrets in every line our handler writes."""
    secrets.add(*settings_secrets(settings))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class ContextFilter(logging.Filter):
    """Adds the sync id of the sync in progress (if any) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "sync_id"):
            record.sync_id = SYNC_ID.get()
        return True


class ReadableFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`, secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _extras(record)
        sync_id = getattr(record, "sync_id", None)
        if sync_id is not None:
            fields = {"sync_id": sync_id, **fields}
        if fields:
            head, sep, tail = text.partition("\n")  # keep a traceback below the fields
            text = head + " " + " ".join(f"{k}={_short(v)}" for k, v in fields.items()) + sep + tail
        return secrets(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, sync_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        sync_id = getattr(record, "sync_id", None)
        if sync_id is not None:
            out["sync_id"] = sync_id
        out.update(_extras(record))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return secrets(json.dumps(out, default=str, ensure_ascii=False))


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ",".join(f"{k}:{_short(v)}" for k, v in value.items())
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text


LogFormat = Literal["text", "json"]


def configure(level: str = "INFO", fmt: LogFormat = "text", *, stream: Any = None) -> logging.Handler:
    """Send every logger (ours, Litestar's, uvicorn's) through one handler on the root.

    Called once by each CLI command; calling it again replaces the handler it installed.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "name", None) == _OURS:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_OURS)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ReadableFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # One line per request (httpx) or per connection (uvicorn.access) drowns the events.
    for noisy in ("httpx", "httpcore", "uvicorn.access", "piccolo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "litestar"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    warnings.filterwarnings("ignore", message="There is no current event loop", category=DeprecationWarning)
    return handler


def configure_from(settings: Settings) -> None:
    configure(settings.log_level, settings.log_format)  # type: ignore[arg-type]
    protect(settings)


@contextmanager
def sync_context(sync_id: int | str | None) -> Iterator[None]:
    token = SYNC_ID.set(sync_id)
    try:
        yield
    finally:
        SYNC_ID.reset(token)


def _log_unhandled(logger: Logger, scope: Scope, _: list[str]) -> None:
    """Litestar calls this for every exception a handler raises; ours and its HTTP errors
    are deliberate answers (a 503 included), anything else is a bug worth a traceback."""
    from litestar.exceptions import HTTPException

    from server.errors import GoatedError

    if isinstance(sys.exc_info()[1], HTTPException | GoatedError):
        return
    logger.error("unhandled error on %s %s", scope.get("method", scope["type"]), scope["path"], exc_info=True)


@dataclass
class DeferringLoggingConfig(BaseLoggingConfig):
    """Litestar's logging hook, minus its own handlers and format: the `litestar` logger
    propagates to the root logger that `configure` set up."""

    log_exceptions: Literal["always", "debug", "never"] = "always"
    traceback_line_limit: int = -1
    exception_logging_handler: Any = _log_unhandled
    disable_stack_trace: set[int | type[Exception]] = field(default_factory=set)

    def configure(self) -> GetLogger:
        return logging.getLogger  # type: ignore[return-value]

    @staticmethod
    def set_level(logger: Any, level: int) -> None:
        logger.setLevel(level)
