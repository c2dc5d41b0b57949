"""The leaderboard and player pages in a real browser against the real app."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import HOSTILE, Site, snap, watch

pytestmark = pytest.mark.browser


async def open_board(browser: Browser, site: Site, query: str = "") -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{site.base}/{query}")
    await expect(page.locator("#board tbody tr").first).to_be_visible()
    return page


async def uids_on_page(page: Page) -> list[str]:
    return await page.locator("#board tbody tr").evaluate_all("trs => trs.map(tr => tr.dataset.key)")


AGE = re.compile(r"just now|(\d+) s ago|(\d+) min ago")


async def assert_age_shown(page: Page, site: Site) -> None:
    """#synced tells the board's true age (its synced_at from the API, by the test's clock), within
    the page's once-a-second refresh: on a slow machine it says "12 s ago", and that is right."""
    board = (await site.http.get(f"{site.base}/api/leaderboard/monthly", params={"limit": 1})).json()
    synced_at = datetime.fromisoformat(board["synced_at"])
    await expect(page.locator("#synced")).to_have_text(AGE)
    text = (await page.locator("#synced").inner_text()).strip()
    age = (datetime.now(UTC) - synced_at).total_seconds()
    match = AGE.fullmatch(text)
    assert match, text
    if text == "just now":
        low, high = 0, 5
    elif match[1]:
        low, high = int(match[1]), int(match[1]) + 1
    else:
        low, high = int(match[2]) * 60, int(match[2]) * 60 + 60
    assert low - 2 <= age <= high + 2, f"{text!r} shown for a board synced {age:.1f} s ago"


async def test_the_board_renders_live_with_true_ranks_and_tiers(browser: Browser, site: Site) -> None:
    rows = await site.board("monthly")
    all_time = {r["uid"]: r["amount"] for r in await site.board("all_time", 1000)}
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch(page)
    await page.goto(f"{site.base}/")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await expect(page.locator("#board tbody tr")).to_have_count(min(100, len(rows)))
    assert await uids_on_page(page) == [r["uid"] for r in rows[:100]]
    first = page.locator("#board tbody tr").first
    await expect(first.locator(".pill")).to_have_text("1")
    await expect(first.locator("td.player a")).to_have_text(rows[0]["name"])
    await expect(first.locator("td.player a")).to_have_attribute("href", f"/player/{rows[0]['uid']}")
    expected_tier = await page.evaluate(
        "async (a) => (await import('/static/js/tiers.js')).tierFor(a).name", all_time[rows[0]["uid"]]
    )
    await expect(first.locator(".tier")).to_have_text(expected_tier)
    await assert_age_shown(page, site)
    await expect(page.locator("#count")).to_have_text(str(len(rows)))

    # Another period: a fresh snapshot, the URL remembers it.
    await page.get_by_role("tab", name="All time").click()
    await expect(page).to_have_url(f"{site.base}/?period=all_time")
    top = (await site.board("all_time"))[0]
    await expect(page.locator("#board tbody tr").first).to_have_attribute("data-key", top["uid"])
    assert errors.serious() == []


def tiers_of(legend: str) -> list[tuple[str, float]]:
    """(name, minimum) from the legend's words: "Copper under $10K · Bronze $10K · …"."""
    steps = re.findall(r"([A-Z][a-z]+) (under )?\$([\d.]+)([KM]?)", legend)
    scale = {"": 1, "K": 1_000, "M": 1_000_000}
    return [(name, 0.0 if under else float(num) * scale[unit]) for name, under, num, unit in steps]


async def test_tiers_are_explained_and_follow_the_legend(browser: Browser, site: Site) -> None:
    """A monthly board's badges are all-time levels, and the page says so next to them; the
    rows carry their all-time amounts, so the page follows its own board only."""
    all_time = {r["uid"]: r["amount"] for r in await site.board("all_time", 1000)}
    monthly = await site.board("monthly", 30)
    sent: list[str] = []
    page = await browser.new_page()
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
    await page.goto(site.base)
    await expect(page.locator("#board tbody tr").first).to_be_visible()
    legend = await page.locator("#tier-legend").text_content() or ""
    assert "by all-time wagers, on every board" in legend
    tiers = tiers_of(legend)
    assert [name for name, _ in tiers][:3] == ["Copper", "Bronze", "Silver"] and tiers[0][1] == 0 and len(tiers) == 9
    await expect(page.locator("#board thead th.tier-col")).to_contain_text("all-time")

    def by_legend(amount: float) -> str:
        return [name for name, least in tiers if amount >= least][-1]

    await expect(page.locator("#board tbody tr").nth(len(monthly) - 1)).to_be_visible()
    for row in monthly:
        badge = page.locator(f"#board tbody tr[data-key='{row['uid']}'] .tier")
        await expect(badge).to_have_text(by_legend(all_time[row["uid"]]))
        await expect(badge).to_have_attribute("title", re.compile(r"^\w+: \$[\d,.]+ wagered all-time"))

    subscribed = sorted({json.loads(frame)["channel"] for frame in sent if '"subscribe"' in frame})
    assert subscribed == ["leaderboard:monthly"], subscribed  # not the whole all-time board

    await page.goto(f"{site.base}/player/{monthly[0]['uid']}")
    await expect(page.locator("#tier")).to_have_text(by_legend(all_time[monthly[0]["uid"]]))
    await expect(page.locator("#tier-note")).to_contain_text("level by all-time wagers")


