"""The overlay options streamers expect (issue 16, part 4): hide_idle, short, cols, watching, sound,
test data, and the builder that writes them, each in Chromium against the real app."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect

from server.money import derived_amount, usd
from tests.e2e.conftest import ADMIN_TOKEN, Site, watch

pytestmark = pytest.mark.browser

FULL_HD = {"width": 1920, "height": 1080}
SLOW = 20_000  # ms: a sync, a race's end, a page load on a busy two-core machine

# Counts the overlay's chimes: every AudioContext it makes (one per chime), before any script runs.
AUDIO_SPY = """(() => {
  window.__audio = { contexts: 0, notes: 0, closed: 0 };
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(...args) { super(...args); window.__audio.contexts += 1; }
    createOscillator() {
      const osc = super.createOscillator();
      const start = osc.start.bind(osc);
      osc.start = (...a) => { window.__audio.notes += 1; return start(...a); };
      return osc;
    }
    close() { window.__audio.closed += 1; return super.close(); }
  };
})()"""


async def open_overlay(browser: Browser, base: str, query: str = "", *, before=None) -> Page:
    page = await browser.new_page(viewport=FULL_HD)
    if before:
        await before(page)
    await page.goto(f"{base}/overlay{query}")
    await expect(page.locator("#rows li[data-key]").first).to_be_visible(timeout=SLOW)
    return page


async def module(page: Page, script: str, arg: object = None) -> object:
    return await page.evaluate(script, arg)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def start_race(site: Site, *, ends_in: float, split: list[float], pool_cents: int = 100_000, title: str = "Sprint") -> dict:
    """A live custom race (started 30 s ago), with its baseline sync done."""
    now = datetime.now(UTC)
    body = {
        "title": title,
        "kind": "custom",
        "starts_at": iso(now - timedelta(seconds=30)),
        "ends_at": iso(now + timedelta(seconds=ends_in)),
        "pool_cents": pool_cents,
        "split": split,
    }
    r = await site.http.post(f"{site.base}/api/admin/races", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 201, r.text
    race = r.json()
    async with asyncio.timeout(15):
        while (await site.http.get(f"{site.base}/api/races/{race['id']}")).json()["race"]["status"] != "live":
            await asyncio.sleep(0.1)
    await site.sync()  # a custom race counts what is wagered from here on
    return race


async def cells(page: Page, uid: str) -> list[str]:
    """The class of each cell of a player's row, in order."""
    return await page.locator(f"#rows li[data-key='{uid}'] > span").evaluate_all("(spans) => spans.map((s) => s.className)")


# ---- the options as parsed and written (the rules, written down) -----------------------------


