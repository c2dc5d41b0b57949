"""`GET /api/leaderboard/{period}?q=`: a search that forgives case, width and spacing, served
by the real app from boards synced off the simulated upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from server.leaderboard.board import Period
from server.services import Services
from tests.conftest import Sim, live_settings, running_app, running_sim

JOHN = "John  Smith"  # two spaces, as the upstream sent it
FULLWIDTH = "ＪＯＨＮＮＹ Ｂｏｙ"
STRASSE = "Straße Kid"


@dataclass
class Api:
    http: httpx.AsyncClient
    services: Services
    sim: Sim
    uids: dict[str, str]  # name given -> uid

    async def search(self, q: str, period: str = "all_time", **params: object) -> httpx.Response:
        return await self.http.get(f"/api/leaderboard/{period}", params={"q": q, "limit": 1000, **params})

    async def found(self, q: str) -> list[str]:
        response = await self.search(q)
        assert response.status_code == 200, response.text
        return [r["uid"] for r in response.json()["rows"]]


@pytest.fixture
async def api(sqlite_url: str) -> AsyncIterator[Api]:
    async with running_sim(players=60) as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        snapshot = sim.simulation.snapshot()
        for i, e in enumerate(snapshot[:12]):
            sim.simulation.wager(e.uid, 1000.0 * (12 - i))
        uids = {JOHN: snapshot[2].uid, FULLWIDTH: snapshot[5].uid, STRASSE: snapshot[9].uid}
        for name, uid in uids.items():
            sim.simulation.rename(uid, name)
        assert (await services.sync.run_once("test")).status == "ok"
        async with httpx.AsyncClient(base_url=base) as http:
            yield Api(http, services, sim, uids)


async def test_a_search_forgives_spacing_width_and_case(api: Api) -> None:
    john = api.uids[JOHN]
    assert await api.found("John Smith") == [john]
    assert await api.found("john  smith") == [john]
    assert await api.found(" \u00a0JOHN\tSMITH\n") == [john]
    assert await api.found("ＪＯＨＮ ＳＭＩＴＨ") == [john]
    assert await api.found("n s") == [john]
    assert await api.found("johnny boy") == [api.uids[FULLWIDTH]]
    assert await api.found("ＪＯＨＮＮＹ") == [api.uids[FULLWIDTH]]
    assert await api.found("STRASSE") == [api.uids[STRASSE]]
    assert await api.found("straße k") == [api.uids[STRASSE]]
    assert await api.found("johnsmith") == []


async def test_search_hits_keep_their_true_ranks_and_page(api: Api) -> None:
    full = (await api.http.get("/api/leaderboard/all_time", params={"limit": 1000})).json()
    page = (await api.search("John Smith")).json()
    [hit] = page["rows"]
    assert hit == next(r for r in full["rows"] if r["uid"] == api.uids[JOHN])  # its true rank
    assert (page["matched"], page["total"]) == (1, full["total"])
    # Paging through the matches of a query that needs the key: both Johns, in rank order.
    johns = [r for r in full["rows"] if r["uid"] in (api.uids[JOHN], api.uids[FULLWIDTH])]
    first = (await api.search("JOHN", limit=1)).json()
    second = (await api.search("ｊｏｈｎ", limit=1, offset=1)).json()
    assert first["matched"] == second["matched"] == 2
    assert first["rows"] + second["rows"] == johns


async def test_a_blank_q_is_the_whole_board(api: Api) -> None:
    whole = (await api.http.get("/api/leaderboard/weekly", params={"limit": 1000})).json()
    for q in ("", " ", "\t \u00a0\u3000"):
        response = await api.search(q, period="weekly")
        assert response.status_code == 200, (q, response.text)
        page = response.json()
        assert page["rows"] == whole["rows"] and page["matched"] == page["total"] == whole["total"]


async def test_q_is_bounded_by_what_was_typed_and_spacing_still_forgives_within_it(api: Api) -> None:
    spaced = "John" + " " * 55 + "Smith"
    assert len(spaced) == 64
    assert await api.found(spaced) == [api.uids[JOHN]]
    too_long = await api.search(spaced + " ")
    assert too_long.status_code == 400
    body = too_long.json()
    assert body["details"] == [{"message": "Expected `str` of length <= 64", "key": "q", "source": "query"}]


async def test_a_renamed_player_is_found_by_the_new_name_after_the_next_sync(api: Api) -> None:
    john = api.uids[JOHN]
    assert await api.found("john smith") == [john]
    api.sim.simulation.rename(john, "Ｊａｎｅ\t Doe")
    assert (await api.services.sync.run_once("test")).status == "ok"
    assert await api.found("JANE DOE") == [john]
    assert await api.found("john smith") == []
    assert "jane doe" in api.services.live.name_keys(Period.ALL_TIME)  # the keys moved with the version
