"""The race page lets anyone check a race: the final standings' hash, the CSV download, the
history of changes, and the note on tied places (Chromium against the real app)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import ADMIN_TOKEN, Site, snap, watch

pytestmark = pytest.mark.browser

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FORMULA = '=HYPERLINK("http://x","y")'


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def race_detail(site: Site, race_id: int) -> dict:
    r = await site.http.get(f"{site.base}/api/races/{race_id}")
    r.raise_for_status()
    return r.json()


async def until(check, timeout: float = 20.0) -> dict:  # noqa: ANN001 - an async predicate returning a value or None
    async with asyncio.timeout(timeout):
        while (value := await check()) is None:
            await asyncio.sleep(0.1)
    return value


async def test_a_settled_race_shows_its_hash_csv_history_and_ties(browser: Browser, site: Site, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    created = await site.http.post(f"{site.base}/api/admin/races", headers=AUTH, json={
        "title": "Checkable sprint", "kind": "custom", "starts_at": iso(now - timedelta(seconds=30)),
        "ends_at": iso(now + timedelta(seconds=25)), "pool_cents": 100_000, "split": [50, 30, 20],
    })
    assert created.status_code == 201, created.text
    race_id = created.json()["id"]
    await until(lambda: _status(site, race_id, "live"))
    await site.sync()  # the baseline
    players = await site.board("all_time", 10)
    tied_a, tied_b, third = players[0], players[1], players[2]
    names = {tied_a["uid"]: "Alice ✨", tied_b["uid"]: FORMULA, third["uid"]: "Carol"}
    for uid, name in names.items():
        await site.rename(uid, name)
    for player, amount in ((tied_a, 700.0), (tied_b, 700.0), (third, 300.0)):
        await site.wager(player["uid"], amount)
    await site.sync()

    context = await browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = await context.new_page()
    errors = watch(page)
    await page.goto(f"{site.base}/race/{race_id}")
    await expect(page.locator("#status")).to_have_text("live")
    await expect(page.locator("#final-pending")).to_be_visible()
    await expect(page.locator("#final")).to_be_hidden()
    await expect(page.locator("#history li")).to_have_count(1)
    await expect(page.locator("#tie-rule")).to_contain_text("rounded down to the cent")

    # Tied players share first place and its note; the third is alone.
    tied_rows = page.locator("#standings tr", has=page.locator("td.player .tie", has_text="tied: shares places 1–2"))
    await expect(tied_rows).to_have_count(2)
    await expect(tied_rows.locator("td.prize")).to_have_text(["$400", "$400"])
    await expect(page.locator(f"#standings tr[data-key='{third['uid']}'] .tie")).to_be_hidden()

    # An admin edit shows up in the open page's history.
    edited = await site.http.patch(f"{site.base}/api/admin/races/{race_id}", headers=AUTH, json={"title": "Checkable sprint!"})
    assert edited.status_code == 200, edited.text
    await expect(page.locator("#history li")).to_have_count(2, timeout=10_000)
    await expect(page.locator("#history li").nth(1)).to_contain_text("Edited")
    await expect(page.locator("#history li").nth(1)).to_contain_text("title “Checkable sprint” → “Checkable sprint!”")

    # The race ends and is settled: the hash arrives with the end message.
    digest = (await until(lambda: _settled(site, race_id), timeout=30))["final_sha256"]
    await expect(page.locator("#status")).to_have_text("ended")
    await expect(page.locator("#final-sha")).to_have_text(digest)
    await expect(page.locator("#final-pending")).to_be_hidden()
    await expect(page.locator("#winners li .tie")).to_have_text(["tied: shares places 1–2", "tied: shares places 1–2"])

    # Opened afresh: hash, how to verify, history with its times, and the CSV.
    await page.reload()
    await expect(page.locator("#final-sha")).to_have_text(digest)
    await expect(page.locator("#final-json")).to_have_attribute("href", f"/api/races/{race_id}/final.json")
    await page.click("#verify-link")
    await expect(page.locator("#verify-cmd")).to_have_text(f"curl -s {site.base}/api/races/{race_id}/final.json | sha256sum")
    history = page.locator("#history li")
    await expect(history).to_have_count(3)
    await expect(history.locator("b")).to_have_text(["Created", "Edited", "Settled"])
    await expect(history.nth(0)).to_contain_text("by admin")
    await expect(history.nth(2)).to_contain_text("by system")
    await expect(history.nth(2)).to_contain_text(digest[:16])
    audit = (await site.http.get(f"{site.base}/api/races/{race_id}/audit")).json()
    for i, entry in enumerate(audit):
        stamp = history.nth(i).locator("time")
        await expect(stamp).to_have_attribute("datetime", entry["at"])
        title = await stamp.get_attribute("title")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", title or ""), title
        assert title[:19] == entry["at"][:19].replace("T", " ")

    async with page.expect_download() as info:
        await page.click("#csv")
    download = await info.value
    assert download.suggested_filename == f"race-{race_id}-standings.csv"
    saved = tmp_path / "standings.csv"
    await download.save_as(saved)
    text = saved.read_bytes().decode("utf-8")
    served = (await site.http.get(f"{site.base}/api/races/{race_id}/standings.csv")).text
    assert text == served
    first, second = sorted((tied_a, tied_b), key=lambda p: p["uid"])
    lines = text.split("\r\n")
    assert lines[0] == "position,uid,name,amount_usd,prize_usd"
    in_csv = {tied_a["uid"]: "Alice ✨", tied_b["uid"]: "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""}
    assert lines[1:] == [
        f"1,{first['uid']},{in_csv[first['uid']]},700.00,400.00",
        f"1,{second['uid']},{in_csv[second['uid']]},700.00,400.00",
        f"3,{third['uid']},Carol,300.00,200.00",
        "",
    ]
    await snap(page, "race-settled", full_page=True)
    assert errors.serious() == []
    await context.close()


async def _status(site: Site, race_id: int, status: str) -> dict | None:
    detail = await race_detail(site, race_id)
    return detail if detail["race"]["status"] == status else None


async def _settled(site: Site, race_id: int) -> dict | None:
    detail = await race_detail(site, race_id)
    return detail if detail["final_sha256"] else None