async def test_a_sync_moves_a_row_in_an_open_page_without_reload(browser: Browser, site: Site) -> None:
    page = await open_board(browser, site)
    rows = await site.board("monthly")
    fifth = rows[4]
    # Mark the document and the row's element: both must survive the move.
    await page.evaluate("uid => { window.__sameDocument = true; document.querySelector(`tr[data-key='${uid}']`).__sameNode = true; }", fifth["uid"])
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))

    await site.wager(fifth["uid"], rows[0]["amount"] + 1000)
    await site.sync()

    first = page.locator("#board tbody tr").first
    await expect(first).to_have_attribute("data-key", fifth["uid"])
    # The mover's badge follows its new all-time amount, carried by the delta itself.
    lifetime = next(r["amount"] for r in await site.board("all_time", 1000) if r["uid"] == fifth["uid"])
    expected_tier = await page.evaluate("async (a) => (await import('/static/js/tiers.js')).tierFor(a).name", lifetime)
    await expect(first.locator(".tier")).to_have_text(expected_tier)
    await expect(first.locator("td.move span")).to_have_text("▲4")
    await expect(first.locator("td.move span")).to_have_class("up")
    await expect(page.locator("#board tbody tr").nth(1).locator("td.move span")).to_have_text("▼1")
    assert await page.evaluate("uid => window.__sameDocument === true && document.querySelector(`tr[data-key='${uid}']`).__sameNode === true", fifth["uid"])
    # The delta came over the socket: no reload, no refetch of the board.
    assert not [u for u in requests if "/api/leaderboard" in u or u.rstrip("/") == site.base]
    await snap(page, "leaderboard")


async def test_search_keeps_true_ranks(browser: Browser, site: Site) -> None:
    rows = await site.board("monthly")
    target = rows[6]
    page = await open_board(browser, site)
    await page.fill("#search", target["name"][:-1] if len(target["name"]) > 3 else target["name"])
    row = page.locator(f"#board tbody tr[data-key='{target['uid']}']")
    await expect(row.locator(".pill")).to_have_text("7")
    matching = [r for r in rows if (target["name"][:-1] if len(target["name"]) > 3 else target["name"]).lower() in r["name"].lower()]
    await expect(page.locator("#board tbody tr")).to_have_count(len(matching))
    await page.fill("#search", "zzzz-nobody-has-this-name")
    await expect(page.locator("#empty")).to_be_visible()


async def test_a_player_name_containing_html_shows_as_text(browser: Browser, site: Site) -> None:
    rows = await site.board("monthly")
    victim = rows[1]
    await site.rename(victim["uid"], HOSTILE)
    await site.sync()
    for path, where in [
        ("/", f"#board tbody tr[data-key='{victim['uid']}'] td.player a"),
        (f"/player/{victim['uid']}", "#name"),
        ("/overlay?top=5", f"#rows li[data-key='{victim['uid']}'] .name"),
    ]:
        page = await browser.new_page()
        errors = watch(page)
        await page.goto(f"{site.base}{path}")
        await expect(page.locator(where)).to_have_text(HOSTILE)
        assert await page.locator("img[src='x']").count() == 0, path
        assert errors.serious() == [], path  # no alert() ran
        await page.close()


async def test_the_player_page_shows_every_period_and_a_chart(browser: Browser, site: Site) -> None:
    rows = await site.board("monthly")
    player = rows[2]
    # A few syncs with wagers in between give the chart a history.
    for bump in (500.0, 2500.0, 9000.0):
        await site.wager(player["uid"], bump)
        await site.sync()
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch(page)
    await page.goto(f"{site.base}/player/{player['uid']}")
    await expect(page.locator("#name")).to_have_text(player["name"])
    await expect(page.locator("#periods .period")).to_have_count(4)
    api = (await site.http.get(f"{site.base}/api/players/{player['uid']}")).json()
    monthly = next(s for s in api["standings"] if s["period"] == "monthly")
    await expect(page.locator("#periods [data-period='monthly'] .big")).to_contain_text(f"#{monthly['rank']}")
    await expect(page.locator("#chart path.amount-line")).to_have_count(1)
    points = [h for h in api["history"] if h["period"] == "monthly"]
    assert len(points) >= 2
    await snap(page, "player", full_page=True)

    # A later sync reaches the open page without a reload.
    await site.wager(player["uid"], 50_000.0)
    await site.sync()
    await expect(page.locator("#periods [data-period='monthly'] .big")).to_contain_text("#1")
    assert errors.serious() == []


async def test_a_player_that_does_not_exist_gets_a_message(browser: Browser, site: Site) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.base}/player/nobody12345")
    await expect(page.locator("#error")).to_contain_text("No player")


@pytest.mark.parametrize("path", ["/", "/race", "/player/{uid}", "/overlay", "/overlay?board=race", "/overlay/builder", "/admin"])
async def test_every_page_runs_clean_under_its_csp(browser: Browser, site: Site, path: str) -> None:
    uid = (await site.board("monthly", 1))[0]["uid"]
    page = await browser.new_page()
    errors = watch(page)
    await page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    await page.goto(f"{site.base}{path.format(uid=uid)}")
    await page.wait_for_load_state("networkidle")
    assert await page.evaluate("window.__csp") == []
    assert errors.serious() == []
