"""Browser tests: the real app on loopback, Debian's Chromium driven by Playwright's async API.

Run them in their own pytest process (`./dev test` does): `pytest tests/e2e -m browser`.
With GOATED_SCREENSHOTS=1 the tests also refresh the PNGs in docs/screenshots/.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Dialog, Page, async_playwright

from server.app import create_app
from server.services import Services
from server.settings import Settings
from server.upstream.demo import serve_on_loopback
from tests.conftest import SERVED_AS_GOATED_SERVE, Sim, live_settings, running_sim

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ADMIN_TOKEN = "e2e-admin-token"
HOSTILE = "<img src=x onerror=alert(1)>"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items: touch only the browser tests.
    if not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
        for item in items:
            if item.get_closest_marker("browser"):
                item.add_marker(skip)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class Site:
    """A running app with its simulated upstream, and what the tests need to drive them."""

    base: str
    services: Services
    sim: Sim
    settings: Settings
    http: httpx.AsyncClient

    async def sync(self) -> None:
        result = await self.services.sync.run_once("test")
        assert result.status == "ok", result.error

    async def wager(self, uid: str, amount: float) -> None:
        r = await self.http.post(f"{self.sim.base_url}/_sim/wager", json={"uid": uid, "amount": amount})
        assert r.status_code < 300, r.text

    async def rename(self, uid: str, name: str) -> None:
        r = await self.http.post(f"{self.sim.base_url}/_sim/rename", json={"uid": uid, "name": name})
        assert r.status_code < 300, r.text

    async def board(self, period: str = "monthly", limit: int = 100) -> list[dict]:
        r = await self.http.get(f"{self.base}/api/leaderboard/{period}", params={"limit": limit})
        r.raise_for_status()
        return r.json()["rows"]


@asynccontextmanager
async def serve_app(settings: Settings, port: int = 0) -> AsyncIterator[tuple[str, Services]]:
    """The real app under uvicorn; a fixed `port` lets a test restart it where pages expect it."""
    app = create_app(settings, schedule=False)
    async with serve_on_loopback(app, port=port, **SERVED_AS_GOATED_SERVE) as base:
        yield base, app.state.services


@asynccontextmanager
async def running_site(db_url: str, players: int = 300, **overrides: object) -> AsyncIterator[Site]:
    async with running_sim(players=players) as sim, httpx.AsyncClient(timeout=10) as http:
        settings = live_settings(db_url, sim, admin_token=ADMIN_TOKEN, **overrides)
        async with serve_app(settings) as (base, services):
            site = Site(base, services, sim, settings, http)
            await site.sync()
            yield site


@pytest.fixture
async def site(sqlite_url: str) -> AsyncIterator[Site]:
    async with running_site(sqlite_url) as s:
        yield s


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions of a page (CSP violations land here too)."""

    messages: list[str] = field(default_factory=list)

    def serious(self) -> list[str]:
        # A 404 for an optional resource (no race running) is not a page error.
        return [m for m in self.messages if "Failed to load resource" not in m]


def watch(page: Page) -> PageErrors:
    errors = PageErrors()
    page.on("console", lambda m: errors.messages.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.messages.append(f"uncaught: {e}"))
    page.on("dialog", lambda d: _dialog(errors, d))
    return errors


async def _dialog(errors: PageErrors, dialog: Dialog) -> None:
    # Confirmations are the admin's own; an alert would be injected script running.
    if dialog.type == "confirm":
        await dialog.accept()
    else:
        errors.messages.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()


async def snap(page: Page, name: str, **kwargs: object) -> None:
    """Refresh docs/screenshots/<name>.png when GOATED_SCREENSHOTS is set."""
    if os.environ.get("GOATED_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.evaluate("window.scrollTo(0, 0)")
        # Let row slides and flashes finish (the live badge's pulse never does).
        await page.evaluate(
            """() => Promise.all(document.getAnimations()
                .filter((a) => a.effect.getComputedTiming().iterations !== Infinity)
                .map((a) => a.finished.catch(() => null)))"""
        )
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), **kwargs)
