"""The race page, the race overlay and the admin console against real races."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN_TOKEN, HOSTILE, Site, snap, watch

pytestmark = pytest.mark.browser


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


async def create_race(site: Site, *, starts_in: float, ends_in: float, title: str = "Friday sprint", **extra: object) -> dict:
    now = datetime.now(UTC)
    body = {
        "title": title,
        "kind": "custom",
        "starts_at": iso(now + timedelta(seconds=starts_in)),
        "ends_at": iso(now + timedelta(seconds=ends_in)),
        "pool_cents": 100_000,
        "split": [50, 30, 20],
        "description": "Most wagered during the sprint wins.",
        **extra,
    }
    r = await site.http.post(f"{site.base}/api/admin/races", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 201, r.text
    return r.json()


async def until_status(site: Site, race_id: int, status: str, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while (await site.http.get(f"{site.base}/api/races/{race_id}")).json()["race"]["status"] != status:
            await asyncio.sleep(0.1)


WAGERS = (900.0, 2500.0, 400.0)


async def running_race(site: Site, ends_in: float = 3600) -> tuple[dict, list[dict]]:
    """A live custom race with three players wagering WAGERS in it, standings synced; the
    players come back in race order."""
    race = await create_race(site, starts_in=-30, ends_in=ends_in)
    await until_status(site, race["id"], "live")
    await site.sync()  # the baseline for a custom race
    rows = await site.board("all_time", 10)
    for row, amount in zip(rows[:3], WAGERS, strict=True):
        await site.wager(row["uid"], amount)
    await site.sync()
    order = sorted(range(3), key=lambda i: -WAGERS[i])
    return race, [rows[i] for i in order]


async def clock_seconds(page: Page) -> int:
    await expect(page.locator("#clock")).not_to_have_attribute("data-seconds", "")
    return int(await page.locator("#clock").get_attribute("data-seconds"))


async def test_the_countdown_decreases_and_two_pages_agree(browser: Browser, site: Site) -> None:
    race, players = await running_race(site)
    context_a = await browser.new_context(viewport={"width": 1280, "height": 900})
    # The second browser's clock runs 47 s fast: the server's clock still rules.
    context_b = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context_b.add_init_script("(() => { const real = Date.now; Date.now = () => real() + 47000; })()")
    a, b = await context_a.new_page(), await context_b.new_page()
    errors = watch(a)
    await a.goto(f"{site.base}/race")
    await b.goto(f"{site.base}/race/{race['id']}")
    await expect(a.locator("#title")).to_have_text(race["title"])
    await expect(b.locator("#title")).to_have_text(race["title"])
    await expect(a.locator("#status")).to_have_text("live")
    # Both have seen a tick (the clock offset comes from server_now).
    await a.wait_for_timeout(1200)

    first_a, first_b = await clock_seconds(a), await clock_seconds(b)
    assert abs(first_a - first_b) <= 1, (first_a, first_b)
    assert 3500 < first_a <= 3600
    await a.wait_for_timeout(2200)
    later_a, later_b = await clock_seconds(a), await clock_seconds(b)
    assert first_a - later_a >= 2 and first_b - later_b >= 2
    assert abs(later_a - later_b) <= 1, (later_a, later_b)

    # Standings with gaps and prizes, the prize table.
    ranked = players
    body = a.locator("#standings tr")
    await expect(body).to_have_count(3)
    await expect(body.nth(0).locator("td.player a")).to_have_text(ranked[0]["name"])
    await expect(body.nth(0).locator("td.prize")).to_have_text("$500")
    await expect(body.nth(1).locator("td.gap")).to_have_text("−$1,600.00")
    await expect(a.locator("#prizes tr")).to_have_count(3)
    await expect(a.locator("#pool")).to_have_text("$1,000")
    await snap(a, "race", full_page=True)

    # A sync re-orders the open page.
    await site.wager(ranked[2]["uid"], 5000.0)
    await site.sync()
    await expect(body.nth(0)).to_have_attribute("data-key", ranked[2]["uid"])
    assert errors.serious() == []


async def test_an_ended_race_shows_its_winners_and_joins_the_past_races(browser: Browser, site: Site) -> None:
    race, players = await running_race(site, ends_in=8)
    await site.rename(players[0]["uid"], HOSTILE)
    await site.sync()
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch(page)
    await page.goto(f"{site.base}/race/{race['id']}")
    await expect(page.locator("#status")).to_have_text("live")
    await page.wait_for_load_state("networkidle")
    api_calls: list[str] = []
    page.on("request", lambda r: api_calls.append(r.url) if "/api/" in r.url else None)
    await expect(page.locator("#status")).to_have_text("ended", timeout=15_000)
    await expect(page.locator("#winners-banner")).to_be_visible()
    await expect(page.locator("#winners li").first.locator(".who")).to_have_text(HOSTILE)
    await expect(page.locator("#clock-label")).to_have_text("Finished")
    await expect(page.locator("#past article")).to_have_count(1)
    await expect(page.locator("#past article h3")).to_have_text(race["title"])
    await expect(page.locator("#past article .who").first).to_have_text(HOSTILE)
    # The end message carried what the page shows: no viewer calls the API when a race ends.
    assert api_calls == []
    assert await page.locator("img[src='x']").count() == 0
    # Opened later, the ended race still shows its archived winners.
    await page.reload()
    await expect(page.locator("#status")).to_have_text("ended")
    await expect(page.locator("#winners li")).to_have_count(3)
    await expect(page.locator("#winners li").nth(1).locator(".pool")).to_have_text("$300")
    assert errors.serious() == []


async def test_a_race_that_does_not_exist_says_so(browser: Browser, site: Site) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.base}/race/987654")
    await expect(page.locator("#error")).to_have_text("That race does not exist.")
    await expect(page.locator("#current")).to_be_hidden()


async def test_the_race_overlay_shows_standings_and_the_timer(browser: Browser, site: Site) -> None:
    race, players = await running_race(site)
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(f"{site.base}/overlay?board=race&top=3")
    await expect(page.locator("#title")).to_have_text(race["title"])
    await expect(page.locator("#rows li[data-key]")).to_have_count(3)
    await expect(page.locator("#rows li .prize").first).to_have_text("$500")
    await expect(page.locator("#timer")).to_be_visible()
    text = await page.locator("#timer").text_content()
    assert text and text.startswith(("00:59", "01:00")), text
    await snap(page, "overlay-race", omit_background=True, clip={"x": 0, "y": 0, "width": 640, "height": 300})

    # A period board without a race of its own (today) shows the current race's countdown.
    await page.goto(f"{site.base}/overlay?board=today&top=3")
    await expect(page.locator("#timer")).to_be_visible()


async def test_the_admin_creates_edits_and_cancels_a_race_and_forces_a_sync(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1360, "height": 1000})
    errors = watch(page)
    await page.goto(f"{site.base}/admin")
    await page.fill("#token", "wrong-token")
    await page.click("#login button[type=submit]")
    await expect(page.locator("#login")).to_be_visible()  # refused (by the first admin call): asked again
    await expect(page.locator("#login .sub")).to_contain_text("refused")

    await page.fill("#token", ADMIN_TOKEN)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#console")).to_be_visible()
    assert await page.evaluate("sessionStorage.getItem('goated.adminToken')") == ADMIN_TOKEN

    await page.fill("input[name=title]", "Weekend " + HOSTILE)
    await page.select_option("select[name=kind]", "custom")
    await page.fill("input[name=starts_at]", "2030-01-04T18:00")
    await page.fill("input[name=ends_at]", "2030-01-06T18:00")
    await page.fill("input[name=pool]", "2500")
    await page.fill("input[name=split]", "60,30,10")
    await page.click("#save")
    await expect(page.locator("#message")).to_have_text("Race created.")
    row = page.locator("#races tr", has_text="Weekend")
    await expect(row.locator("td.title a")).to_have_text("Weekend " + HOSTILE)
    await expect(row.locator(".status")).to_have_text("upcoming")
    await expect(row.locator("td.amount")).to_have_text("$2,500")

    await row.get_by_role("button", name="Edit").click()
    await expect(page.locator("input[name=split]")).to_have_value("60,30,10")
    await page.fill("input[name=title]", "Weekend sprint")
    await page.click("#save")
    await expect(page.locator("#message")).to_contain_text("saved")
    row = page.locator("#races tr", has_text="Weekend sprint")
    await expect(row).to_have_count(1)
    races = (await site.http.get(f"{site.base}/api/races", params={"status": "upcoming"})).json()["races"]
    mine = next(r for r in races if r["title"] == "Weekend sprint")
    assert mine["split"] == [60.0, 30.0, 10.0] and mine["pool_cents"] == 250_000

    await row.get_by_role("button", name="Cancel").click()  # the confirm() is accepted
    await expect(row.locator(".status")).to_have_text("cancelled")

    await page.click("#sync")
    await expect(page.locator("#sync-result")).to_contain_text("ok")
    await expect(page.locator("#links-empty")).to_be_visible()  # Telegram link requests: none waiting
    await snap(page, "admin", full_page=True)
    assert [m for m in errors.serious() if "401" not in m] == []


async def test_the_player_page_shows_the_place_in_the_current_race(browser: Browser, site: Site) -> None:
    race, players = await running_race(site)
    page = await browser.new_page()
    await page.goto(f"{site.base}/player/{players[1]['uid']}")
    await expect(page.locator("#race")).to_be_visible()
    await expect(page.locator("#race-title")).to_have_text(race["title"])
    await expect(page.locator("#race-title")).to_have_attribute("href", f"/race/{race['id']}")
    await expect(page.locator("#race-pos")).to_have_text("#2")
    await expect(page.locator("#race-amount")).to_have_text("$900.00")
    await expect(page.locator("#race-prize")).to_have_text("$300")
