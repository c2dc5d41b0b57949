"""Telegram on the web side: off without credentials (log and /health), Sign in with Telegram
(cookie session, /api/me), the admin's link requests, the account page's policy."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from server.db.tables import AppState
from server.pages import ACCOUNT_CSP, CSP
from server.telegram.lease import USERNAME_KEY
from server.telegram.outbox import Outgoing
from server.telegram.tables import OutboxRow
from tests.conftest import live_settings, running_app, running_sim
from tests.telegram_fake import TEST_TELEGRAM

WEB = Path(__file__).resolve().parents[2] / "web"
BOT_TOKEN = TEST_TELEGRAM["telegram_bot_token"]
ADMIN_TOKEN = "admin-secret-for-tests"


def signed(fields: dict[str, object], token: str = str(BOT_TOKEN)) -> dict[str, object]:
    """What the Login Widget hands the page, signed the way Telegram documents it."""
    data_check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hashlib.sha256(token.encode()).digest()
    return {**fields, "hash": hmac.new(secret, data_check.encode(), hashlib.sha256).hexdigest()}


def widget_data(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {"id": 555, "first_name": "Ann", "username": "ann", "auth_date": int(time.time())}
    fields.update(overrides)
    return signed(fields)


async def test_without_credentials_the_bot_is_off_and_says_so_once(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="server.telegram.runtime")
    async with running_sim(players=20) as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(2):
                part = (await http.get("/health")).json()["parts"]["telegram"]
                assert part["status"] == "off" and "TELEGRAM_BOT_TOKEN" in part["detail"]
            health = (await http.get("/health")).json()
            assert health["status"] != "down"
            assert (await http.get("/api/auth/telegram/config")).json() == {
                "enabled": False, "bot_username": None, "auth_url": "/api/auth/telegram/callback",
            }
            assert (await http.get("/api/me")).json()["signed_in"] is False
            refused = await http.post("/api/auth/telegram", json=widget_data())
            assert refused.status_code == 404 and "Telegram is off" in refused.json()["error"]
        assert services.telegram is not None and services.telegram.runner is None and services.telegram.announcer is None
    off = [r for r in caplog.records if "Telegram is off" in r.getMessage()]
    assert len(off) == 1


def test_goated_bot_without_credentials_explains_and_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite'}"
    help_run = subprocess.run([sys.executable, "-m", "server", "bot", "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert help_run.returncode == 0 and "Telegram bot" in help_run.stdout
    run = subprocess.run([sys.executable, "-m", "server", "bot"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "TELEGRAM_BOT_TOKEN" in run.stderr


def _settings(database_url: str, sim: object, **overrides: object):  # noqa: ANN202
    values = {**TEST_TELEGRAM, "telegram_bot_in_serve": False, "admin_token": ADMIN_TOKEN, **overrides}
    return live_settings(database_url, sim, **values)  # type: ignore[arg-type]


async def test_sign_in_with_telegram_opens_a_session_and_shows_your_position(sqlite_url: str) -> None:
    async with running_sim(players=30) as sim:
        uid = sim.simulation.snapshot()[0].uid
        sim.simulation.wager(uid, 5000)
        async with running_app(_settings(sqlite_url, sim)) as (base, services):
            await services.sync.run_once("test")
            async with httpx.AsyncClient(base_url=base) as http:
                # The widget needs the bot's username, which the running bot stores.
                assert (await http.get("/api/auth/telegram/config")).json()["enabled"] is False
                await AppState.insert(AppState(key=USERNAME_KEY, value="goated_test_bot", updated_at=datetime.now(UTC))).run()
                assert (await http.get("/api/auth/telegram/config")).json()["bot_username"] == "goated_test_bot"

                r = await http.post("/api/auth/telegram", json=widget_data())
                assert r.status_code == 200, r.text
                cookie = r.headers["set-cookie"]
                assert "goated_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
                me = (await http.get("/api/me")).json()
                assert me["signed_in"] and me["telegram"] == {"id": 555, "name": "Ann", "username": "ann"}
                assert me["link"] is None and me["positions"] == []

                telegram = services.telegram
                now = datetime.now(UTC)
                request = await telegram.links.request(555, "Ann", uid, "whoever", now)
                assert (await http.get("/api/me")).json()["link"]["status"] == "pending"
                await telegram.links.approve(request.id, "test", now)
                me = (await http.get("/api/me")).json()
                assert me["link"]["status"] == "approved"
                all_time = next(p for p in me["positions"] if p["period"] == "all_time")
                assert all_time["rank"] == 1 and all_time["amount"] >= 5000

                assert (await http.post("/api/auth/logout", json={})).status_code == 204
                assert (await http.get("/api/me")).json()["signed_in"] is False


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({**widget_data(), "first_name": "Eve"}, "tampered"),
        ({**widget_data(), "hash": "0" * 64}, "wrong hash"),
        ({k: v for k, v in widget_data().items() if k != "hash"}, "no hash"),
        (widget_data(auth_date=int(time.time()) - 86_401), "stale"),
        (signed({"id": 555, "first_name": "Ann", "auth_date": int(time.time())}, token="999:" + "B" * 35), "another bot"),
    ],
)
async def test_sign_in_refuses_bad_widget_data(sqlite_url: str, data: dict[str, object], why: str) -> None:
    async with running_sim(players=10) as sim, running_app(_settings(sqlite_url, sim)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.post("/api/auth/telegram", json=data)
            assert r.status_code == 401, why
            assert "set-cookie" not in r.headers
            assert (await http.get("/api/me")).json()["signed_in"] is False


async def test_the_widgets_redirect_signs_in_or_sends_back(sqlite_url: str) -> None:
    async with running_sim(players=10) as sim, running_app(_settings(sqlite_url, sim)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            good = await http.get("/api/auth/telegram/callback", params={k: str(v) for k, v in widget_data().items()})
            assert good.status_code in (302, 303) and good.headers["location"] == "/account"
            assert (await http.get("/api/me")).json()["signed_in"] is True
        async with httpx.AsyncClient(base_url=base) as http:
            bad = await http.get("/api/auth/telegram/callback", params={**{k: str(v) for k, v in widget_data().items()}, "id": "1"})
            assert bad.headers["location"] == "/account?login=refused"
            assert (await http.get("/api/me")).json()["signed_in"] is False


async def test_admin_lists_and_decides_link_requests(sqlite_url: str) -> None:
    async with running_sim(players=10) as sim, running_app(_settings(sqlite_url, sim, telegram_admin_ids=(111,))) as (base, services):
        links = services.telegram.links
        now = datetime.now(UTC)
        first = await links.request(555, "Ann <x>", "u1", "Alice", now)
        second = await links.request(556, "Bob", "u2", "Bert", now)
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/api/admin/links")).status_code == 401
            page = (await http.get("/api/admin/links", params={"status": "pending"}, headers=auth)).json()
            assert [(link["id"], link["telegram_name"], link["status"]) for link in page["links"]] == [
                (first.id, "Ann <x>", "pending"), (second.id, "Bob", "pending"),
            ]
            approved = await http.post(f"/api/admin/links/{first.id}/approve", headers=auth)
            assert approved.status_code == 200 and approved.json()["status"] == "approved"
            assert approved.json()["decided_by"] == "admin-api"
            rejected = await http.post(f"/api/admin/links/{second.id}/reject", headers=auth)
            assert rejected.json()["status"] == "rejected"
            again = await http.post(f"/api/admin/links/{first.id}/reject", headers=auth)
            assert again.status_code == 400 and "approved, not pending" in again.json()["error"]
            assert (await http.post("/api/admin/links/999/approve", headers=auth)).status_code == 404
            assert (await http.get("/api/admin/links", params={"status": "nope"}, headers=auth)).status_code == 400
            assert (await http.get("/api/admin/links", params={"status": "pending"}, headers=auth)).json()["links"] == []
        dms = await OutboxRow.select(OutboxRow.chat, OutboxRow.text).order_by(OutboxRow.id).run()
        assert [d["chat"] for d in dms] == ["555", "556"]
        assert "linked to <b>Alice</b>" in dms[0]["text"] and "not approved" in dms[1]["text"]
        assert await links.linked_uid(555) == "u1"


async def test_health_shows_the_outbox_and_flags_a_stuck_one(sqlite_url: str) -> None:
    async with running_sim(players=10) as sim, running_app(_settings(sqlite_url, sim)) as (base, services):
        async with httpx.AsyncClient(base_url=base) as http:
            part = (await http.get("/health")).json()["parts"]["telegram"]
            assert part["status"] == "ok" and part["info"]["backlog"] == 0
            assert "not in this process" in part["info"]["bot"]
            old = datetime.now(UTC) - timedelta(minutes=20)
            await services.telegram.outbox.add([Outgoing("channel", "digest", "waiting")], old)
            part = (await http.get("/health")).json()["parts"]["telegram"]
            assert part["status"] == "degraded" and "1 message(s) waiting" in part["detail"]
            assert part["info"]["backlog"] == 1


async def test_only_the_account_page_may_load_telegrams_widget(sqlite_url: str) -> None:
    async with running_sim(players=10) as sim, running_app(_settings(sqlite_url, sim)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.get("/account")
            assert r.status_code == 200 and r.content == (WEB / "account.html").read_bytes()
            policy = r.headers["content-security-policy"]
            assert policy == ACCOUNT_CSP and r.headers["x-frame-options"] == "DENY"
            assert "script-src 'self' https://telegram.org;" in policy and "frame-src https://oauth.telegram.org" in policy
            assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
            home = await http.get("/")
            assert home.headers["content-security-policy"] == CSP and "telegram.org" not in CSP
    html = (WEB / "account.html").read_text()
    assert "<script" in html and "telegram.org" not in html  # the widget is added by account.js
    assert "<style" not in html and " style=" not in html and " onclick" not in html
