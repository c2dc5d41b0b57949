"""A fresh demo's player page in Chromium: the history chart has weeks behind it, dated time
ticks, a USD axis and two told-apart series; the race archive has winners from the start."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, expect

from server.settings import Settings
from tests.e2e.conftest import Site, serve_app, watch

pytestmark = pytest.mark.browser

DAYS = 21
DATE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}$")


@pytest.fixture
async def demo(sqlite_url: str) -> AsyncIterator[str]:
    """`goated serve` with nothing configured but the database and a smaller world."""
    settings = Settings(database_url=sqlite_url, sim_players=300)
    async with serve_app(settings) as (base, services):
        yield base
        await services.races.lifecycle.drain()  # the sprint under way's own sync, before shutdown


async def a_player_with_history(base: str) -> str:
    """A player on the board since the history began, whose month moved the most."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        rows = (await http.get("/api/leaderboard/all_time", params={"limit": 30})).json()["rows"]
        best, moves = None, -1
        for row in rows:
            history = (await http.get(f"/api/players/{row['uid']}")).json()["history"]
            monthly = [h for h in history if h["period"] == "monthly"]
            all_time = [h for h in history if h["period"] == "all_time"]
            since = datetime.fromisoformat(all_time[0]["at"]) if all_time else datetime.now(UTC)
            if since <= datetime.now(UTC) - timedelta(days=DAYS - 1) and len({h["amount"] for h in monthly}) > moves:
                best, moves = row["uid"], len({h["amount"] for h in monthly})
        assert best is not None and moves > 3, "no player with weeks of history"
        return best


async def test_a_fresh_demos_player_chart_has_dated_axes_and_two_series(browser: Browser, demo: str) -> None:
    uid = await a_player_with_history(demo)
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = watch(page)
    await page.goto(f"{demo}/player/{uid}")
    await expect(page.locator("#chart .amount-line")).to_have_count(1)

    chart = await page.evaluate(
        """() => {
            const svg = document.querySelector("#chart");
            const height = svg.viewBox.baseVal.height;
            const texts = [...svg.querySelectorAll("text.axis")];
            const ys = (d) => [...d.matchAll(/[ ,V]([0-9.]+)(?=[A-Z]|$)/g)].map((m) => Number(m[1]));
            const stroke = (sel) => getComputedStyle(svg.querySelector(sel)).stroke;
            const swatch = (sel) => getComputedStyle(document.querySelector(sel)).backgroundColor;
            return {
              time: texts.filter((t) => Number(t.getAttribute("y")) > height - 20).map((t) => t.textContent),
              values: texts.filter((t) => Number(t.getAttribute("y")) <= height - 20).map((t) => t.textContent),
              amountYs: ys(svg.querySelector(".amount-line").getAttribute("d")),
              rankPath: svg.querySelector(".rank-line")?.getAttribute("d") || "",
              strokes: [stroke(".amount-line"), stroke(".rank-line")],
              legend: [...document.querySelectorAll("#history .legend span")].map((s) => s.textContent.trim()),
              swatches: [swatch("#history .legend span:first-child i"), swatch("#history .legend span.rank i")],
            };
        }"""
    )
    # The time axis says which days: three weeks of them.
    dates = [label for label in chart["time"] if DATE.match(label)]
    assert len(dates) >= 2, chart["time"]
    parsed = [datetime.strptime(f"{d} 2000", "%b %d %Y") for d in dates]
    assert len(set(parsed)) == len(parsed)
    # The value axis is in dollars from $0, and the rank panel counts places.
    assert "$0" in chart["values"] and all(v.startswith(("$", "#")) for v in chart["values"]), chart["values"]
    assert any(v.startswith("$") and v != "$0" for v in chart["values"])
    assert "#1" in chart["values"]
    # Two series, told apart by colour and named in the legend; the amount is not one flat line.
    assert len(set(chart["amountYs"])) > 3, chart["amountYs"]
    assert chart["rankPath"], "no rank line"
    assert chart["strokes"][0] != chart["strokes"][1]
    assert chart["legend"][0] == "Wagered" and chart["legend"][1].startswith("Rank")
    assert chart["swatches"] == chart["strokes"]

    # The day's amount starts again from $0 at each midnight (UTC), as the boards do.
    await page.click("#chart-tabs [data-period=today]")
    await expect(page.locator("#chart-tabs [data-period=today]")).to_have_attribute("aria-selected", "true")
    drops = await page.evaluate(
        """() => {
            const svg = document.querySelector("#chart");
            const zero = [...svg.querySelectorAll("text.axis")].find((t) => t.textContent === "$0");
            const base = Number(zero.getAttribute("y")) - 4;
            const d = svg.querySelector(".amount-line").getAttribute("d");
            return [...d.matchAll(/V([0-9.]+)/g)].filter((m) => Math.abs(Number(m[1]) - base) < 0.2).length;
        }"""
    )
    assert drops >= 5, drops  # one at each midnight after a day the player wagered
    assert errors.serious() == []