async def test_the_new_options_parse_leniently_and_write_back_minimally(browser: Browser, site: Site) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.base}/overlay/builder")
    got = await module(
        page,
        """async () => {
            const { parseOptions, overlayQuery, parseColumns, DEFAULTS } = await import("/static/js/overlay-options.js");
            const pick = (q) => { const o = parseOptions(q); return [o.hide_idle, o.short, o.cols, o.watching, o.sound, o.test]; };
            const idle = (v) => parseOptions(`?hide_idle=${v}`).hide_idle;
            return {
              defaults: pick(""),
              all: pick("?hide_idle=2.5&short=1&cols=gap,change&watching=1&sound=1&test=1"),
              idle: ["5", "2.5", "0.25", "0.01", "0", "-3", "500", "abc", "10min", "", "1.234"].map(idle),
              flags: ["1", "true", "yes", "on", "", "0", "false", "NO", "off", " Off "].map((v) => parseOptions(`?short=${v}`).short),
              cols: ["gap,change", "PRIZE", "gap+change", "gap,,bogus,gap,prize", "nope", "", "change;prize"].map((c) => parseColumns(decodeURIComponent(c).replace(/\\+/g, " "))),
              colsUrl: parseOptions("?cols=gap+prize").cols,
              colsTwice: parseOptions("?cols=gap&cols=change").cols,
              query: overlayQuery(parseOptions("?board=race&hide_idle=5&short=1&cols=prize,gap&watching=1&sound=1&test=1")),
              off: overlayQuery(parseOptions("?hide_idle=0&short=0&cols=&watching=0&sound=0&test=0")),
              roundTrip: overlayQuery(parseOptions(overlayQuery(parseOptions("?cols=change,gap,prize&hide_idle=0.5")))),
              frozen: Object.isFrozen(DEFAULTS.cols),
            };
        }""",
    )
    assert got["defaults"] == [0, False, [], False, False, False]
    assert got["all"] == [2.5, True, ["gap", "change"], True, True, True]
    # Minutes: decimals allowed, kept within 0.5-120; 0, negative and junk mean never.
    assert got["idle"] == [5, 2.5, 0.5, 0.5, 0, 0, 120, 0, 10, 0, 1.23]
    assert got["flags"] == [True, True, True, True, True, False, False, False, False, False]
    assert got["cols"] == [["gap", "change"], ["prize"], ["gap", "change"], ["gap", "prize"], [], [], ["change", "prize"]]
    assert got["colsUrl"] == ["gap", "prize"]  # a `+` in a URL is a space
    assert got["colsTwice"] == ["gap", "change"]
    assert got["query"] == "?board=race&hide_idle=5&short=1&cols=prize,gap&watching=1&sound=1&test=1"
    assert got["off"] == ""
    assert got["roundTrip"] == "?hide_idle=0.5&cols=change,gap,prize"
    assert got["frozen"] is True


GAPS = [(50.1, 40.03), (1000.3, 989.387), (2.675, 0.0), (1e-7, 0.0), (1.5e21, 1.5e20), (26259, 999.99), (5, 5), (0.1, 0.3), (136219.5, 9120.5)]
SHORT = [
    (999.99, "$1K"),  # rounding carries into the next unit: never "$1000"
    (1000, "$1K"),
    (26259, "$26.3K"),
    (999_949, "$999.9K"),
    (999_950, "$1M"),
    (1_000_000, "$1M"),
    (2_450_000_000, "$2.5B"),  # half away from zero, not to even
    (-26259, "-$26.3K"),
    (-0.01, "$0"),
    (0, "$0"),
]


async def test_short_amounts_and_gaps_follow_the_money_rule(browser: Browser, site: Site) -> None:
    """The short form is money.js's compact form (its table is tests/money_cases.py COMPACT); a gap is
    the exact decimal difference, as the server's derived_amount makes it."""
    page = await browser.new_page()
    await page.goto(f"{site.base}/overlay/builder")
    got = await module(
        page,
        """async ([short, gaps]) => {
            const { formatUsdCompact, derivedAmount } = await import("/static/js/money.js");
            return {
              short: short.map(([a]) => formatUsdCompact(a)),
              odd: [NaN, Infinity, -Infinity, "26259", null].map(formatUsdCompact),
              gaps: gaps.map(([a, b]) => derivedAmount(a, b)),
            };
        }""",
        [SHORT, GAPS],
    )
    assert list(zip([a for a, _ in SHORT], got["short"], strict=True)) == SHORT
    assert got["odd"] == ["—", "—", "—", "$26.3K", "$0"]
    assert got["gaps"] == [derived_amount(a, b) for a, b in GAPS]
    assert got["gaps"][:2] == [10.07, 10.913]


# ---- short=1 -------------------------------------------------------------------------------


