"""The admin page as a newcomer meets it: the demo's printed token works; no token says the API is off."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.conftest import live_settings, running_sim
from tests.demo_serve import running_demo
from tests.e2e.conftest import serve_app, watch

pytestmark = pytest.mark.browser


async def test_the_demos_admin_page_creates_a_race_with_the_printed_token(browser: Browser, tmp_path: Path) -> None:
    async with running_demo(tmp_path) as demo:
        page = await browser.new_page(viewport={"width": 1360, "height": 1000})
        errors = watch(page)
        await page.goto(f"{demo.base}/admin")
        await expect(page.locator("#login .sub")).to_contain_text("Demo mode: enter the admin token that goated serve printed")
        await expect(page.locator("#off")).to_be_hidden()
        await page.fill("#token", demo.token)
        await page.click("#login button[type=submit]")
        await expect(page.locator("#console")).to_be_visible()

        await page.fill("input[name=title]", "Newcomer's first race")
        await page.select_option("select[name=kind]", "custom")
        await page.fill("input[name=starts_at]", "2030-01-04T18:00")
        await page.fill("input[name=ends_at]", "2030-01-06T18:00")
        await page.fill("input[name=pool]", "100")
        await page.fill("input[name=split]", "70,30")
        await page.click("#save")
        await expect(page.locator("#message")).to_have_text("Race created.")
        await expect(page.locator("#races tr", has_text="Newcomer's first race").locator(".status")).to_have_text("upcoming")
        async with httpx.AsyncClient() as http:
            races = (await http.get(f"{demo.base}/api/races", params={"status": "upcoming"})).json()["races"]
        assert [r["pool_cents"] for r in races if r["title"] == "Newcomer's first race"] == [10_000]

        # The printed link signs a fresh tab in at once, and leaves no token in the address bar.
        linked = await browser.new_page()
        await linked.goto(demo.admin_link)  # as printed: localhost
        await expect(linked.locator("#console")).to_be_visible()
        assert linked.url == demo.admin_link.split("#", 1)[0]
        assert await linked.evaluate("sessionStorage.getItem('goated.adminToken')") == demo.token
        assert errors.serious() == []


async def test_without_an_admin_token_the_page_says_the_api_is_off_and_how_to_turn_it_on(browser: Browser, sqlite_url: str) -> None:
    async with running_sim() as sim, serve_app(live_settings(sqlite_url, sim)) as (base, _):
        page = await browser.new_page()
        errors = watch(page)
        await page.goto(f"{base}/admin")
        off = page.locator("#off")
        await expect(off).to_be_visible()
        await expect(off.locator(".notice")).to_contain_text("The admin API is off")
        await expect(off).to_contain_text("set ADMIN_TOKEN")
        await expect(off).to_contain_text("restart goated serve")
        await expect(page.locator("#login")).to_be_hidden()
        await expect(page.locator("#console")).to_be_hidden()
        assert errors.serious() == []
