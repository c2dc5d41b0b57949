"""Hostile requests over real HTTP: forged log lines, malformed static paths, paths on disk
in error bodies, the pages' headers bypassed through /static, and third-party scripts on
the API docs."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from server import logs
from server.pages import CSP
from tests.conftest import live_settings, running_app, running_sim

ROOT = Path(__file__).resolve().parents[2]
FORGED = "1999-12-31 23:59:59,999 CRITICAL server.admin: FORGED admin login"
# A log line of ours starts with a timestamp; every other line is an indented traceback line.
RECORD_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """The product's own text log (the handler `goated serve` installs), into a buffer."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("DEBUG", "text", stream=buffer)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def base(sqlite_url: str) -> AsyncIterator[str]:
    async with running_sim(players=20) as sim, running_app(live_settings(sqlite_url, sim)) as (url, _):
        yield url


async def test_a_forged_log_line_in_a_static_path_is_a_404_and_stays_on_its_line(base: str, log_text: io.StringIO) -> None:
    path = "/static/a%00%0A" + FORGED.replace(" ", "%20")
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.get(path)
        also = await http.get("/static/js/%0D%0A" + FORGED.replace(" ", "%20") + ".js")
        uvicorn_style = await http.get("/api/races/%0A" + FORGED.replace(" ", "%20"))
    assert r.status_code == 404, r.text
    assert also.status_code == 404 and uvicorn_style.status_code in (400, 404)
    for line in log_text.getvalue().splitlines():
        assert not line.startswith("1999-12-31"), line
        assert RECORD_START.match(line) or line.startswith(logs.TRACE_INDENT), line


@pytest.mark.parametrize(
    "path",
    [
        "/static/js/",
        "/static/js",
        "/static/",
        "/static/nope.js",
        "/static/../server/settings.py",
        "/static/%2e%2e/pyproject.toml",
        "/static/js/..%2F..%2Fpyproject.toml",
        "/static/.git/config",
        "/static/a%00b.js",
        "/static/" + "x" * 300,
    ],
)
async def test_static_errors_never_name_a_path_on_disk(base: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.get(path)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    assert str(ROOT) not in r.text and "/work/" not in r.text and "web/" not in r.text, r.text


@pytest.mark.parametrize("name", ["admin.html", "account.html", "index.html", "race.html", "overlay.html", "builder.html", "player.html", "ADMIN.HTML", "js/../admin.html"])
async def test_pages_are_not_served_from_static_without_their_headers(base: str, name: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.get(f"/static/{name}")
        head = await http.head(f"/static/{name}")
    # Framed from another site, /admin must never render: served only at its route, with
    # frame-ancestors 'none'.
    assert r.status_code == 404 and head.status_code == 404, (name, r.status_code)
    assert b"<html" not in r.content.lower()


async def test_static_assets_are_still_served_and_cannot_run_as_documents(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        script = await http.get("/static/js/board.js")
        head = await http.head("/static/css/app.css")
        icon = await http.get("/static/img/icon.svg")
    assert script.status_code == 200 and script.content == (ROOT / "web/js/board.js").read_bytes()
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert head.status_code == 200 and head.content == b""
    assert icon.status_code == 200
    for r in (script, icon):
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"] and "sandbox" in r.headers["content-security-policy"]


async def test_the_api_docs_come_from_our_own_files_under_the_pages_policy(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        page = await http.get("/schema")
        document = await http.get("/schema/openapi.json")
        assets = [await http.get(src) for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)]
    assert page.status_code == 200 and page.content == (ROOT / "web/schema.html").read_bytes()
    assert page.headers["content-security-policy"] == CSP and page.headers["x-frame-options"] == "DENY"
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text) and "<style" not in page.text
    assert document.status_code == 200 and document.json()["info"]["title"] == "Goated Live"
    assert len(assets) == 4 and all(a.status_code == 200 for a in assets)
    # The vendored build is the one its README names, byte for byte.
    vendored = ROOT / "web/vendor/swagger-ui"
    readme = (vendored / "README.md").read_text()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"| {name} | {hashlib.sha256((vendored / name).read_bytes()).hexdigest()} |" in readme
