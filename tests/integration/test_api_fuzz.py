"""Every operation in the OpenAPI document, fed generated garbage over real HTTP: no
request may produce a 5xx."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import live_settings, running_app, running_sim

ADMIN = "fuzz-admin-token"

junk_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "1e309", "NaN", "today", "all_time", "../../etc/passwd", "%00", "😀" * 5, "A" * 300]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
junk_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def operations(schema: dict) -> list[tuple[str, str, list[dict]]]:
    found = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method, path, op.get("parameters", [])))
    return found


async def test_no_generated_request_gets_a_5xx(sqlite_url: str) -> None:
    async with running_sim() as sim:
        app_settings = live_settings(sqlite_url, sim, admin_token=ADMIN, rate_limit_per_minute=100_000)
        async with running_app(app_settings) as (base, services), httpx.AsyncClient(base_url=base, timeout=10) as http:
            await services.sync.run_once("test")
            ops = operations((await http.get("/schema/openapi.json")).json())
            assert len(ops) >= 8
            failures: list[str] = []

            @settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
            @given(data=st.data())
            def check(data: st.DataObject) -> None:
                method, path, params = data.draw(st.sampled_from(ops))
                url = path
                query: dict[str, str] = {}
                for p in params:
                    value = data.draw(junk_text)
                    if p["in"] == "path":
                        url = url.replace("{" + p["name"] + "}", quote(value, safe="") or "x")
                    elif p["in"] == "query" and data.draw(st.booleans()):
                        query[p["name"]] = value
                url = re.sub(r"\{[^}]+\}", "x", url)
                headers = {"Authorization": f"Bearer {ADMIN}"} if data.draw(st.booleans()) else {}
                body = data.draw(junk_json) if method in {"post", "put", "patch"} else None
                requests.append((method, url, query, headers, body))

            requests: list[tuple] = []
            check()
            for method, url, query, headers, body in requests:
                kwargs = {"params": query, "headers": headers}
                if body is not None:
                    kwargs["json"] = body
                r = await http.request(method.upper(), url, **kwargs)
                if r.status_code >= 500:
                    failures.append(f"{method.upper()} {url} {query} {body!r} -> {r.status_code} {r.text[:200]}")
            assert not failures, "\n".join(failures)
