"""What a part of the product says about itself: `ok`, `degraded`, `down` or `off`, why, and
details (the shapes `/health` and the bot's /status answer with)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

__all__ = ["HealthReport", "Part", "Status"]

Status = Literal["ok", "degraded", "down", "off"]  # off: a feature not configured (Telegram)


class Part(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: Status
    detail: str = ""
    info: dict[str, object] = {}


class HealthReport(msgspec.Struct, kw_only=True):
    status: Status
    mode: str
    now: datetime
    parts: dict[str, Part]
