"""web/js/money.js in the page answers the same table as server/money.py."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.e2e.conftest import Site
from tests.money_cases import CENTS, COMPACT, USD

pytestmark = pytest.mark.browser


async def test_money_js_reads_amounts_by_the_rule(browser: Browser, site: Site) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.base}/overlay/builder")
    got = await page.evaluate(
        """async ([usd, cents, compact]) => {
            const { formatUsd, formatCents, formatUsdCompact } = await import("/static/js/money.js");
            return {
              usd: usd.map(([a]) => formatUsd(a)),
              cents: cents.map(([c]) => formatCents(c)),
              compact: compact.map(([a]) => formatUsdCompact(a)),
            };
        }""",
        [USD, CENTS, COMPACT],
    )
    assert list(zip([a for a, _ in USD], got["usd"], strict=True)) == USD
    assert list(zip([c for c, _ in CENTS], got["cents"], strict=True)) == CENTS
    assert list(zip([a for a, _ in COMPACT], got["compact"], strict=True)) == COMPACT
