"""HTTP for Telegram: Sign in with Telegram (a server-side session tied to the Telegram
identity; signing in and out only as JSON from our own pages), the viewer's own position,
and the admin's link requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader, Cookie, State
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect

from server.params import SerialId
from server.admin import admin_guard
from server.errors import BadRequest, GoatedError
from server.leaderboard.board import Period
from server.races.model import RaceStatus
from server.telegram.links import Link, decision_message
from server.access import client_scheme, parse_networks
from server.telegram.login import COOKIE, LoginRefused, TelegramIdentity, verify_widget
from server.telegram.sessions import SESSION_DAYS, close_session, open_session, read_session
from server.telegram.runtime import Telegram

CALLBACK = "/api/auth/telegram/callback"


class TelegramOff(GoatedError):
    """Sign in with Telegram on a server without Telegram configured: the feature is not there."""

    status_code = 404


class CrossSite(GoatedError):
    """Signing in or out from another site's page (login CSRF, forced logout)."""

    status_code = 403


class NotJson(GoatedError):
    status_code = 415


def same_origin_json(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Sign-in and sign-out only as JSON from our own pages.

    Another site's form can send text/plain or a form encoding but not application/json,
    and its scripts cannot send that without a CORS preflight, which we never grant. A
    browser also says where a request comes from: Sec-Fetch-Site, or else Origin, must be
    us. A client that sends neither (curl) is not a browser another site can drive."""
    media = connection.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise NotJson("send this as JSON (Content-Type: application/json)")
    site = connection.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        raise CrossSite(f"signing in or out is only possible from this site's own pages (Sec-Fetch-Site: {site[:20]})")
    origin = connection.headers.get("origin")
    if origin is not None and not _same_host(origin, connection.headers.get("host", "")):
        raise CrossSite("signing in or out is only possible from this site's own pages (Origin is another site)")


def _same_host(origin: str, host: str) -> bool:
    """Origin's host against the Host header; the port is left out because a proxy's Host
    ($host in nginx) drops it, and cookies do not tell ports apart anyway."""
    theirs, ours = _hostname(origin), _hostname(f"//{host}")
    return theirs is not None and theirs == ours


def _hostname(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises here: not an origin a browser sends
    except ValueError:
        return None
    return parts.hostname


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


class OwnPlayer(msgspec.Struct, kw_only=True):
    """The linked player's own uid and real name: the pages show that one row unmasked
    (NAME_MASK=partial) and highlight it, for this viewer alone."""

    uid: str
    name: str


class Me(msgspec.Struct, kw_only=True):
    signed_in: bool
    telegram: ViewerIdentity | None = None
    link: LinkInfo | None = None  # pending or approved
    player: OwnPlayer | None = None  # the linked player, once approved
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


def _session_cookie(state: State, request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    """`Secure` whenever the browser reached us over HTTPS, directly or through a trusted proxy."""
    proxies = parse_networks(state.services.settings.trusted_proxies)
    return Cookie(
        key=COOKIE,
        value=value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=client_scheme(request, proxies) == "https",
    )


async def _sign_in(state: State, request: Request[Any, Any, Any], fields: dict[str, object]) -> tuple[TelegramIdentity, Cookie]:
    telegram = _telegram(state)
    now = _now()
    identity = verify_widget(fields, telegram.settings.telegram_bot_token or "", now)
    await telegram.accounts.seen(identity.id, identity.name, identity.username, now)
    session = await open_session(identity, telegram.session_key or b"", now)
    return identity, _session_cookie(state, request, session, SESSION_DAYS * 86_400)


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

    @post("/auth/telegram", summary="Sign in with the Telegram Login Widget's data", status_code=200, guards=[same_origin_json])
    async def sign_in(self, state: State, request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]) -> Response[Me]:
        identity, cookie = await _sign_in(state, request, data)
        return Response(await _me(state, identity), cookies=[cookie])

    @get(CALLBACK.removeprefix("/api"), summary="The widget's redirect after signing in", include_in_schema=False)
    async def callback(self, state: State, request: Request[Any, Any, Any]) -> Redirect:
        fields = {k: v for k, v in request.query_params.items()}
        try:
            _, cookie = await _sign_in(state, request, fields)
        except (LoginRefused, TelegramOff, BadRequest):
            return Redirect("/account?login=refused")
        return Redirect("/account", cookies=[cookie])

    @post("/auth/logout", summary="Sign out: ends the session for every copy of its cookie", status_code=204, guards=[same_origin_json])
    async def logout(self, state: State, request: Request[Any, Any, Any]) -> Response[None]:
        telegram: Telegram | None = state.services.telegram
        if telegram is not None and telegram.session_key is not None:
            await close_session(request.cookies.get(COOKIE), telegram.session_key)
        return Response(None, status_code=204, cookies=[_session_cookie(state, request, "", 0)])

    # The viewer's own real name rides in it: never kept by a shared cache.
    @get(
        "/me",
        summary="The signed-in viewer: Telegram identity, link, own player and positions",
        cache=False,
        cache_control=CacheControlHeader(private=True, no_store=True),
    )
    async def me(self, state: State, request: Request[Any, Any, Any]) -> Me:
        telegram: Telegram | None = state.services.telegram
        if telegram is None or telegram.session_key is None:
            return Me(signed_in=False)
        identity = await read_session(request.cookies.get(COOKIE), telegram.session_key, _now())
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
    record = await state.services.store.player(link.uid)
    me.player = OwnPlayer(uid=link.uid, name=record["name"] if record is not None else link.player_name)
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
    async def approve(self, state: State, link_id: SerialId) -> Link:
        return await _decide(state, link_id, approve=True)

    @post("/{link_id:int}/reject", summary="Reject a link request", status_code=200)
    async def reject(self, state: State, link_id: SerialId) -> Link:
        return await _decide(state, link_id, approve=False)


async def _decide(state: State, link_id: int, *, approve: bool) -> Link:
    telegram: Telegram = state.services.telegram
    now = _now()
    decide = telegram.links.approve if approve else telegram.links.reject
    link = await decide(link_id, "admin-api", now)
    if await telegram.outbox.add([decision_message(link)], now) and telegram.runner is not None:
        telegram.runner.wake()
    return link
