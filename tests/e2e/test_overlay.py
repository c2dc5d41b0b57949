"""The OBS overlay and its builder: transparent, configured by URL, unbreakable on stream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import live_settings, running_sim
from tests.e2e.conftest import ADMIN_TOKEN, Site, serve_app, snap, watch
from tests.e2e.png import decode_png

pytestmark = pytest.mark.browser

FULL_HD = {"width": 1920, "height": 1080}


async def open_overlay(browser: Browser, base: str, query: str = "") -> Page:
    page = await browser.new_page(viewport=FULL_HD)
    await page.goto(f"{base}/overlay{query}")
    await expect(page.locator("#rows li[data-key]").first).to_be_visible()
    return page


async def alphas(page: Page, x: int, y: int, w: int, h: int) -> set[int]:
    shot = decode_png(await page.screenshot(omit_background=True, clip={"x": x, "y": y, "width": w, "height": h}))
    return {shot.pixel(i, j)[3] for i in range(0, shot.width, 4) for j in range(0, shot.height, 4)}


async def test_the_overlay_is_transparent_without_scrollbars_or_controls(browser: Browser, site: Site) -> None:
    page = await open_overlay(browser, site.base, "?top=10")
    errors = watch(page)
    rows = await site.board("monthly", 10)
    await expect(page.locator("#rows li")).to_have_count(min(10, len(rows)))
    await expect(page.locator("#rows li .name").first).to_have_text(rows[0]["name"])
    # Away from the panel every pixel is fully transparent; the panel itself is painted.
    assert await alphas(page, 1200, 600, 200, 200) == {0}
    assert min(await alphas(page, 60, 60, 100, 40)) > 200
    layout = await page.evaluate(
        """() => ({
            bg: getComputedStyle(document.body).backgroundColor,
            htmlBg: getComputedStyle(document.documentElement).backgroundColor,
            scrollW: document.documentElement.scrollWidth, scrollH: document.documentElement.scrollHeight,
            overflow: getComputedStyle(document.documentElement).overflow,
            controls: document.querySelectorAll("button, input, select, a, textarea").length,
            fontPx: parseFloat(getComputedStyle(document.querySelector("#rows .name")).fontSize),
        })"""
    )
    assert layout["bg"] == "rgba(0, 0, 0, 0)" and layout["htmlBg"] == "rgba(0, 0, 0, 0)"
    assert layout["scrollW"] <= 1920 and layout["scrollH"] <= 1080 and layout["overflow"] == "hidden"
    assert layout["controls"] == 0
    assert layout["fontPx"] >= 20  # readable on a 1080p stream
    # The first rows are tagged for Element Timing (what bench/overlay_bench.py reads).
    painted = await page.evaluate(
        """() => new Promise((resolve) => new PerformanceObserver((list) =>
            resolve(list.getEntries().filter((e) => e.identifier === "overlay:first-rows").length)
        ).observe({ type: "element", buffered: true }))"""
    )
    assert painted >= 1
    await snap(page, "overlay", omit_background=True, clip={"x": 0, "y": 0, "width": 640, "height": 560})
    assert errors.serious() == []


async def test_url_options_shape_the_overlay(browser: Browser, site: Site) -> None:
    page = await open_overlay(browser, site.base, "?board=weekly&top=3&theme=light&accent=22c55e&scale=1.5&timer=0")
    await expect(page.locator("#rows li")).to_have_count(3)
    weekly = await site.board("weekly", 3)
    await expect(page.locator("#rows li .name").first).to_have_text(weekly[0]["name"])
    await expect(page.locator("#panel")).to_have_attribute("data-theme", "light")
    await expect(page.locator("#title")).to_have_text("This week")
    got = await page.evaluate(
        """() => ({
            accent: getComputedStyle(document.querySelector("li:first-child .pos")).backgroundColor,
            font: parseFloat(getComputedStyle(document.body).fontSize),
        })"""
    )
    assert got == {"accent": "rgb(34, 197, 94)", "font": 33}
    await snap(page, "overlay-light", omit_background=True, clip={"x": 0, "y": 0, "width": 800, "height": 320})

    # Junk options fall back to defaults instead of breaking the stream.
    page = await open_overlay(browser, site.base, "?board=%3Cscript%3E&top=-4&theme=x&accent=javascript:1&scale=NaN")
    await expect(page.locator("#title")).to_have_text("This month")
    await expect(page.locator("#rows li")).to_have_count(1)


async def test_the_overlay_survives_the_server_restarting(browser: Browser, sqlite_url: str) -> None:
    async with running_sim() as sim, httpx.AsyncClient(timeout=10) as http:
        settings = live_settings(sqlite_url, sim)
        async with serve_app(settings) as (base, services):
            assert (await services.sync.run_once("test")).status == "ok"
            port = int(base.rsplit(":", 1)[1])
            page = await open_overlay(browser, base, "?top=5")
            errors = watch(page)
            names = await page.locator("#rows li .name").all_text_contents()
        # The server is gone: the board stays up, with only a small stale marker.
        await expect(page.locator("#stale")).to_be_visible(timeout=10_000)
        assert await page.locator("#rows li .name").all_text_contents() == names
        await expect(page.locator("#panel")).to_have_class("panel is-stale")

        async with serve_app(settings, port=port) as (base2, services2):
            assert base2 == base
            await expect(page.locator("#stale")).to_be_hidden(timeout=20_000)
            # And it is live again: a move after the restart reaches it.
            rows = (await http.get(f"{base}/api/leaderboard/monthly", params={"limit": 5})).json()["rows"]
            mover = rows[-1]
            r = await http.post(f"{sim.base_url}/_sim/wager", json={"uid": mover["uid"], "amount": rows[0]["amount"] + 500})
            assert r.status_code < 300
            assert (await services2.sync.run_once("test")).status == "ok"
            await expect(page.locator("#rows li").first).to_have_attribute("data-key", mover["uid"])
        # The browser logs each refused reconnect; nothing else may go wrong.
        assert [m for m in errors.serious() if "ERR_CONNECTION_REFUSED" not in m] == []


async def test_the_overlay_resyncs_when_obs_shows_the_source_again(browser: Browser, site: Site) -> None:
    page = await open_overlay(browser, site.base, "?top=5")
    # Record what the page sends from now on (the open socket uses the prototype's send).
    await page.evaluate(
        """() => {
            const send = WebSocket.prototype.send;
            window.__sent = [];
            WebSocket.prototype.send = function (data) { window.__sent.push(String(data)); return send.call(this, data); };
        }"""
    )
    await page.evaluate("window.dispatchEvent(new CustomEvent('obsSourceVisibleChanged', { detail: { visible: true } }))")
    await expect(page.locator("#rows li[data-key]")).to_have_count(5)
    await page.wait_for_timeout(300)  # the resubscribe goes out synchronously; its answer is quick
    sent = await page.evaluate("window.__sent")
    # A fresh snapshot, not a resume: no `since` after OBS paused the source.
    assert any('"channel":"leaderboard:monthly"' in s and "since" not in s for s in sent)
    await expect(page.locator("#rows li[data-key]")).to_have_count(5)


async def test_the_builder_writes_the_url_and_previews_it(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    errors = watch(page)
    await page.goto(f"{site.base}/overlay/builder")
    frame = page.frame_locator("#frame")
    await expect(frame.locator("#rows li[data-key]").first).to_be_visible()
    await page.select_option("select[name=board]", "weekly")
    await page.fill("input[name=top]", "4")
    await page.select_option("select[name=theme]", "light")
    await page.uncheck("input[name=timer]")
    url = f"{site.base}/overlay?board=weekly&top=4&theme=light&timer=0"
    await expect(page.locator("#url")).to_have_value(url)
    await expect(page.locator("#frame")).to_have_attribute("src", "/overlay?board=weekly&top=4&theme=light&timer=0")
    await expect(frame.locator("#rows li")).to_have_count(4)
    await expect(frame.locator("#panel")).to_have_attribute("data-theme", "light")
    # The preview shows the overlay's transparency (the checkerboard), not a white page.
    box = await page.locator("#preview").bounding_box()
    assert box is not None
    corner = decode_png(await page.screenshot(clip={"x": box["x"] + box["width"] - 40, "y": box["y"] + box["height"] - 40, "width": 24, "height": 24}))
    assert max(corner.pixel(x, y)[:3] for x in range(24) for y in range(24)) < (80, 80, 80)
    # The builder reopens with the options of its own URL.
    await page.reload()
    await expect(page.locator("select[name=board]")).to_have_value("weekly")
    await expect(page.locator("#url")).to_have_value(url)
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.click("#copy")
    await expect(page.locator("#copied")).to_contain_text("Copied")
    await snap(page, "overlay-builder")
    assert errors.serious() == []


def utc_iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def live_race(site: Site, kind: str, starts: datetime, ends: datetime, title: str) -> dict:
    body = {"title": title, "kind": kind, "starts_at": utc_iso(starts), "ends_at": utc_iso(ends), "pool_cents": 10_000, "split": [100]}
    r = await site.http.post(f"{site.base}/api/admin/races", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 201, r.text
    async with asyncio.timeout(10):
        while (await site.http.get(f"{site.base}/api/races/{r.json()['id']}")).json()["race"]["status"] != "live":
            await asyncio.sleep(0.1)
    return r.json()


def timer_seconds(text: str) -> int:
    """"1d 01:01:01" or "01:01:01" (web/js/countdown.js) in seconds."""
    days, _, clock = text.rpartition(" ")
    h, m, s = (int(part) for part in clock.split(":"))
    return int(days.removesuffix("d") or 0) * 86400 + h * 3600 + m * 60 + s


async def test_the_timer_follows_the_race_that_matches_the_board(browser: Browser, site: Site) -> None:
    """A "This month" board counts down the monthly race, not the sprint that ends first."""
    now = datetime.now(UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    week = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    races = {
        "monthly": await live_race(site, "monthly", month, (month + timedelta(days=32)).replace(day=1), "This month's race"),
        "weekly": await live_race(site, "weekly", week, week + timedelta(days=7), "This week's race"),
        "sprint": await live_race(site, "custom", now - timedelta(seconds=30), now + timedelta(minutes=10), "Sprint"),
    }
    assert (await site.http.get(f"{site.base}/api/races/current")).json()["race"]["id"] == races["sprint"]["id"]

    page = await browser.new_page(viewport=FULL_HD)
    errors = watch(page)
    for query, followed in [
        ("?board=monthly", "monthly"),
        ("?board=weekly", "weekly"),
        ("?board=today", "sprint"),  # no race of its own: the current race
        ("?board=all_time", "sprint"),
        ("?board=monthly&race=current", "sprint"),
        ("?board=today&race=weekly", "weekly"),
        (f"?board=weekly&race={races['monthly']['id']}", "monthly"),
    ]:
        await page.goto(f"{site.base}/overlay{query}")
        await expect(page.locator("#timer")).to_be_visible()
        ends = datetime.fromisoformat(races[followed]["ends_at"].replace("Z", "+00:00"))
        expected = (ends - datetime.now(UTC)).total_seconds()
        shown = timer_seconds(await page.locator("#timer").text_content() or "")
        assert abs(shown - expected) < 5, (query, shown, expected)

    # The race board can follow a kind too: its title and timer are the monthly race's.
    await page.goto(f"{site.base}/overlay?board=race&race=monthly")
    await expect(page.locator("#title")).to_have_text("This month's race")
    assert errors.serious() == []


async def test_a_monthly_board_without_a_monthly_race_shows_no_sprint_timer(browser: Browser, site: Site) -> None:
    now = datetime.now(UTC)
    await live_race(site, "custom", now - timedelta(seconds=30), now + timedelta(minutes=10), "Sprint")
    page = await open_overlay(browser, site.base, "?board=monthly")
    await page.wait_for_timeout(1500)  # the race lookup has answered, and a tick would have come
    await expect(page.locator("#timer")).to_be_hidden()
    page = await open_overlay(browser, site.base, "?board=monthly&race=current")
    await expect(page.locator("#timer")).to_be_visible()


async def test_the_builder_offers_the_race_to_follow(browser: Browser, site: Site) -> None:
    now = datetime.now(UTC)
    sprint = await live_race(site, "custom", now - timedelta(seconds=30), now + timedelta(minutes=10), "Sprint")
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    errors = watch(page)
    await page.goto(f"{site.base}/overlay/builder")
    await expect(page.locator("select[name=race]")).to_have_value("auto")
    await page.select_option("select[name=race]", "weekly")
    await expect(page.locator("#url")).to_have_value(f"{site.base}/overlay?race=weekly")
    await expect(page.locator(f"select[name=race] option[value='{sprint['id']}']")).to_have_text(f"#{sprint['id']} Sprint (live)")
    await page.select_option("select[name=race]", str(sprint["id"]))
    await expect(page.locator("#frame")).to_have_attribute("src", f"/overlay?race={sprint['id']}")
    await expect(page.frame_locator("#frame").locator("#timer")).to_be_visible()
    await page.reload()
    await expect(page.locator("select[name=race]")).to_have_value(str(sprint["id"]))
    assert errors.serious() == []


async def test_a_delta_moves_the_overlays_rows_instead_of_rebuilding_them(browser: Browser, site: Site) -> None:
    page = await open_overlay(browser, site.base, "?board=all_time&top=5&timer=0")
    await expect(page.locator("#rows li[data-key]")).to_have_count(5)
    top = await site.board("all_time", 5)
    # Mark every row node; after a sync moves the 5th to the top, the same nodes are shown.
    await page.evaluate("() => document.querySelectorAll('#rows li').forEach((li) => (li.__mark = li.dataset.key))")
    await site.wager(top[4]["uid"], top[0]["amount"] + 1000)
    await site.sync()
    await expect(page.locator("#rows li").first).to_have_attribute("data-key", top[4]["uid"])
    kept = await page.evaluate("() => [...document.querySelectorAll('#rows li')].map((li) => li.__mark === li.dataset.key)")
    assert kept == [True] * 5
