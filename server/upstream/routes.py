"""Admin routes for the upstream: see the token's state, and replace it at runtime."""

from __future__ import annotations

import logging
from datetime import datetime

import msgspec
from litestar import Controller, get, put
from litestar.datastructures import State
from litestar.params import JSONBody

from server.admin import admin_guard
from server.db.engine import DB_ERRORS
from server.errors import BadRequest, Unavailable
from server.upstream.token import NO_KEY, TokenKeyMissing

log = logging.getLogger(__name__)


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    token: str


class TokenStatus(msgspec.Struct, kw_only=True):
    source: str
    set: bool
    fingerprint: str | None = None
    expires_at: datetime | None = None
    expires_in_s: int | None = None
    warning: str | None = None
    stored: bool = True


class UpstreamAdminController(Controller):
    path = "/api/admin/upstream-token"
    tags = ["admin"]
    guards = [admin_guard]

    @get("/", summary="The upstream token's state (never the token itself)")
    async def token_status(self, state: State) -> TokenStatus:
        return _status(state, stored=True)

    @put("/", summary="Replace the upstream token without a restart")
    async def replace_token(self, state: State, data: JSONBody[TokenIn]) -> TokenStatus:
        """The body is `{"token": "<the new JWT from Goated>"}`. It is stored encrypted with
        `TOKEN_KEY`; without that setting the request is refused (503) and nothing changes."""
        services = state.services
        if services.settings.demo:
            raise BadRequest("demo mode reads the built-in simulator, which needs no token; set GOATED_TOKEN to go live")
        if services.token.cipher is None:  # refused before anything changes: never stored in plaintext
            raise TokenKeyMissing(NO_KEY)
        now = services.clock()
        services.token.replace(data.token, now)
        services.client.set_token(services.token.token)
        stored = True
        try:
            await services.token.save(now)
        except DB_ERRORS as exc:
            # It works in this process now; other replicas and restarts need the database.
            log.error("new upstream token is in use but could not be stored: %s", type(exc).__name__)
            stored = False
        services.upstream.breaker.close()
        services.background(services.request_sync("token"), "sync after token change")
        return _status(state, stored=stored)


def _status(state: State, *, stored: bool) -> TokenStatus:
    services = state.services
    if services.settings.demo:
        raise Unavailable("demo mode: there is no upstream token")
    now = services.clock()
    info = services.token.status(now)
    return TokenStatus(
        source=str(info["source"]),
        set=bool(info["set"]),
        fingerprint=info.get("fingerprint"),  # type: ignore[arg-type]
        expires_at=info.get("expires_at"),  # type: ignore[arg-type]
        expires_in_s=info.get("expires_in_s"),  # type: ignore[arg-type]
        warning=services.token.warning(now),
        stored=stored,
    )