async def test_a_fresh_demos_race_archive_has_winners(browser: Browser, demo: str) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = watch(page)
    await page.goto(f"{demo}/race")
    cards = page.locator("#past .card")
    await expect(cards.first).to_be_visible()
    assert await cards.count() >= 5
    await expect(page.locator("#past-empty")).to_be_hidden()
    await expect(page.locator("#past", has_text="Weekly race").first).to_be_visible()
    assert await page.locator("#past .card:has(ol.winners li)").count() >= 5  # each with its winners paid
    assert errors.serious() == []


async def test_a_period_starts_over_at_its_utc_boundary_on_the_chart(browser: Browser, site: Site) -> None:
    """History holds changes: a value holds until the next one, and a day's amount is back at
    $0 (off the board) from midnight UTC until the player wagers again."""
    page = await browser.new_page()
    await page.goto(f"{site.base}/overlay/builder")
    got = await page.evaluate(
        """async () => {
            const { chartGeometry, periodWindow } = await import("/static/js/chart.js");
            const points = [{ at: "2026-11-18T22:00:00Z", rank: 2, amount: 100 }, { at: "2026-11-19T02:00:00Z", rank: 5, amount: 30 }];
            const box = { width: 400, height: 300, pad: { l: 0, r: 0, t: 0, b: 0 }, gap: 0, rankShare: 1 / 3 };
            const paths = (period) => {
              const g = chartGeometry(points, { ...box, period });
              return [g.amountPath, g.rankPath];
            };
            const iso = (w) => w && w.map((t) => new Date(t).toISOString());
            return {
              today: paths("today"), allTime: paths("all_time"), lines: paths(null),
              sunday: iso(periodWindow("weekly", Date.parse("2026-11-22T23:59:59Z"))),
              december: iso(periodWindow("monthly", Date.parse("2026-12-31T23:59:20Z"))),
              leap: iso(periodWindow("today", Date.parse("2028-02-29T12:00:00Z"))),
              forever: periodWindow("all_time", Date.parse("2026-11-18T00:00:00Z")),
            };
        }"""
    )
    # Midnight is halfway: the day's 100 holds until it, drops to $0 and the rank line breaks.
    assert got["today"] == ["M0.0,0.0H200.0V200.0H400.0V140.0", "M0.0,225.0H200.0M400.0,300.0"]
    assert got["allTime"] == ["M0.0,0.0H400.0V140.0", "M0.0,225.0H400.0V300.0"]
    assert got["lines"] == ["M0.0,0.0L400.0,140.0", "M0.0,225.0L400.0,300.0"]
    assert got["sunday"] == ["2026-11-16T00:00:00.000Z", "2026-11-23T00:00:00.000Z"]
    assert got["december"] == ["2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"]
    assert got["leap"] == ["2028-02-29T00:00:00.000Z", "2028-03-01T00:00:00.000Z"]
    assert got["forever"] is None