async def test_short_shows_compact_amounts_in_every_money_column(browser: Browser, site: Site) -> None:
    # Players with nothing today get exactly these amounts today.
    today = {r["uid"] for r in await site.board("today", 1000)}
    fresh = [r for r in await site.board("all_time", 300) if r["uid"] not in today][: len(SHORT) - 4]
    amounts = [a for a, _ in SHORT if a > 0 and a != 999_950]
    assert len(fresh) == len(amounts)
    for player, amount in zip(fresh, amounts, strict=True):
        await site.wager(player["uid"], amount)
    await site.sync()

    page = await open_overlay(browser, site.base, "?board=today&top=50&short=1&cols=gap")
    expected = dict(SHORT)
    for player, amount in zip(fresh, amounts, strict=True):
        await expect(page.locator(f"#rows li[data-key='{player['uid']}'] .amt")).to_have_text(expected[amount], timeout=SLOW)
    billionaire, millionaire = fresh[5], fresh[4]
    await expect(page.locator(f"#rows li[data-key='{billionaire['uid']}'] .gap")).to_have_text("")  # first place
    await expect(page.locator(f"#rows li[data-key='{millionaire['uid']}'] .gap")).to_have_text("−$2.4B")  # 2,449,000,000
    await expect(page.locator(f"#rows li[data-key='{fresh[3]['uid']}'] .gap")).to_have_text("−$51")  # behind $1M

    # Without short=1, the same rows read in full.
    page = await open_overlay(browser, site.base, "?board=today&top=50&cols=gap")
    await expect(page.locator(f"#rows li[data-key='{billionaire['uid']}'] .amt")).to_have_text("$2,450,000,000.00")
    await expect(page.locator(f"#rows li[data-key='{millionaire['uid']}'] .gap")).to_have_text("−$2,449,000,000.00")
    await expect(page.locator(f"#rows li[data-key='{fresh[0]['uid']}'] .amt")).to_have_text("$999.99")


async def test_short_shortens_race_amounts_and_prizes(browser: Browser, site: Site) -> None:
    race = await start_race(site, ends_in=3600, split=[60, 40], pool_cents=250_000_00)  # $250,000: $150K and $100K
    top = await site.board("all_time", 2)
    await site.wager(top[0]["uid"], 26259)
    await site.wager(top[1]["uid"], 999.99)
    await site.sync()
    page = await open_overlay(browser, site.base, f"?board=race&race={race['id']}&short=1&cols=gap")
    first = page.locator("#rows li").nth(0)
    second = page.locator("#rows li").nth(1)
    await expect(first.locator(".amt")).to_have_text("$26.3K", timeout=SLOW)
    await expect(first.locator(".prize")).to_have_text("$150K")
    await expect(second.locator(".amt")).to_have_text("$1K")
    await expect(second.locator(".prize")).to_have_text("$100K")
    await expect(second.locator(".gap")).to_have_text("−$25.3K")  # 25,259.01
    # The race board keeps its prizes after the columns asked for.
    assert await cells(page, top[0]["uid"]) == ["pos", "name", "amt", "gap", "prize"]


# ---- cols= -----------------------------------------------------------------------------------


async def test_cols_are_shown_in_the_order_given_and_unknown_names_are_ignored(browser: Browser, site: Site) -> None:
    rows = await site.board("monthly", 10)
    for query, order in [
        ("", ["pos", "name", "amt"]),
        ("&cols=gap,change", ["pos", "name", "amt", "gap", "change"]),
        ("&cols=prize,bogus,change,prize", ["pos", "name", "amt", "prize", "change"]),
        ("&cols=nothing", ["pos", "name", "amt"]),
    ]:
        page = await open_overlay(browser, site.base, f"?top=5{query}")
        assert await cells(page, rows[0]["uid"]) == order, query
        await page.close()


