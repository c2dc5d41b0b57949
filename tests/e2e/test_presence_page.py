"""'N watching' in a real browser: the leaderboard and race pages show how many follow them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import Site, running_site, watch

pytestmark = pytest.mark.browser

INTERVAL = 1.0  # PRESENCE_INTERVAL here (5 s in production): counts go out at most once a second


@pytest.fixture
async def quick_site(sqlite_url: str) -> AsyncIterator[Site]:
    async with running_site(sqlite_url, presence_interval=INTERVAL) as s:
        yield s


async def open_page(browser: Browser, site: Site, path: str = "/") -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})  # one viewer each, as people are
    page = await context.new_page()
    await page.goto(f"{site.base}{path}")
    return context, page


async def test_the_leaderboard_shows_how_many_watch_it_as_pages_open_and_close(browser: Browser, quick_site: Site) -> None:
    site = quick_site
    first_context, first = await open_page(browser, site)
    errors = watch(first)
    counter = first.locator("#watching")
    await expect(counter).to_have_text("1 watching")  # right after the board, not at the next count
    await expect(counter).to_be_visible()

    second_context, second = await open_page(browser, site)
    third_context, third = await open_page(browser, site)
    for page in (first, second, third):
        await expect(page.locator("#watching")).to_have_text("3 watching", timeout=5 * INTERVAL * 1000)

    # Another period is another channel: the page follows it alone, and the others drop to 2.
    await third.get_by_role("tab", name="All time").click()
    await expect(third.locator("#watching")).to_have_text("1 watching")
    for page in (first, second):
        await expect(page.locator("#watching")).to_have_text("2 watching", timeout=5 * INTERVAL * 1000)

    await second_context.close()
    await expect(counter).to_have_text("1 watching", timeout=5 * INTERVAL * 1000)
    assert errors.serious() == []
    await first_context.close()
    await third_context.close()


async def test_the_race_page_shows_its_viewers(browser: Browser, quick_site: Site) -> None:
    contexts = []
    for n in (1, 2):
        context, page = await open_page(browser, quick_site, "/race")
        contexts.append(context)
        await expect(page.locator("#watching")).to_have_text(f"{n} watching")
    for context in contexts:
        await context.close()


async def test_watching_text_reads_counts_with_thousands(browser: Browser, quick_site: Site) -> None:
    page = await browser.new_page()
    await page.goto(f"{quick_site.base}/race")
    got = await page.evaluate(
        """async () => {
            const { watchingText, bindPresence } = await import("/static/js/presence.js");
            const box = document.createElement("span");
            box.hidden = true;
            const show = bindPresence(box);
            const handled = [show({ type: "presence", channel: "x", watching: 1204 }), show({ type: "delta", seq: 3 })];
            return {
              texts: [0, 1, 2, 1204, 1234567, -1, 1.5, "7", null].map(watchingText),
              handled, shown: box.textContent, hidden: box.hidden,
            };
        }"""
    )
    assert got["texts"] == ["0 watching", "1 watching", "2 watching", "1,204 watching", "1,234,567 watching", "", "", "", ""]
    assert got["handled"] == [True, False]
    assert got["shown"] == "1,204 watching" and got["hidden"] is False
