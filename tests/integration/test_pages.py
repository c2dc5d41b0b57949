"""Page routes: the right file, a strict CSP, garbage ids refused, nothing inline."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from server.pages import CSP, OVERLAY_CSP
from tests.conftest import live_settings, running_app, running_sim

WEB = Path(__file__).resolve().parents[2] / "web"

PAGES = {
    "/": "index.html",
    "/race": "race.html",
    "/race/42": "race.html",
    "/player/AbC123xyz": "player.html",
    "/overlay": "overlay.html",
    "/overlay/builder": "builder.html",
    "/admin": "admin.html",
}


@pytest.fixture
async def base(sqlite_url: str):
    async with running_sim(players=20) as sim, running_app(live_settings(sqlite_url, sim)) as (url, _):
        yield url


async def test_each_page_is_its_file_under_a_strict_policy(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for path, name in PAGES.items():
            r = await http.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith("text/html"), path
            assert r.content == (WEB / name).read_bytes(), path
            policy = r.headers["content-security-policy"]
            assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
            assert "script-src 'self'" in policy and "style-src 'self'" in policy
            assert r.headers["x-content-type-options"] == "nosniff"
            if path == "/overlay":
                assert policy == OVERLAY_CSP and "frame-ancestors *" in policy
                assert "x-frame-options" not in r.headers  # OBS and the builder frame it
            else:
                assert policy == CSP and "frame-ancestors 'none'" in policy


@pytest.mark.parametrize(
    "path",
    ["/player/%3Cscript%3E", "/player/a.b", "/player/a%20b", "/player/" + "x" * 65, "/race/abc", "/race/1e3", "/race/-1"],
)
async def test_garbage_ids_are_refused(base: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.get(path)
    assert r.status_code == 400, (path, r.status_code, r.text)
    assert "<script>" not in r.text


def test_pages_have_no_inline_script_or_style() -> None:
    for name in set(PAGES.values()):
        html = (WEB / name).read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), name
        assert "<style" not in html and " style=" not in html, name
        assert not re.search(r"\son[a-z]+=", html), name  # no inline event handlers


def test_scripts_never_put_data_into_html() -> None:
    for path in (WEB / "js").glob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{path.name} uses {sink}"
