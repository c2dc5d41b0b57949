"""web/js/search.js in the page makes the same keys as server/leaderboard/search.py."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.e2e.conftest import Site
from tests.search_cases import KEYS

pytestmark = pytest.mark.browser


async def test_the_page_search_key_matches_the_server(browser: Browser, site: Site) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.base}/overlay/builder")
    got = await page.evaluate(
        """async (texts) => {
            const { searchKey } = await import("/static/js/search.js");
            return texts.map(searchKey);
        }""",
        [text for text, _ in KEYS],
    )
    assert list(zip([t for t, _ in KEYS], got, strict=True)) == KEYS
