"""The account page (Sign in with Telegram, your position) and the admin's link requests,
in a real browser under the pages' real policies."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, expect

from server.db.tables import AppState
from server.telegram.lease import USERNAME_KEY
from server.telegram.tables import OutboxRow
from tests.e2e.conftest import ADMIN_TOKEN, HOSTILE, Site, running_site, snap, watch
from tests.integration.test_telegram_web import signed
from tests.telegram_fake import TEST_TELEGRAM

pytestmark = pytest.mark.browser


@pytest.fixture
async def tg_site(sqlite_url: str) -> AsyncIterator[Site]:
    overrides = {**TEST_TELEGRAM, "telegram_bot_in_serve": False, "telegram_admin_ids": (111,)}
    async with running_site(sqlite_url, players=60, **overrides) as site:
        await AppState.insert(AppState(key=USERNAME_KEY, value="goated_test_bot", updated_at=datetime.now(UTC))).run()
        yield site


async def test_signed_out_the_page_mounts_telegrams_widget(browser: Browser, tg_site: Site) -> None:
    page = await browser.new_page()
    errors = watch(page)
    await page.goto(f"{tg_site.base}/account")
    script = page.locator("#widget script")
    await expect(script).to_have_attribute("data-telegram-login", "goated_test_bot")
    await expect(script).to_have_attribute("data-auth-url", f"{tg_site.base}/api/auth/telegram/callback")
    await expect(script).to_have_attribute("src", "https://telegram.org/js/telegram-widget.js?22")
    assert errors.serious() == []  # telegram.org is unreachable here: only a failed load, no CSP violation


async def test_signed_in_the_page_shows_your_linked_players_places(browser: Browser, tg_site: Site) -> None:
    uid = (await tg_site.board("all_time"))[0]["uid"]
    await tg_site.rename(uid, HOSTILE)
    await tg_site.sync()
    telegram = tg_site.services.telegram
    now = datetime.now(UTC)
    request = await telegram.links.request(555, "Ann", uid, HOSTILE, now)
    await telegram.links.approve(request.id, "test", now)

    page = await browser.new_page()
    errors = watch(page)
    await page.goto(f"{tg_site.base}/account")
    r = await page.request.post(
        f"{tg_site.base}/api/auth/telegram",
        data=signed({"id": 555, "first_name": "Ann", "auth_date": int(time.time())}),
    )
    assert r.ok
    await page.reload()
    await expect(page.locator("#who")).to_have_text("Hi Ann")
    await expect(page.locator("#link-state")).to_have_text(f"Linked to {HOSTILE}.")
    await expect(page.locator("#positions .period")).to_have_count(4)
    await expect(page.locator("#positions .period", has_text="All time")).to_contain_text("#1")
    assert await page.locator("#account img").count() == 0  # the hostile name stayed text
    await page.click("#logout")
    await expect(page.locator("#signin")).to_be_visible()
    assert errors.serious() == []


async def test_the_admin_approves_a_link_request(browser: Browser, tg_site: Site) -> None:
    await tg_site.services.telegram.links.request(555, HOSTILE, "u1", "Alice", datetime.now(UTC))
    page = await browser.new_page(viewport={"width": 1360, "height": 1000})
    errors = watch(page)
    await page.goto(f"{tg_site.base}/admin")
    await page.fill("#token", ADMIN_TOKEN)
    await page.click("#login button[type=submit]")
    row = page.locator("#links tr", has_text="Alice")
    await expect(row).to_contain_text(HOSTILE)
    await row.get_by_role("button", name="Approve").click()
    await expect(page.locator("#message")).to_have_text("Link request #1 approved.")
    await expect(page.locator("#links-empty")).to_be_visible()
    assert await tg_site.services.telegram.links.linked_uid(555) == "u1"
    assert await OutboxRow.count().where(OutboxRow.chat == "555").run() == 1
    await snap(page, "admin-links", full_page=True)
    assert errors.serious() == []
