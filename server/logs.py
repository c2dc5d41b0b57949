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
from typing import TYPE_CHECKING, Any, Literal, Protocol

from litestar.logging.config import BaseLoggingConfig

if TYPE_CHECKING:
    from litestar.types import GetLogger, Logger, Scope


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


# Setting names that hold a secret (settings.py masks them in messages and dumps too).
SECRET_SUFFIXES = ("token", "secret", "password", "api_hash", "_key")


class _Settings(Protocol):
    """What logging reads of server/settings.py's `Settings` (it does not import it: the
    settings sit above logging, which every module uses)."""

    __struct_fields__: tuple[str, ...]
    log_level: str
    log_format: str


def settings_secrets(settings: _Settings) -> list[str]:
    """Every secret a Settings holds: fields named like one, and passwords inside URLs."""
    found: list[str] = []
    for name in settings.__struct_fields__:
        value = getattr(settings, name)
        if isinstance(value, str) and name.endswith(SECRET_SUFFIXES):
            found.append(value)
        elif isinstance(value, str) and "://" in value:
            creds = value.partition("://")[2].rpartition("@")[0]
            if ":" in creds:
                found.append(creds.split(":", 1)[1])
    return found


def protect(settings: _Settings) -> None:
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


# Anything that can end a line or redraw one in a terminal or a log viewer: C0 and C1 controls,
# DEL, and Unicode's line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
TRACE_INDENT = "  "


def escape_controls(text: str) -> str:
    """`text` on one line: control characters written as Python writes them in a repr
    (`\\n`, `\\x00`, `\\u2028`), so a value from a request cannot forge a log line."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: _NAMED.get(m[0]) or repr(m[0])[1:-1], text)


class ReadableFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`, one line per record, secrets masked.

    The message (its arguments included) and the extras are escaped onto that line; a
    traceback follows on lines of its own, each indented, so that nothing in an exception's
    text can pass for the start of another record."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        fields = _extras(record)
        sync_id = getattr(record, "sync_id", None)
        if sync_id is not None:
            fields = {"sync_id": sync_id, **fields}
        if fields:
            text += " " + " ".join(f"{escape_controls(str(k))}={escape_controls(_short(v))}" for k, v in fields.items())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        trace = [record.exc_text or "", self.formatStack(record.stack_info) if record.stack_info else ""]
        for block in filter(None, trace):
            text += "".join(f"\n{TRACE_INDENT}{escape_controls(line)}" for line in block.split("\n"))
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


def configure_from(settings: _Settings) -> None:
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