async def test_the_gap_column_shows_the_amount_behind_the_place_above(browser: Browser, site: Site) -> None:
    page = await open_overlay(browser, site.base, "?top=10&cols=gap")
    rows = await site.board("monthly", 10)
    expected = [""] + [
        "tied" if (gap := derived_amount(above["amount"], row["amount"])) == 0 else f"−{usd(gap)}"
        for above, row in zip(rows, rows[1:])
    ]
    await expect(page.locator("#rows li .gap")).to_have_text(expected)
    # Each row is its own flex line: the gap cells keep one width, so the amounts stay in a column.
    for cls in ("amt", "gap"):
        rights = await page.eval_on_selector_all(f"#rows li .{cls}", "cells => cells.map(c => Math.round(c.getBoundingClientRect().right))")
        assert len(rights) == 10 and len(set(rights)) == 1, (cls, rights)


async def test_the_change_column_shows_each_rank_change_since_the_previous_sync(browser: Browser, site: Site) -> None:
    page = await open_overlay(browser, site.base, "?board=all_time&top=5&cols=change&timer=0")
    # The fixture's first sync put everyone on the board: all new.
    await expect(page.locator("#rows li .change")).to_have_text(["new"] * 5)
    top = await site.board("all_time", 5)
    await site.wager(top[4]["uid"], top[0]["amount"] + 1000)  # 5th to 1st
    await site.sync()
    await expect(page.locator("#rows li").first).to_have_attribute("data-key", top[4]["uid"], timeout=SLOW)
    await expect(page.locator("#rows li .change")).to_have_text(["▲4", "▼1", "▼1", "▼1", "▼1"])
    await expect(page.locator("#rows li .change").first).to_have_attribute("data-move", "up")
    await expect(page.locator("#rows li .change").nth(1)).to_have_attribute("data-move", "down")
    # A sync that moved no one: every rank is as it was.
    await site.sync()
    await expect(page.locator("#rows li .change")).to_have_text(["–"] * 5, timeout=SLOW)


async def test_the_prize_column_pays_from_the_followed_race_and_is_empty_without_one(browser: Browser, site: Site) -> None:
    page = await open_overlay(browser, site.base, "?board=today&top=10&cols=prize")
    await page.wait_for_timeout(1500)  # race:current has answered: there is no race
    await expect(page.locator("#rows li .prize")).to_have_text([""] * await page.locator("#rows li").count())
    await page.close()

    race = await start_race(site, ends_in=3600, split=[50, 30, 20])  # $1,000: $500, $300, $200
    top = await site.board("all_time", 3)
    for row, amount in zip(top, (900.0, 2500.0, 400.0), strict=True):
        await site.wager(row["uid"], amount)
    await site.sync()
    paid = {top[1]["uid"]: "$500", top[0]["uid"]: "$300", top[2]["uid"]: "$200"}
    # Today's board, with the prize column and no timer: each player's prize in the current race.
    page = await open_overlay(browser, site.base, "?board=today&top=50&cols=prize&timer=0")
    for uid, prize in paid.items():
        await expect(page.locator(f"#rows li[data-key='{uid}'] .prize")).to_have_text(prize, timeout=SLOW)
    shown = await page.locator("#rows li .prize").all_text_contents()
    assert sorted(p for p in shown if p) == ["$200", "$300", "$500"]
    await expect(page.locator("#timer")).to_be_hidden()
    # The race board itself, by number.
    page = await open_overlay(browser, site.base, f"?board=race&race={race['id']}&cols=prize,change")
    await expect(page.locator("#rows li .prize")).to_have_text(["$500", "$300", "$200"], timeout=SLOW)
    await expect(page.locator("#rows li .change")).to_have_text(["new", "new", "new"])


# ---- hide_idle= ------------------------------------------------------------------------------


async def panel_box(page: Page) -> dict:
    return await page.evaluate("() => { const r = document.querySelector('#panel').getBoundingClientRect(); return { left: r.left, right: r.right }; }")


