"""How the bot gets its pyrogram Client: a factory from the settings (tests pass one that
fakes Telegram at the session layer). Kept apart so the feature's wiring and the bot can
both name it without importing each other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.settings import Settings

__all__ = ["ClientFactory"]

ClientFactory = Callable[[Settings], Any]
