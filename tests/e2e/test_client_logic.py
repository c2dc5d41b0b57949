"""The pure front-end modules, run in the page as the pages import them."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.e2e.conftest import Site

pytestmark = pytest.mark.browser


async def run(browser: Browser, site: Site, script: str) -> object:
    page = await browser.new_page()
    await page.goto(f"{site.base}/overlay/builder")
    return await page.evaluate(script)


async def test_tiers_follow_the_all_time_thresholds(browser: Browser, site: Site) -> None:
    got = await run(
        browser,
        site,
        """async () => {
            const { tierFor } = await import("/static/js/tiers.js");
            return [0, 9999.99, 10000, 39999, 40000, 100000, 450000, 1.5e6, 3e6, 7e6, 2e7, 9e9]
              .map((a) => tierFor(a).name);
        }""",
    )
    assert got == [
        "Copper", "Copper", "Bronze", "Bronze", "Silver", "Gold", "Platinum",
        "Pearl", "Sapphire", "Emerald", "Diamond", "Diamond",
    ]


async def test_apply_delta_ranks_like_the_server(browser: Browser, site: Site) -> None:
    got = await run(
        browser,
        site,
        """async () => {
            const { applyDelta, movement } = await import("/static/js/board.js");
            const rows = [
              { rank: 1, uid: "a", name: "A", amount: 50 },
              { rank: 2, uid: "b", name: "B", amount: 40 },
              { rank: 3, uid: "c", name: "C", amount: 30 },
              { rank: 4, uid: "d", name: "D", amount: 30 },
            ];
            const next = applyDelta(rows, {
              changes: [
                { kind: "moved", uid: "d", name: "D", amount: 60, rank: 1, prev_rank: 4 },
                { kind: "entered", uid: "e", name: "E", amount: 30 },
              ],
              left: ["b"],
            });
            const limited = applyDelta(rows.slice(0, 2), {
              changes: [{ kind: "moved", uid: "z", name: "Z", amount: 70, rank: 1, prev_rank: 9 }],
            }, 2);
            const reset = applyDelta(rows, { reset: true, changes: [{ kind: "entered", uid: "q", name: "Q", amount: 1 }] });
            return {
              order: next.map((r) => [r.rank, r.uid, r.prev, movement(r).text]),
              limited: limited.map((r) => [r.uid, r.prev]),
              reset: reset.map((r) => [r.uid, r.prev]),
            };
        }""",
    )
    # Equal amounts order by uid, as the server ranks them.
    assert got["order"] == [[1, "d", 4, "▲3"], [2, "a", 1, "▼1"], [3, "c", 3, "–"], [4, "e", None, "new"]]
    assert got["limited"] == [["z", 9], ["a", 1]]
    assert got["reset"] == [["q", None]]


async def test_backoff_is_full_jitter_and_capped(browser: Browser, site: Site) -> None:
    got = await run(
        browser,
        site,
        """async () => {
            const { backoffDelay } = await import("/static/js/socket.js");
            return {
              top: [0, 1, 2, 3, 10, 30].map((n) => backoffDelay(n, 500, 30000, () => 0.999999)),
              zero: backoffDelay(5, 500, 30000, () => 0),
            };
        }""",
    )
    assert got["top"] == [499, 999, 1999, 3999, 29999, 29999]
    assert got["zero"] == 0


async def test_countdown_runs_on_the_server_clock(browser: Browser, site: Site) -> None:
    got = await run(
        browser,
        site,
        """async () => {
            const { ServerClock, deadlineOf, secondsLeft, formatCountdown } = await import("/static/js/countdown.js");
            const clock = new ServerClock();
            // The browser is 90 s behind the server; the second sample was delayed 200 ms.
            clock.observe("2026-11-26T12:00:00.000Z", Date.parse("2026-11-26T11:58:30.000Z"));
            clock.observe("2026-11-26T12:00:01.000Z", Date.parse("2026-11-26T11:58:31.200Z"));
            const race = { status: "live", starts_at: "2026-11-26T10:00:00Z", ends_at: "2026-11-26T12:01:00Z" };
            const browserNow = Date.parse("2026-11-26T11:58:40.000Z");
            return {
              offset: clock.offsetMs,
              left: secondsLeft(deadlineOf(race), clock.now(browserNow)),
              upcoming: deadlineOf({ ...race, status: "upcoming" }) === Date.parse(race.starts_at),
              ended: deadlineOf({ ...race, status: "ended" }),
              text: [formatCountdown(50), formatCountdown(3661), formatCountdown(90061)],
            };
        }""",
    )
    assert got["offset"] == 90_000  # the least-delayed sample wins
    assert got["left"] == 50
    assert got["upcoming"] is True and got["ended"] is None
    assert got["text"] == ["00:00:50", "01:01:01", "1d 01:01:01"]


async def test_overlay_options_are_parsed_leniently(browser: Browser, site: Site) -> None:
    got = await run(
        browser,
        site,
        """async () => {
            const { parseOptions, overlayQuery, raceFor } = await import("/static/js/overlay-options.js");
            return {
              good: parseOptions("?board=race&top=5&theme=light&accent=%2300ff88&scale=1.5&timer=0"),
              bad: parseOptions("?board=<x>&top=999&theme=neon&accent=red;x&scale=-3&timer=yes"),
              query: overlayQuery(parseOptions("?board=weekly&top=3&accent=0af")),
              races: ["monthly", "weekly", "today", "all_time", "race"].map((board) => raceFor(parseOptions(`?board=${board}`))),
              chosen: ["current", "WEEKLY", "42", "0", "12x", "-3", "<b>"].map((race) => parseOptions(`?board=monthly&race=${race}`).race),
              raceQuery: overlayQuery(parseOptions("?board=today&race=monthly")),
            };
        }""",
    )
    # The other options (hide_idle, short, cols, ...) at their defaults: tests/e2e/test_overlay_options.py.
    rest = {"hide_idle": 0, "short": False, "cols": [], "watching": False, "sound": False, "test": False}
    assert got["good"] == {"board": "race", "top": 5, "theme": "light", "accent": "#00ff88", "scale": 1.5, "timer": False, "race": "auto", **rest}
    assert got["bad"] == {"board": "monthly", "top": 50, "theme": "dark", "accent": "#f5b700", "scale": 0.25, "timer": True, "race": "auto", **rest}
    assert got["query"] == "?board=weekly&top=3&accent=0af"
    # The timer follows the board's own race unless `race=` picks one.
    assert got["races"] == ["monthly", "weekly", "current", "current", "current"]
    assert got["chosen"] == ["current", "weekly", "42", "auto", "auto", "auto", "auto"]
    assert got["raceQuery"] == "?board=today&race=monthly"


async def test_chart_geometry_puts_rank_one_on_top(browser: Browser, site: Site) -> None:
    got = await run(
        browser,
        site,
        """async () => {
            const { chartGeometry } = await import("/static/js/chart.js");
            const g = chartGeometry([
              { at: "2026-11-01T00:00:00Z", rank: 5, amount: 100 },
              { at: "2026-11-02T00:00:00Z", rank: null, amount: 150 },
              { at: "2026-11-03T00:00:00Z", rank: 1, amount: 400 },
            ], { width: 400, height: 300, pad: { l: 0, r: 0, t: 0, b: 0 }, gap: 0, rankShare: 1 / 3 });
            return { amount: g.amountPath, rank: g.rankPath, count: g.count, panels: g.panels };
        }""",
    )
    assert got["count"] == 3
    assert got["panels"] == {"amount": {"top": 0, "bottom": 200}, "rank": {"top": 200, "bottom": 300}}
    assert got["amount"] == "M0.0,150.0L200.0,125.0L400.0,0.0"
    assert got["rank"] == "M0.0,300.0M400.0,200.0"  # off the board in between: the line breaks


async def test_the_chart_keeps_its_two_lines_apart_and_dates_its_time_axis(browser: Browser, site: Site) -> None:
    """A fresh demo's player: #1 with the highest amount all along, over a few minutes."""
    got = await run(
        browser,
        site,
        """async () => {
            const { chartGeometry, amountScale } = await import("/static/js/chart.js");
            const minutes = (n) => new Date(Date.parse("2026-11-18T14:03:20Z") + n * 60000).toISOString();
            const fresh = chartGeometry([0, 1, 2, 3, 4].map((n) => ({ at: minutes(n), rank: 1, amount: 15084 })));
            const weeks = chartGeometry([0, 3, 9, 20].map((d) => ({ at: minutes(d * 1440), rank: 4 - (d % 3), amount: 1000 * (d + 1) })));
            const ys = (path) => [...path.matchAll(/,([0-9.]+)/g)].map((m) => Number(m[1]));
            return {
              tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
              amountYs: ys(fresh.amountPath), rankYs: ys(fresh.rankPath), panels: fresh.panels,
              freshTicks: fresh.xTicks.map((t) => t.label), weekTicks: weeks.xTicks.map((t) => t.label),
              blinkTicks: chartGeometry([{ at: "2026-11-18T14:03:20.2Z", rank: 1, amount: 1 }, { at: "2026-11-18T14:03:20.9Z", rank: 1, amount: 2 }]).xTicks.map((t) => t.label),
              inside: [...fresh.xTicks, ...weeks.xTicks].every((t) => t.x >= 64 && t.x <= 740),
              amountTicks: fresh.amountTicks.map((t) => t.label),
              scale: [15084, 400, 0.5, 999].map((m) => amountScale(m).ticks),
            };
        }""",
    )
    # The amount lives in the upper panel and the rank in the lower one: never the same pixels.
    assert max(got["amountYs"]) <= got["panels"]["amount"]["bottom"] < got["panels"]["rank"]["top"] <= min(got["rankYs"])
    assert got["amountTicks"] == ["$0", "$10K", "$20K"]  # round steps, not $15.1K
    assert got["scale"] == [[0, 10000, 20000], [0, 200, 400], [0, 0.5, 1], [0, 500, 1000]]
    # A time axis of a few minutes says which day; one of weeks is days.
    assert got["tz"] == "UTC", "the labels below are in UTC"
    assert got["freshTicks"][0] == "Nov 18 14:04" and got["freshTicks"][1:] == ["14:05", "14:06", "14:07"]
    assert got["weekTicks"] == ["Nov 19", "Nov 26", "Dec 3"]
    assert got["blinkTicks"] == ["Nov 18 14:03:20", "14:03:20"]  # under a second: its two ends
    assert got["inside"]