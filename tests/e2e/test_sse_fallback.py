"""Websockets blocked between the browser and the server: the pages follow /sse instead, and
go back to a websocket once one gets through."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, Request, WebSocketRoute, expect

from tests.e2e.conftest import Site, watch

pytestmark = pytest.mark.browser

WS = re.compile(r"/ws$")


class Blocker:
    """Every websocket the page opens is closed by "the network" until `blocked` is False;
    then it goes through to the server."""

    def __init__(self) -> None:
        self.blocked = True
        self.attempts = 0

    async def route(self, ws: WebSocketRoute) -> None:
        self.attempts += 1
        if self.blocked:
            await ws.close(code=1011, reason="blocked by a proxy")
        else:
            ws.connect_to_server()


async def blocked_page(browser: Browser) -> tuple[Page, Blocker, list[str]]:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    blocker = Blocker()
    await page.route_web_socket(WS, blocker.route)
    streams: list[str] = []

    def on_request(request: Request) -> None:
        if "/sse?" in request.url:
            streams.append(request.url)

    page.on("request", on_request)
    return page, blocker, streams


async def test_with_websockets_blocked_the_board_still_moves(browser: Browser, site: Site) -> None:
    page, blocker, streams = await blocked_page(browser)
    errors = watch(page)
    await page.goto(site.base)
    badge = page.locator("#conn")
    await expect(badge).to_have_text("live (SSE)")
    await expect(badge).to_have_attribute("data-state", "live")
    assert blocker.attempts >= 3
    assert [u for u in streams if "channel=leaderboard%3Amonthly" in u], streams
    rows = await site.board("monthly")
    await expect(page.locator("#board tbody tr").first).to_have_attribute("data-key", rows[0]["uid"])

    # A sync: the rank change comes over the event stream.
    fifth = rows[4]
    await site.wager(fifth["uid"], rows[0]["amount"] + 1000)
    await site.sync()
    first = page.locator("#board tbody tr").first
    await expect(first).to_have_attribute("data-key", fifth["uid"])
    await expect(first.locator("td.move span")).to_have_text("▲4")
    await expect(page.locator("#board tbody tr").nth(1).locator("td.move span")).to_have_text("▼1")

    # Websockets get through again: the next try (the browser back online: at once) takes over.
    blocker.blocked = False
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    await expect(badge).to_have_text("live")
    await expect(badge).to_have_attribute("data-transport", "websocket")
    second = rows[5]
    await site.wager(second["uid"], rows[0]["amount"] + 5000)
    await site.sync()
    await expect(first).to_have_attribute("data-key", second["uid"])
    assert any('"type":"delta"' in f for f in frames), "the delta came over the websocket"
    assert errors.serious() == []


async def test_the_overlay_and_the_race_page_follow_their_channels_over_sse(browser: Browser, site: Site) -> None:
    page, _, streams = await blocked_page(browser)
    errors = watch(page)
    await page.goto(f"{site.base}/overlay?top=5")
    await expect(page.locator("#rows li[data-key]")).to_have_count(5)
    assert [u for u in streams if "limit=" in u], streams  # the overlay's snapshot size

    race, _, race_streams = await blocked_page(browser)
    await race.goto(f"{site.base}/race")
    await expect(race.locator("#conn")).to_have_text("live (SSE)")
    assert [u for u in race_streams if "channel=race%3Acurrent" in u], race_streams
    assert errors.serious() == []


async def test_the_socket_module_falls_back_after_three_failures_and_comes_back(browser: Browser, site: Site) -> None:
    """socket.js with stand-in WebSocket and EventSource: three websockets that deliver nothing
    switch each channel to its own EventSource (same callbacks, the overlay's limit kept); the
    websocket tries go on; the first that delivers closes them and resumes from their seq."""
    page = await browser.new_page()
    await page.goto(f"{site.base}/overlay/builder")
    got = await page.evaluate(
        """async () => {
            const { LiveSocket } = await import("/static/js/socket.js");
            const { showConnection } = await import("/static/js/connection-badge.js");
            const badge = document.createElement("span");
            badge.append(document.createElement("i"), document.createElement("span"));
            const sockets = [], sources = [], states = [], got = [];
            class FakeWebSocket {
              constructor(url) { this.url = url; this.readyState = 0; this.sent = []; sockets.push(this); }
              send(data) { this.sent.push(JSON.parse(data)); }
              close() { this.readyState = 3; }
            }
            class FakeEventSource {
              constructor(url) { this.url = url; this.readyState = 0; sources.push(this); }
              close() { this.readyState = 2; }
            }
            const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
            const socket = new LiveSocket({
              url: "ws://example/ws", WebSocketImpl: FakeWebSocket, EventSourceImpl: FakeEventSource, baseMs: 1, capMs: 4,
              onState: (state, transport) => { states.push(`${state}/${transport}`); showConnection(badge, state); },
            });
            socket.subscribe("leaderboard:monthly", (m) => got.push(`${m.type}:${m.seq}`), { limit: 10 });
            socket.subscribe("race:current", (m) => got.push(`${m.type}:${m.seq}`));
            socket.start();
            const tries = [];
            for (let i = 0; i < 3; i++) {
              await tick(30);
              tries.push(sources.length);
              sockets.at(-1).onclose({});  // refused: no message ever came
            }
            await tick(30);
            const urls = sources.map((s) => s.url);
            for (const s of sources) { s.readyState = 1; s.onopen(); }
            const label = badge.lastElementChild.textContent;
            sources[0].onmessage({ data: JSON.stringify({ type: "snapshot", channel: "leaderboard:monthly", seq: 7, rows: [] }) });
            sources[0].onmessage({ data: JSON.stringify({ type: "delta", channel: "leaderboard:monthly", seq: 8, changes: [] }) });
            sources[1].onmessage({ data: JSON.stringify({ type: "race", channel: "race:current", seq: 2, race: null }) });
            await tick(30);
            const wsTriesOnSse = sockets.length;
            const ws = sockets.at(-1);
            ws.readyState = 1;
            ws.onopen();
            ws.onmessage({ data: JSON.stringify({ type: "pong", server_now: new Date().toISOString() }) });
            ws.onmessage({ data: JSON.stringify({ type: "delta", channel: "leaderboard:monthly", seq: 8, changes: [] }) });
            ws.onmessage({ data: JSON.stringify({ type: "delta", channel: "leaderboard:monthly", seq: 9, changes: [] }) });
            return {
              tries, urls, label, wsTriesOnSse, got, states,
              closed: sources.map((s) => s.readyState),
              resumed: ws.sent.filter((m) => m.op === "subscribe"),
              after: badge.lastElementChild.textContent,
            };
        }"""
    )
    assert got["tries"] == [0, 0, 0]  # websockets first, while they may work
    assert got["urls"] == ["/sse?channel=leaderboard%3Amonthly&limit=10", "/sse?channel=race%3Acurrent"]
    assert got["label"] == "live (SSE)"
    assert got["wsTriesOnSse"] >= 4  # websockets tried again in the background
    assert got["got"] == ["snapshot:7", "delta:8", "race:2", "delta:9"]  # the websocket's repeat of 8 dropped
    assert got["closed"] == [2, 2]
    assert got["resumed"] == [
        {"op": "subscribe", "channel": "leaderboard:monthly", "since": 8, "limit": 10},
        {"op": "subscribe", "channel": "race:current", "since": 2},
    ]
    assert got["after"] == "live"
    assert got["states"][-4:] == ["reconnecting/sse", "connecting/sse", "live/sse", "live/websocket"], got["states"]