async def test_hide_idle_slides_the_panel_out_after_quiet_minutes_and_back_on_a_change(browser: Browser, site: Site) -> None:
    async def fake_clock(page: Page) -> None:
        await page.clock.install()

    page = await open_overlay(browser, site.base, "?board=all_time&top=5&timer=0&cols=change&hide_idle=0.5", before=fake_clock)
    errors = watch(page)
    panel = page.locator("#panel")
    await expect(panel).not_to_have_class(re.compile("is-idle"))
    await page.clock.fast_forward("00:25")
    await page.wait_for_timeout(300)
    await expect(panel).not_to_have_class(re.compile("is-idle"))  # 25 s of 30
    await page.clock.fast_forward("00:06")
    await expect(panel).to_have_class(re.compile("is-idle"))
    # Slid out of the picture, and faded: nothing of it is left on stream.
    await page.wait_for_function(
        """() => { const p = document.querySelector('#panel');
                   return p.getBoundingClientRect().right <= 0 && getComputedStyle(p).opacity === '0'; }""",
        polling=100,
        timeout=SLOW,
    )

    # A sync that changed nothing is not a change: the panel stays out.
    await site.sync()
    await expect(page.locator("#rows li .change")).to_have_text(["–"] * 5, timeout=SLOW)  # the empty delta came
    await page.wait_for_timeout(500)
    await expect(panel).to_have_class(re.compile("is-idle"))

    # A rank change brings it back, sliding in to where it was.
    top = await site.board("all_time", 5)
    await site.wager(top[4]["uid"], top[0]["amount"] + 1000)
    await site.sync()
    await expect(panel).not_to_have_class(re.compile("is-idle"), timeout=SLOW)
    await page.wait_for_function("() => document.querySelector('#panel').getBoundingClientRect().left > 0", polling=100, timeout=SLOW)
    await expect(page.locator("#rows li").first).to_have_attribute("data-key", top[4]["uid"])
    # And the quiet time starts again from that change.
    await page.clock.fast_forward("00:31")
    await expect(panel).to_have_class(re.compile("is-idle"))
    assert errors.serious() == []


async def test_without_hide_idle_the_panel_never_hides(browser: Browser, site: Site) -> None:
    async def fake_clock(page: Page) -> None:
        await page.clock.install()

    page = await open_overlay(browser, site.base, "?board=all_time&top=5&timer=0&hide_idle=off", before=fake_clock)
    await page.clock.fast_forward("59:00")
    await page.wait_for_timeout(500)
    await expect(page.locator("#panel")).not_to_have_class(re.compile("is-idle"))
    assert (await panel_box(page))["left"] > 0


# ---- watching=1 ------------------------------------------------------------------------------


