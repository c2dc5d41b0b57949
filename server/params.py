"""Bounds for the integers a request may carry in its path or query: the same as the database
columns they are looked up in, so an out-of-range value is a 400, never a database error."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter, PathParameter

__all__ = ["INT4_MAX", "MAX_OFFSET", "Offset", "SerialId"]

INT4_MAX = 2**31 - 1  # Serial / Integer columns (race ids, link ids)
MAX_OFFSET = 1_000_000  # far past any board or archive; keeps offsets cheap to validate

SerialId = Annotated[int, PathParameter(ge=1, le=INT4_MAX, description="id (1 to 2147483647)")]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description="rows to skip (0 to 1,000,000)")]
