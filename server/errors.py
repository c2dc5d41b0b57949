"""One error root for the product, and the body every error response carries."""

from __future__ import annotations

from typing import Any

import msgspec


class ErrorBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What every error response says (server/http_errors.py sends it and documents it)."""

    error: str  # what went wrong, in words a caller can act on
    status_code: int
    details: list[Any] | dict[str, Any] | None = None  # a 400's refused fields: [{message, key, source}]


class GoatedError(Exception):
    """Root of every error the product raises on purpose."""

    status_code = 500


class ConfigError(GoatedError):
    """A setting is missing or malformed; the message names the variable."""


class BadRequest(GoatedError):
    status_code = 400


class NotFound(GoatedError):
    status_code = 404


class Unavailable(GoatedError):
    """The data asked for is not there yet (no successful sync so far)."""

    status_code = 503


class UpstreamError(GoatedError):
    """The upstream did not give us a usable snapshot."""

    status_code = 502
    kind = "error"


class UpstreamUnavailable(UpstreamError):
    kind = "unavailable"


class UpstreamAuthError(UpstreamError):
    """401/403: the daily token expired or was revoked. Retrying does not help."""

    kind = "auth"


class UpstreamRateLimited(UpstreamError):
    kind = "rate_limited"

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamPayloadError(UpstreamError):
    """The response does not fit the contract; the whole payload is refused."""

    kind = "payload"