class PresenceInjector:
    """Sits on the page's websocket: forwards everything between the page and the real server
    except the server's own presence counts, and sends the page the counts a test chooses."""

    def __init__(self) -> None:
        self.routes: list[WebSocketRoute] = []

    async def attach(self, page: Page) -> None:
        await page.route_web_socket(re.compile(r"/ws$"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        server.on_message(lambda message: None if '"type":"presence"' in str(message).replace(" ", "") else ws.send(message))
        self.routes.append(ws)

    def send(self, channel: str, watching: int) -> None:
        for ws in self.routes:
            ws.send(json.dumps({"type": "presence", "channel": channel, "watching": watching}))


async def test_watching_shows_the_presence_count_of_the_overlays_channel(browser: Browser, site: Site) -> None:
    """Presence frames are injected at the socket layer (Playwright's route_web_socket in front of
    the real server), so the count is exact whatever the server itself counts."""
    injector = PresenceInjector()
    page = await open_overlay(browser, site.base, "?top=5&watching=1", before=injector.attach)
    errors = watch(page)
    count = page.locator("#watching")
    await expect(count).to_be_hidden()  # no count yet: nothing shown, not "0 watching"
    injector.send("leaderboard:monthly", 1204)
    await expect(count).to_have_text("1,204 watching")
    await expect(count).to_be_visible()
    injector.send("leaderboard:weekly", 7)  # another channel's count is not this overlay's
    injector.send("leaderboard:monthly", 1)
    await expect(count).to_have_text("1 watching")
    injector.send("leaderboard:monthly", 0)
    await expect(count).to_have_text("0 watching")
    assert errors.serious() == []

    # Without watching=1 the count is never shown.
    injector = PresenceInjector()
    page = await open_overlay(browser, site.base, "?top=5", before=injector.attach)
    injector.send("leaderboard:monthly", 1204)
    await page.wait_for_timeout(500)
    await expect(page.locator("#watching")).to_be_hidden()


async def test_watching_counts_the_real_viewers_of_the_channel(browser: Browser, site: Site) -> None:
    """End to end: the server's own presence count (server/realtime/presence.py) reaches the overlay."""
    first = await open_overlay(browser, site.base, "?board=weekly&top=3&watching=1")
    await expect(first.locator("#watching")).to_have_text("1 watching", timeout=SLOW)  # itself
    second = await open_overlay(browser, site.base, "?board=weekly&top=3")
    await expect(first.locator("#watching")).to_have_text("2 watching", timeout=SLOW)  # within a presence interval
    await second.close()
    await expect(first.locator("#watching")).to_have_text("1 watching", timeout=SLOW)


async def test_watching_on_the_race_board_counts_the_race_channel(browser: Browser, site: Site) -> None:
    race = await start_race(site, ends_in=3600, split=[100])
    top = await site.board("all_time", 1)
    await site.wager(top[0]["uid"], 100.0)
    await site.sync()
    injector = PresenceInjector()
    page = await open_overlay(browser, site.base, f"?board=race&race={race['id']}&watching=1", before=injector.attach)
    injector.send("race:current", 99)
    injector.send(f"race:{race['id']}", 31)
    await expect(page.locator("#watching")).to_have_text("31 watching")


# ---- sound=1 ---------------------------------------------------------------------------------


async def audio(page: Page) -> dict:
    return await page.evaluate("window.__audio")


async def test_sound_plays_once_when_the_followed_race_ends_and_only_with_sound_1(browser: Browser, site: Site) -> None:
    race = await start_race(site, ends_in=25, split=[100])
    async def spy(page: Page) -> None:
        await page.add_init_script(AUDIO_SPY)

    query = f"?board=race&race={race['id']}&cols=change"
    top = await site.board("all_time", 2)
    await site.wager(top[0]["uid"], 100.0)
    await site.sync()
    loud = await open_overlay(browser, site.base, query + "&sound=1", before=spy)
    quiet = await open_overlay(browser, site.base, query, before=spy)
    errors = watch(loud)
    # New standings and the countdown ticking are not a race's end: no sound.
    await site.wager(top[1]["uid"], 500.0)
    await site.sync()
    await expect(loud.locator("#rows li").first).to_have_attribute("data-key", top[1]["uid"], timeout=SLOW)
    assert await audio(loud) == {"contexts": 0, "notes": 0, "closed": 0}

    # The race ends: one chime (three notes) on the overlay with sound=1, then its context is closed.
    await loud.wait_for_function("() => window.__audio.contexts > 0", timeout=60_000)
    await loud.wait_for_function("() => window.__audio.closed > 0", timeout=SLOW)
    await quiet.wait_for_timeout(1500)
    assert await audio(loud) == {"contexts": 1, "notes": 3, "closed": 1}
    assert await audio(quiet) == {"contexts": 0, "notes": 0, "closed": 0}
    # Opened after the end (the race's state says ended, no end message comes): silent.
    late = await open_overlay(browser, site.base, query + "&sound=1", before=spy)
    await late.wait_for_timeout(1500)
    assert (await audio(late))["contexts"] == 0
    assert (await audio(loud))["contexts"] == 1
    assert errors.serious() == []


# ---- test=1 ----------------------------------------------------------------------------------


async def test_test_data_shows_a_labelled_made_up_board_and_race_without_the_server(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport=FULL_HD)
    errors = watch(page)
    sockets: list[str] = []
    calls: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("request", lambda r: calls.append(r.url) if "/api/" in r.url else None)
    await page.add_init_script(AUDIO_SPY)
    await page.clock.install()
    await page.goto(f"{site.base}/overlay?test=1&top=8&cols=change,gap,prize&watching=1&sound=1")
    await expect(page.locator("#test-badge")).to_have_text("TEST DATA")
    await expect(page.locator("#test-badge")).to_be_visible()
    await expect(page.locator("#rows li[data-key]")).to_have_count(8)
    await expect(page.locator("#rows li .name").first).to_have_text("LuckyLuke")  # made up, the same every time
    await expect(page.locator("#rows li .prize")).to_have_text(["$2,500", "$1,250", "$750", "$500", "", "", "", ""])
    await expect(page.locator("#watching")).to_have_text(re.compile(r"^[\d,]+ watching$"))
    await expect(page.locator("#timer")).to_have_text(re.compile(r"^00:0[23]:\d\d$"))
    await expect(page.locator("#title")).to_have_text("This month")
    # It moves: every few seconds someone passes someone.
    before = await page.locator("#rows li .amt").all_text_contents()
    climbs = page.locator("#rows li .change").filter(has_text="▲")
    for _ in range(12):  # a move shows until the next one; the first may happen below the top 8
        await page.clock.fast_forward("00:06")
        await page.wait_for_timeout(100)
        if await climbs.count():
            break
    assert await climbs.count() == 1
    assert await page.locator("#rows li .amt").all_text_contents() != before
    # Its race ends within minutes (winners, sound), and another begins.
    await page.clock.fast_forward("03:00")
    await page.wait_for_function("() => window.__audio.contexts === 1", timeout=SLOW)
    await expect(page.locator("#timer")).to_be_hidden()
    await page.clock.fast_forward("00:31")
    await expect(page.locator("#timer")).to_be_visible()
    assert sockets == [] and calls == []  # nothing from the server: it works before any race exists
    assert errors.serious() == []

    race = await browser.new_page(viewport=FULL_HD)
    await race.goto(f"{site.base}/overlay?board=race&test=1&top=5&short=1")
    await expect(race.locator("#title")).to_have_text("Test race")
    await expect(race.locator("#rows li .prize")).to_have_text(["$2.5K", "$1.3K", "$750", "$500", ""])
    await expect(race.locator("#test-badge")).to_be_visible()
    # Real data never carries the label.
    real = await open_overlay(browser, site.base, "?top=3")
    await expect(real.locator("#test-badge")).to_be_hidden()


# ---- the builder -----------------------------------------------------------------------------

EVERY_OPTION = ["board", "race", "top", "theme", "accent", "scale", "timer", "hide_idle", "short", "cols", "watching", "sound", "test"]


async def test_the_builder_has_a_control_for_every_option_and_writes_them(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1400})
    errors = watch(page)
    await page.goto(f"{site.base}/overlay/builder")
    await expect(page.frame_locator("#frame").locator("#rows li[data-key]").first).to_be_visible(timeout=SLOW)
    for name in EVERY_OPTION:
        control = page.locator(f"#form [name={name}]").first
        await expect(control).to_be_visible()
        # Each comes with a short explanation.
        hint = control.locator("xpath=ancestor::label[1]//small[@class='hint'] | ancestor::fieldset[1]//small[@class='hint']")
        assert await hint.count() >= 1, name
    await expect(page.locator("#form input[name=cols]")).to_have_count(3)

    url = page.locator("#url")
    await page.fill("input[name=hide_idle]", "5")
    await expect(url).to_have_value(f"{site.base}/overlay?hide_idle=5")
    await page.check("input[name=short]")
    await page.check("input[name=cols][value=gap]")
    await page.check("input[name=cols][value=change]")
    await expect(url).to_have_value(f"{site.base}/overlay?hide_idle=5&short=1&cols=gap,change")
    await page.uncheck("input[name=cols][value=gap]")
    await page.check("input[name=cols][value=prize]")
    await page.check("input[name=watching]")
    await page.check("input[name=sound]")
    query = "?hide_idle=5&short=1&cols=change,prize&watching=1&sound=1"
    await expect(url).to_have_value(f"{site.base}/overlay{query}")
    await expect(page.locator("#frame")).to_have_attribute("src", f"/overlay{query}")
    frame = page.frame_locator("#frame")
    await expect(frame.locator("#rows li[data-key]").first.locator(".change")).to_be_attached(timeout=SLOW)
    assert await frame.locator("#rows li[data-key]").first.locator("> span").evaluate_all("(s) => s.map((x) => x.className)") == [
        "pos", "name", "amt", "change", "prize",
    ]
    await page.fill("input[name=hide_idle]", "0")
    await expect(url).to_have_value(f"{site.base}/overlay?short=1&cols=change,prize&watching=1&sound=1")
    assert errors.serious() == []


async def test_the_builder_reopens_every_option_from_its_url(browser: Browser, site: Site) -> None:
    query = "?board=race&top=7&theme=light&accent=22c55e&scale=1.5&timer=0&race=current&hide_idle=2.5&short=1&cols=gap,change&watching=1&sound=1&test=1"
    page = await browser.new_page(viewport={"width": 1280, "height": 1400})
    errors = watch(page)
    await page.goto(f"{site.base}/overlay/builder{query}")
    await expect(page.locator("#url")).to_have_value(f"{site.base}/overlay{query}")
    await expect(page.locator("#frame")).to_have_attribute("src", f"/overlay{query}")
    assert await page.evaluate("location.search") == query
    values = await page.evaluate(
        """() => { const f = document.querySelector("#form").elements; return {
            board: f.board.value, top: f.top.value, theme: f.theme.value, accent: f.accent.value, scale: f.scale.value,
            timer: f.timer.checked, race: f.race.value, hide_idle: f.hide_idle.value, short: f.short.checked,
            cols: [...document.querySelectorAll("input[name=cols]")].map((b) => [b.value, b.checked]),
            watching: f.watching.checked, sound: f.sound.checked, test: f.test.checked }; }"""
    )
    assert values == {
        "board": "race", "top": "7", "theme": "light", "accent": "#22c55e", "scale": "1.5", "timer": False, "race": "current",
        "hide_idle": "2.5", "short": True, "cols": [["change", True], ["gap", True], ["prize", False]],
        "watching": True, "sound": True, "test": True,
    }
    # Ticking one more column adds it last; the order read from the URL is kept.
    await page.check("input[name=cols][value=prize]")
    await expect(page.locator("#url")).to_have_value(re.compile(r"cols=gap,change,prize&"))
    assert errors.serious() == []


async def test_the_builders_test_data_switch_previews_a_labelled_scene(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1400})
    errors = watch(page)
    await page.goto(f"{site.base}/overlay/builder?board=race&top=5")
    frame = page.frame_locator("#frame")
    # No race exists: the race board waits for one.
    await expect(frame.locator("#title")).to_have_text("No race right now", timeout=SLOW)
    await expect(frame.locator("#test-badge")).to_be_hidden()
    await page.check("input[name=test]")
    await expect(page.locator("#url")).to_have_value(f"{site.base}/overlay?board=race&top=5&test=1")
    await expect(frame.locator("#test-badge")).to_be_visible()
    await expect(frame.locator("#title")).to_have_text("Test race")
    await expect(frame.locator("#rows li[data-key]")).to_have_count(5)
    await expect(frame.locator("#timer")).to_be_visible()
    await page.uncheck("input[name=test]")
    await expect(frame.locator("#title")).to_have_text("No race right now", timeout=SLOW)
    assert errors.serious() == []
