"""Honest sessions over real HTTP: logging out ends a session for every copy of its cookie on
every replica; the cookie is Secure behind a trusted HTTPS proxy; signing in and out only as
JSON from our own pages; signed values out of range are a 400."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from server.telegram.login import COOKIE, TelegramIdentity, session_key
from server.telegram.sessions import MAX_PER_USER, SESSION_DAYS, close_session, open_session, read_session
from server.telegram.tables import WebSessionRow
from tests.conftest import live_settings, running_app, running_sim
from tests.integration.test_telegram_web import BOT_TOKEN, signed, widget_data
from tests.telegram_fake import TEST_TELEGRAM


def settings(database_url: str, sim: object, **overrides: object):  # noqa: ANN201
    values = {**TEST_TELEGRAM, "telegram_bot_in_serve": False, **overrides}
    return live_settings(database_url, sim, **values)  # type: ignore[arg-type]


def cookie_of(response: httpx.Response) -> str:
    return response.cookies[COOKIE]


async def test_logging_out_ends_the_session_for_every_copy_of_its_cookie(pg_url: str, redis_url: str) -> None:
    async with running_sim(players=10) as sim:
        both = settings(pg_url, sim, redis_url=redis_url, redis_prefix=f"goated-test:{uuid.uuid4().hex[:8]}")
        async with running_app(both) as (first, _), running_app(both) as (second, _):
            async with httpx.AsyncClient(base_url=first) as mine, httpx.AsyncClient(base_url=second) as copied:
                r = await mine.post("/api/auth/telegram", json=widget_data())
                assert r.status_code == 200, r.text
                copied.cookies.set(COOKIE, cookie_of(r))  # a stolen copy, used on another replica
                assert (await copied.get("/api/me")).json()["signed_in"] is True
                async with httpx.AsyncClient(base_url=first) as phone:  # the same user elsewhere
                    other_session = await phone.post("/api/auth/telegram", json=widget_data())

                assert (await mine.post("/api/auth/logout", json={})).status_code == 204
                assert (await mine.get("/api/me")).json()["signed_in"] is False
                assert (await copied.get("/api/me")).json()["signed_in"] is False
                # Only that session ended: the same user's other one goes on.
                async with httpx.AsyncClient(base_url=second, cookies={COOKIE: cookie_of(other_session)}) as phone:
                    assert (await phone.get("/api/me")).json()["signed_in"] is True
        assert await WebSessionRow.count().where(WebSessionRow.telegram_id == 555).run() == 1


@pytest.mark.parametrize(
    ("trusted", "peer_says", "secure"),
    [
        ("127.0.0.1", "https", True),  # behind the shipped nginx terminating TLS
        ("10.0.0.0/8, 127.0.0.0/8", "https, http", True),
        ("127.0.0.1", "http", False),
        ("", "https", False),  # no trusted proxy: anyone could send the header
        ("10.0.0.0/8", "https", False),  # the peer is not one of the trusted proxies
    ],
)
async def test_the_session_cookie_is_secure_when_the_browser_used_https(sqlite_url: str, trusted: str, peer_says: str, secure: bool) -> None:
    async with running_sim(players=10) as sim, running_app(settings(sqlite_url, sim, trusted_proxies=trusted)) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers={"X-Forwarded-Proto": peer_says}) as http:
            signed_in = await http.post("/api/auth/telegram", json=widget_data())
            callback = await http.get("/api/auth/telegram/callback", params={k: str(v) for k, v in widget_data().items()})
            signed_out = await http.post("/api/auth/logout", json={})
        for r in (signed_in, callback, signed_out):
            cookie = r.headers["set-cookie"]
            assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
            assert ("Secure" in cookie.split(";") or " Secure" in cookie) is secure, cookie


async def test_sign_in_and_out_only_as_json_from_our_own_pages(sqlite_url: str) -> None:
    async with running_sim(players=10) as sim, running_app(settings(sqlite_url, sim)) as (base, _):
        host = base.removeprefix("http://")
        async with httpx.AsyncClient(base_url=base) as http:
            body = json.dumps(widget_data())
            # Another site's form (text/plain needs no CORS preflight) cannot sign you in as it likes.
            for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""):
                r = await http.post("/api/auth/telegram", content=body, headers={"Content-Type": content_type})
                assert r.status_code == 415, (content_type, r.status_code)
                assert "set-cookie" not in r.headers
            for headers in (
                {"Origin": "https://evil.example"},
                {"Origin": "null"},
                {"Origin": f"http://{host}.evil.example"},
                {"Origin": f"http://{host.split(':')[0]}.evil.example:{host.split(':')[1]}"},
                {"Sec-Fetch-Site": "cross-site"},
                {"Sec-Fetch-Site": "same-site", "Origin": f"http://{host}"},
            ):
                r = await http.post("/api/auth/telegram", json=widget_data(), headers=headers)
                assert r.status_code == 403 and "set-cookie" not in r.headers, headers
            assert (await http.get("/api/me")).json()["signed_in"] is False

            ours = {"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
            r = await http.post("/api/auth/telegram", json=widget_data(), headers=ours)
            assert r.status_code == 200, r.text
            # Behind a proxy whose Host has no port ($host in nginx) the page's Origin still matches.
            r = await http.post("/api/auth/telegram", json=widget_data(), headers={"Origin": "https://live.example:8080", "Host": "live.example"})
            assert r.status_code == 200, r.text

            # Logout cannot be triggered cross-site either: the session survives these.
            for attempt in (
                {"content": b"", "headers": {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}},
                {"content": b"{}", "headers": {"Content-Type": "text/plain"}},
                {"content": b"{}", "headers": {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}},
                {"content": b"", "headers": {}},
            ):
                r = await http.post("/api/auth/logout", **attempt)  # type: ignore[arg-type]
                assert r.status_code in (403, 415) and "set-cookie" not in r.headers, attempt
                assert (await http.get("/api/me")).json()["signed_in"] is True
            assert (await http.post("/api/auth/logout", json={}, headers=ours)).status_code == 204
            assert (await http.get("/api/me")).json()["signed_in"] is False


@pytest.mark.parametrize("user_id", [2**64, 10**40, 2**63, 0, -1])
async def test_a_properly_signed_login_with_an_impossible_id_is_a_400(sqlite_url: str, user_id: int) -> None:
    data = signed({"id": user_id, "first_name": "Ann", "auth_date": int(time.time())})
    async with running_sim(players=10) as sim, running_app(settings(sqlite_url, sim)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.post("/api/auth/telegram", json=data)
            assert r.status_code == 400, (r.status_code, r.text)
            assert "Telegram user id" in r.json()["error"] and "set-cookie" not in r.headers
            back = await http.get("/api/auth/telegram/callback", params={k: str(v) for k, v in data.items()})
            assert back.status_code in (302, 303) and back.headers["location"] == "/account?login=refused"


async def test_sessions_expire_are_keyed_by_the_bot_token_and_bounded_per_user(sqlite_url: str) -> None:
    key = session_key(str(BOT_TOKEN))
    now = datetime.now(UTC)
    ann = TelegramIdentity(id=555, first_name="Ann", username="ann")
    async with running_sim(players=10) as sim, running_app(settings(sqlite_url, sim)):
        cookie = await open_session(ann, key, now)
        assert len(cookie) == 43
        assert await read_session(cookie, key, now + timedelta(days=SESSION_DAYS - 1)) == ann
        assert await read_session(cookie, key, now + timedelta(days=SESSION_DAYS, seconds=1)) is None
        assert await read_session(cookie, session_key("999:" + "Z" * 35), now) is None  # a new bot token
        for forged in (cookie[:-1] + ("A" if cookie[-1] != "A" else "B"), "", None, "x" * 10_000):
            assert await read_session(forged, key, now) is None
        stored = [r["id_hash"] for r in await WebSessionRow.select(WebSessionRow.id_hash).run()]
        assert cookie not in stored and all(len(h) == 64 for h in stored)  # only a keyed hash at rest

        later = [await open_session(ann, key, now + timedelta(seconds=i + 1)) for i in range(MAX_PER_USER)]
        assert await WebSessionRow.count().where(WebSessionRow.telegram_id == 555).run() == MAX_PER_USER
        assert await read_session(cookie, key, now) is None  # the oldest made room
        assert await read_session(later[0], key, now) == ann
        await close_session(later[0], key)
        assert await read_session(later[0], key, now) is None and await read_session(later[1], key, now) == ann
        # Expired rows go when anyone signs in.
        await open_session(TelegramIdentity(id=556, first_name="Bob"), key, now + timedelta(days=SESSION_DAYS + 1))
        assert await WebSessionRow.count().where(WebSessionRow.telegram_id == 555).run() == 0
