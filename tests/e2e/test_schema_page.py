"""The API docs (/schema) in a real browser with every request off this machine refused: Swagger
UI from our own static files renders the document and runs a request, under the pages' CSP."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Route, expect

from server.pages import CSP
from tests.e2e.conftest import Site, watch

pytestmark = pytest.mark.browser


async def test_the_api_docs_render_and_try_a_request_offline(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch(page)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    outside: list[str] = []

    async def network_cut(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", network_cut)
    response = await page.goto(f"{site.base}/schema")
    assert response is not None and response.headers["content-security-policy"] == CSP

    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Goated Live")
    operation = page.locator(".opblock-get", has=page.locator("[data-path='/api/leaderboard/{period}']"))
    await expect(operation).to_have_count(1)
    await operation.locator(".opblock-summary-control").click()
    await operation.get_by_role("button", name="Try it out").click()
    await operation.locator("tr[data-param-name='period'] select, tr[data-param-name='period'] input").first.wait_for()
    period = operation.locator("tr[data-param-name='period']")
    if await period.locator("select").count():
        await period.locator("select").select_option("monthly")
    else:
        await period.locator("input").fill("monthly")
    await operation.get_by_role("button", name="Execute").click()
    await expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    await expect(operation.locator(".live-responses-table tbody .response-col_description").first).to_contain_text("rows")

    assert outside == [], outside  # nothing loaded from a CDN, no validator badge
    assert violations == [] and errors.serious() == [], (violations, errors.messages)
