"""Real-world rows through the whole product: an upstream answer that is normal but for a few
odd rows (taken from other projects' bug reports) is synced over HTTP into PostgreSQL; each odd
row is cleaned or refused alone, and a value the database refuses never takes it "down"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import httpx
import msgspec
from litestar import Litestar, Response, get
from litestar.params import FromPath

from server.leaderboard.identity import placeholder_name
from server.upstream.demo import serve_on_loopback
from server.upstream.simulator import Simulation
from tests.conftest import Sim, live_settings, running_app

START = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)  # mid-day, mid-week, mid-month


def row(uid: str, name: str, amount: float) -> dict[str, object]:
    return {"uid": uid, "name": name, "wagered": {"today": amount, "this_week": amount, "this_month": amount, "all_time": amount}}


DASHED = "3f2b8c1e-7d4a-4e1b-9c55-0a1b2c3d4e5f"
LONG_UID = "L" * 70
ODD_ROWS = [
    row(LONG_UID, "too-long-uid", 7_000_001),  # refused: over the 64-character uid rule
    row("NULNAME0000000000000", "Dan\u0000ny", 7_000_002),
    row(DASHED, "dashed-uid", 7_000_003),
    row("RTLNAME0000000000000", "\u202eevil", 7_000_004),
    row("ZEROWIDTH00000000000", "\u200b", 7_000_005),
    row("HUGENAME000000000000", "x" * 5000, 7_000_006),
    {"uid": "BADAMOUNT00000000000", "name": "minus", "wagered": {"today": -1, "this_week": 1, "this_month": 1, "all_time": 1}},
]


class OddUpstream:
    """The simulated upstream's answer with extra rows spliced in: the network edge, faked."""

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self.extra: list[dict[str, object]] = list(ODD_ROWS)

    def body(self) -> bytes:
        payload = msgspec.json.decode(self.simulation.payload())
        payload["data"].extend(self.extra)
        return msgspec.json.encode(payload)


@asynccontextmanager
async def odd_upstream() -> AsyncIterator[tuple[Sim, OddUpstream]]:
    upstream = OddUpstream(Simulation(players=200, seed=11, start=START, speed=0))

    @get("/affiliate/referral-leaderboard/{code:str}", sync_to_thread=False)
    def leaderboard(code: FromPath[str]) -> Response[bytes]:
        return Response(upstream.body(), media_type="application/json")

    async with serve_on_loopback(Litestar([leaderboard])) as base_url:
        yield Sim(upstream.simulation, base_url), upstream


async def test_odd_rows_are_cleaned_or_refused_alone(pg_url: str) -> None:
    async with odd_upstream() as (sim, upstream):
        settings = live_settings(pg_url, sim)
        async with running_app(settings) as (base, services), httpx.AsyncClient(base_url=base) as http:
            result = await services.sync.run_once("test")
            assert result.status == "ok" and result.stored, result.error

            top = (await http.get("/api/leaderboard/monthly", params={"limit": 6})).json()["rows"]
            assert [(r["uid"], r["name"]) for r in top] == [
                ("HUGENAME000000000000", "x" * 47 + "…"),
                ("ZEROWIDTH00000000000", placeholder_name("ZEROWIDTH00000000000")),
                ("RTLNAME0000000000000", "evil"),
                (DASHED, "dashed-uid"),
                ("NULNAME0000000000000", "Danny"),
                *[(r["uid"], r["name"]) for r in top[5:]],
            ]
            assert LONG_UID not in {r["uid"] for r in top}

            # The dashed uid works everywhere a uid does.
            assert (await http.get(f"/api/players/{DASHED}")).status_code == 200
            assert (await http.get(f"/player/{DASHED}")).status_code == 200
            assert (await http.get(f"/api/players/{LONG_UID}")).status_code == 400

            health = (await http.get("/health")).json()["parts"]
            assert health["database"]["status"] == "ok", health["database"]
            assert health["upstream"]["status"] == "degraded"
            assert health["upstream"]["info"]["refused_rows"] == 2
            assert health["upstream"]["info"]["refused_rows_total"] == {"uid": 1, "amount": 1}
            assert "70 chars" in health["upstream"]["detail"]
            metrics = (await http.get("/metrics")).text
            assert 'goated_upstream_rows_refused_total{reason="uid"} 1.0' in metrics

            conn = await asyncpg.connect(pg_url)
            try:
                stored = dict(await conn.fetch("SELECT uid, name FROM players WHERE monthly > 7000000"))
            finally:
                await conn.close()
            assert stored["NULNAME0000000000000"] == "Danny" and DASHED in stored and LONG_UID not in stored

            upstream.extra = []  # the upstream drops the odd rows: all is well again
            assert (await services.sync.run_once("test")).status == "ok"
            health = (await http.get("/health")).json()["parts"]
            assert health["upstream"]["status"] == "ok" and health["upstream"]["info"]["refused_rows"] == 0


async def test_a_value_the_database_refuses_is_set_aside_and_the_rest_commits(pg_url: str) -> None:
    async with odd_upstream() as (sim, upstream):
        upstream.extra = []
        settings = live_settings(pg_url, sim)
        async with running_app(settings) as (base, services), httpx.AsyncClient(base_url=base) as http:
            assert (await services.sync.run_once("test")).stored
            # A rule of the database's own that the edge does not know (an operator's CHECK):
            # the database refuses that one row for its data, and is up all along.
            conn = await asyncpg.connect(pg_url)
            try:
                await conn.execute("ALTER TABLE players ADD CONSTRAINT no_refused CHECK (name <> 'Refused Name')")
                upstream.extra = [row("REFUSED0000000000000", "Refused Name", 9_000_000), row("FINE0000000000000000", "Fine Name", 8_000_000)]
                result = await services.sync.run_once("test")
                assert result.status == "ok" and result.stored, result
                assert not services.sync.pending  # nothing held, nothing to retry forever
                names = {r["uid"]: r["name"] for r in await conn.fetch("SELECT uid, name FROM players WHERE monthly >= 8000000")}
                assert names == {"FINE0000000000000000": "Fine Name"}
                runs = await conn.fetchval("SELECT count(*) FROM sync_runs WHERE status = 'ok'")
                assert runs == 2

                health = (await http.get("/health")).json()
                database = health["parts"]["database"]
                assert database["status"] == "degraded" and "set aside" in database["detail"]
                assert "REFUSED0000000000000" in database["detail"] and "CheckViolation" in database["detail"]
                # Viewers still see the player: the board in memory is the upstream's.
                top = (await http.get("/api/leaderboard/monthly", params={"limit": 1})).json()["rows"]
                assert top[0]["uid"] == "REFUSED0000000000000"

                # Later syncs write normally; the upstream fixes the name and the row is stored.
                upstream.extra = [row("REFUSED0000000000000", "Fixed Name", 9_000_100), row("FINE0000000000000000", "Fine Name", 8_000_000)]
                assert (await services.sync.run_once("test")).stored
                names = {r["uid"]: r["name"] for r in await conn.fetch("SELECT uid, name FROM players WHERE monthly >= 8000000")}
                assert names == {"FINE0000000000000000": "Fine Name", "REFUSED0000000000000": "Fixed Name"}
                assert (await http.get("/health")).json()["parts"]["database"]["status"] == "ok"
            finally:
                await conn.close()
