"""HTML page routes: fixed files from web/ under a strict Content-Security-Policy; the pages
fetch their data from the API and the websocket, so nothing untrusted is templated in."""

from __future__ import annotations

import re
from pathlib import Path

from litestar import MediaType, Response, get
from litestar.params import FromPath

from server.errors import BadRequest
from server.leaderboard.identity import UID_MAX, is_uid

WEB = Path(__file__).resolve().parents[1] / "web"

_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors {ancestors}"
)
CSP = _POLICY.format(ancestors="'none'")
# OBS, streaming tools and the builder's preview frame the overlay.
OVERLAY_CSP = _POLICY.format(ancestors="*")
# Only the account page embeds Telegram's login widget: its script from telegram.org and
# the sign-in frame from oauth.telegram.org (https://core.telegram.org/widgets/login).
ACCOUNT_CSP = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self' https://telegram.org; frame-src https://oauth.telegram.org; frame-ancestors 'none'"
)

_RACE_ID = re.compile(r"[0-9]{1,18}")


def page_headers(csp: str = CSP) -> dict[str, str]:
    """What every HTML page is served with (the API docs at /schema included)."""
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }
    if "frame-ancestors 'none'" in csp:
        headers["X-Frame-Options"] = "DENY"
    return headers


def _page(name: str, csp: str = CSP) -> Response[bytes]:
    return Response((WEB / name).read_bytes(), media_type=MediaType.HTML, headers=page_headers(csp))


@get("/", media_type=MediaType.HTML, include_in_schema=False)
async def leaderboard_page() -> Response[bytes]:
    return _page("index.html")


@get("/race", media_type=MediaType.HTML, include_in_schema=False)
async def current_race_page() -> Response[bytes]:
    return _page("race.html")


@get("/race/{race_id:str}", media_type=MediaType.HTML, include_in_schema=False)
async def race_page(race_id: FromPath[str]) -> Response[bytes]:
    if not _RACE_ID.fullmatch(race_id):
        raise BadRequest("a race id is a whole number")
    return _page("race.html")


@get("/player/{uid:str}", media_type=MediaType.HTML, include_in_schema=False)
async def player_page(uid: FromPath[str]) -> Response[bytes]:
    if not is_uid(uid):
        raise BadRequest(f"uid must be 1-{UID_MAX} of A-Z a-z 0-9 - _")
    return _page("player.html")


@get("/overlay", media_type=MediaType.HTML, include_in_schema=False)
async def overlay_page() -> Response[bytes]:
    return _page("overlay.html", OVERLAY_CSP)


@get("/overlay/builder", media_type=MediaType.HTML, include_in_schema=False)
async def overlay_builder_page() -> Response[bytes]:
    return _page("builder.html")


@get("/admin", media_type=MediaType.HTML, include_in_schema=False)
async def admin_page() -> Response[bytes]:
    return _page("admin.html")


@get("/account", media_type=MediaType.HTML, include_in_schema=False)
async def account_page() -> Response[bytes]:
    return _page("account.html", ACCOUNT_CSP)


PAGES = [
    account_page,
    leaderboard_page,
    current_race_page,
    race_page,
    player_page,
    overlay_page,
    overlay_builder_page,
    admin_page,
]
