"""NAME_MASK=partial in a real browser: everyone sees masked names; a player signed in with
Telegram and linked sees their own row with their real name, highlighted, and nobody else's."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, Page, expect

from server.db.tables import AppState
from server.leaderboard.privacy import NameMask
from server.telegram.lease import USERNAME_KEY
from tests.e2e.conftest import Site, running_site, snap, watch
from tests.e2e.test_race_pages import running_race
from tests.integration.test_telegram_web import signed
from tests.telegram_fake import TEST_TELEGRAM

pytestmark = pytest.mark.browser

MINE, OTHER = "Maximilian Secretname", "Alice Wonder"


@pytest.fixture
async def masked_site(sqlite_url: str) -> AsyncIterator[Site]:
    overrides = {**TEST_TELEGRAM, "telegram_bot_in_serve": False, "name_mask": NameMask.PARTIAL}
    async with running_site(sqlite_url, players=60, **overrides) as site:
        await AppState.insert(AppState(key=USERNAME_KEY, value="goated_test_bot", updated_at=datetime.now(UTC))).run()
        yield site


async def sign_in(page: Page, site: Site, telegram_id: int) -> None:
    """Sign in as the widget would (the session cookie lands in the page's context)."""
    r = await page.request.post(
        f"{site.base}/api/auth/telegram",
        data=signed({"id": telegram_id, "first_name": "Max", "auth_date": int(time.time())}),
    )
    assert r.ok, await r.text()


async def test_a_linked_player_sees_their_own_row_unmasked_and_highlighted(browser: Browser, masked_site: Site) -> None:
    site = masked_site
    race, racers = await running_race(site)  # three players wagering in a live race
    mine, other = racers[0]["uid"], racers[1]["uid"]
    await site.rename(mine, MINE)
    await site.rename(other, OTHER)
    await site.sync()
    now = datetime.now(UTC)
    telegram = site.services.telegram
    request = await telegram.links.request(555, "Max", mine, "Ma***e", now)
    await telegram.links.approve(request.id, "test", now)

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch(page)
    await sign_in(page, site, 555)
    await page.goto(f"{site.base}/?period=all_time")
    own_row = page.locator(f'#board tbody tr[data-key="{mine}"]')
    await expect(own_row).to_have_class("me")
    await expect(own_row.locator("td.player a")).to_have_text(MINE)
    await expect(page.locator("#board tbody tr.me")).to_have_count(1)
    await expect(page.locator(f'#board tbody tr[data-key="{other}"] td.player a')).to_have_text("Al***r")
    background = await own_row.evaluate("tr => getComputedStyle(tr).backgroundColor")
    assert background == "rgba(245, 183, 0, 0.1)", background
    names = await page.locator("#board tbody td.player a").all_text_contents()
    assert [n for n in names if "***" not in n] == [MINE]  # every other name masked
    # Search stays on the masked form: another player's hidden part finds nobody.
    await page.fill("#search", "Wonder")
    await expect(page.locator("#empty")).to_have_text("No player matches that name.")
    await page.fill("#search", "")
    await snap(page, "leaderboard-own-row")

    # The race page's standings, and the player's own page.
    await page.goto(f"{site.base}/race/{race['id']}")
    own_standing = page.locator(f'#standings tr[data-key="{mine}"]')
    await expect(own_standing).to_have_class("me")
    await expect(own_standing.locator("td.player a")).to_have_text(MINE)
    await expect(page.locator(f'#standings tr[data-key="{other}"] td.player a')).to_have_text("Al***r")
    await expect(page.locator("#standings tr.me")).to_have_count(1)
    await page.goto(f"{site.base}/player/{mine}")
    await expect(page.locator("#name")).to_have_text(MINE)
    await page.goto(f"{site.base}/player/{other}")
    await expect(page.locator("#name")).to_have_text("Al***r")
    assert errors.serious() == []

    # Anyone else, signed in or not, sees the mask and no highlight.
    for telegram_id in (None, 556):
        stranger = await browser.new_page()
        if telegram_id is not None:
            await sign_in(stranger, site, telegram_id)
        await stranger.goto(f"{site.base}/?period=all_time")
        await expect(stranger.locator(f'#board tbody tr[data-key="{mine}"] td.player a')).to_have_text("Ma***e")
        await expect(stranger.locator(f'#board tbody tr[data-key="{other}"] td.player a')).to_have_text("Al***r")
        await stranger.wait_for_load_state("networkidle")
        assert await stranger.locator("#board tbody tr.me").count() == 0
        assert "Secretname" not in await stranger.content()
        await stranger.goto(f"{site.base}/race/{race['id']}")
        await expect(stranger.locator(f'#standings tr[data-key="{mine}"] td.player a')).to_have_text("Ma***e")
        await stranger.close()
