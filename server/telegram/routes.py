"""HTTP for Telegram: Sign in with Telegram (a session tied to the Telegram identity), the
viewer's own position, and the admin's link requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect

from server.admin import admin_guard
from server.errors import BadRequest, GoatedError
from server.leaderboard.board import Period
from server.races.model import RaceStatus
from server.telegram.links import Link, decision_message
from server.telegram.login import COOKIE, SESSION_DAYS, LoginRefused, TelegramIdentity, read_session, sign_session, verify_widget
from server.telegram.runtime import Telegram

CALLBACK = "/api/auth/telegram/callback"


class TelegramOff(GoatedError):
    """Sign in with Telegram on a server without Telegram configured: the feature is not there."""

    status_code = 404


class LoginConfig(msgspec.Struct, kw_only=True):
    enabled: bool
    bot_username: str | None  # the widget's data-telegram-login
    auth_url: str  # where the widget sends the browser after signing in


class ViewerIdentity(msgspec.Struct, kw_only=True):
    id: int
    name: str
    username: str | None


class Position(msgspec.Struct, kw_only=True):
    period: Period
    rank: int | None  # None: not on that board
    amount: float
    total: int


class RacePosition(msgspec.Struct, kw_only=True):
    race_id: int
    title: str
    status: RaceStatus
    position: int | None
    amount: float
    gap: float | None
    prize_cents: int


class LinkInfo(msgspec.Struct, kw_only=True):
    id: int
    status: str
    uid: str
    player_name: str


class Me(msgspec.Struct, kw_only=True):
    signed_in: bool
    telegram: ViewerIdentity | None = None
    link: LinkInfo | None = None  # pending or approved
    positions: list[Position] = []  # the linked player's, once approved
    race: RacePosition | None = None


class LinkPage(msgspec.Struct, kw_only=True):
    links: list[Link]


def _telegram(state: State) -> Telegram:
    telegram: Telegram | None = state.services.telegram
    if telegram is None or not telegram.enabled or telegram.session_key is None:
        raise TelegramOff("Telegram is off on this server (TELEGRAM_* settings are not set)")
    return telegram


def _now() -> datetime:
    return datetime.now(UTC)


def _session_cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


async def _sign_in(state: State, request: Request[Any, Any, Any], fields: dict[str, object]) -> tuple[TelegramIdentity, Cookie]:
    telegram = _telegram(state)
    now = _now()
    identity = verify_widget(fields, telegram.settings.telegram_bot_token or "", now)
    await telegram.accounts.seen(identity.id, identity.name, identity.username, now)
    cookie = _session_cookie(request, sign_session(identity, telegram.session_key or b"", now), SESSION_DAYS * 86_400)
    return identity, cookie


class AuthController(Controller):
    path = "/api"
    tags = ["telegram"]

    @get("/auth/telegram/config", summary="What the Sign in with Telegram widget needs", cache=False)
    async def config(self, state: State) -> LoginConfig:
        telegram: Telegram | None = state.services.telegram
        if telegram is None or not telegram.enabled:
            return LoginConfig(enabled=False, bot_username=None, auth_url=CALLBACK)
        username = await telegram.bot_username()
        return LoginConfig(enabled=username is not None, bot_username=username, auth_url=CALLBACK)

    @post("/auth/telegram", summary="Sign in with the Telegram Login Widget's data", status_code=200)
    async def sign_in(self, state: State, request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]) -> Response[Me]:
        identity, cookie = await _sign_in(state, request, data)
        return Response(await _me(state, identity), cookies=[cookie])

    @get(CALLBACK.removeprefix("/api"), summary="The widget's redirect after signing in", include_in_schema=False)
    async def callback(self, state: State, request: Request[Any, Any, Any]) -> Redirect:
        fields = {k: v for k, v in request.query_params.items()}
        try:
            _, cookie = await _sign_in(state, request, fields)
        except (LoginRefused, TelegramOff):
            return Redirect("/account?login=refused")
        return Redirect("/account", cookies=[cookie])

    @post("/auth/logout", summary="Sign out", status_code=204)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[None]:
        return Response(None, status_code=204, cookies=[_session_cookie(request, "", 0)])

    @get("/me", summary="The signed-in viewer: Telegram identity, link and positions", cache=False)
    async def me(self, state: State, request: Request[Any, Any, Any]) -> Me:
        telegram: Telegram | None = state.services.telegram
        if telegram is None or telegram.session_key is None:
            return Me(signed_in=False)
        identity = read_session(request.cookies.get(COOKIE), telegram.session_key, _now())
        if identity is None:
            return Me(signed_in=False)
        return await _me(state, identity)


async def _me(state: State, identity: TelegramIdentity) -> Me:
    telegram = _telegram(state)
    me = Me(signed_in=True, telegram=ViewerIdentity(id=identity.id, name=identity.name, username=identity.username))
    link = await telegram.links.current(identity.id)
    if link is None:
        return me
    me.link = LinkInfo(id=link.id, status=link.status, uid=link.uid, player_name=link.player_name)
    if link.status != "approved":
        return me
    live = state.services.live
    for period in Period:
        row = live.row(period, link.uid)
        me.positions.append(
            Position(period=period, rank=row.rank if row else None, amount=row.amount if row else 0.0, total=live.board(period).total)
        )
    races = state.services.races
    view = races.live.current() if races is not None else None
    if view is not None and view.race.status in (RaceStatus.LIVE, RaceStatus.ENDED):
        mine = await races.store.standing(view.race.id, link.uid)
        me.race = RacePosition(
            race_id=view.race.id,
            title=view.race.title,
            status=view.race.status,
            position=mine.position if mine else None,
            amount=mine.amount if mine else 0.0,
            gap=mine.gap if mine else None,
            prize_cents=mine.prize_cents if mine else 0,
        )
    return me


class AdminLinkController(Controller):
    path = "/api/admin/links"
    tags = ["admin", "telegram"]
    guards = [admin_guard]

    @get("/", summary="Link requests (newest first; pending ones oldest first)", cache=False)
    async def list_links(self, state: State, status: FromQuery[str] = "pending", limit: FromQuery[int] = 100) -> LinkPage:
        if status not in ("all", "pending", "approved", "rejected", "unlinked"):
            raise BadRequest("status must be pending, approved, rejected, unlinked or all")
        links = await state.services.telegram.links.page(None if status == "all" else status, min(max(limit, 1), 500))
        return LinkPage(links=links)

    @post("/{link_id:int}/approve", summary="Approve a link request", status_code=200)
    async def approve(self, state: State, link_id: FromPath[int]) -> Link:
        return await _decide(state, link_id, approve=True)

    @post("/{link_id:int}/reject", summary="Reject a link request", status_code=200)
    async def reject(self, state: State, link_id: FromPath[int]) -> Link:
        return await _decide(state, link_id, approve=False)


async def _decide(state: State, link_id: int, *, approve: bool) -> Link:
    telegram: Telegram = state.services.telegram
    now = _now()
    decide = telegram.links.approve if approve else telegram.links.reject
    link = await decide(link_id, "admin-api", now)
    if await telegram.outbox.add([decision_message(link)], now) and telegram.runner is not None:
        telegram.runner.wake()
    return link
