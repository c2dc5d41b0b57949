"""`/metrics` scraped over real HTTP from the real app: the numbers move with syncs, faults,
viewers and requests; the token guards it; two apps in one process keep separate registries."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets
from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from tests.conftest import live_settings, running_app, running_sim


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} from a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(http: httpx.AsyncClient, **headers: str) -> dict:
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"  # one charset
    return samples(response.text)


async def test_a_sync_moves_the_numbers(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        async with httpx.AsyncClient(base_url=base) as http:
            before = await scrape(http)
            assert value(before, "goated_syncs_total", status="ok") == 0
            assert value(before, "goated_upstream_circuit_state", state="closed") == 1

            async with websockets.connect(base.replace("http://", "ws://") + "/ws") as ws:
                await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:monthly"}))
                await asyncio.wait_for(ws.recv(), 5)
                result = await services.sync.run_once("test")
                assert result.status == "ok", result.error
                await asyncio.wait_for(ws.recv(), 5)  # the delta
                during = await scrape(http)

            assert value(during, "goated_websocket_connections") == 1
            assert value(during, "goated_websocket_subscriptions", kind="leaderboard") == 1
            assert value(during, "goated_websocket_messages_total") >= 1  # the delta (snapshots are not broadcasts)
            assert value(during, "goated_websocket_sent_bytes_total") > 100
            assert value(during, "goated_syncs_total", status="ok") == 1
            assert value(during, "goated_sync_duration_seconds_count", stage="total") == 1
            assert value(during, "goated_sync_duration_seconds_count", stage="fetch") == 1
            assert value(during, "goated_sync_duration_seconds_sum", stage="total") > 0
            assert value(during, "goated_upstream_responses_total", status="200") == 1
            assert value(during, "goated_upstream_request_duration_seconds_count") == 1
            assert value(during, "goated_board_version") == result.seq
            assert value(during, "goated_board_players") == 300
            assert 0 <= value(during, "goated_sync_age_seconds") < 30
            assert value(during, "goated_database_writes_ok") == 1
            # Litestar's HTTP metrics, labelled by route template
            assert value(during, "goated_http_requests_total", app_name="goated", method="GET", path="/metrics", status_code="200") >= 1

            # A failing upstream: counted by outcome and by status, retries included.
            r = await http.post(f"{sim.base_url}/_sim/faults", json={"mode": "error", "status": 502, "count": 100})
            assert r.status_code == 200, r.text
            failed = await services.sync.run_once("test")
            assert failed.status == "failed"
            after = await scrape(http)
            assert value(after, "goated_syncs_total", status="failed") == 1
            assert value(after, "goated_upstream_responses_total", status="502") >= 1
            assert value(after, "goated_upstream_consecutive_failures") == 1
            assert value(after, "goated_upstream_attempts_total") > value(during, "goated_upstream_attempts_total")
            assert value(after, "goated_board_version") == result.seq  # the board stays

            # Refused data counts as refused, not failed.
            await http.delete(f"{sim.base_url}/_sim/faults")
            await http.post(f"{sim.base_url}/_sim/faults", json={"mode": "empty", "count": 1})
            refused = await services.sync.run_once("test")
            assert refused.status == "refused"
            assert value(await scrape(http), "goated_syncs_total", status="refused") == 1


async def test_race_transitions_are_counted(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, admin_token="a" * 32)) as (base, services):
        await services.sync.run_once("test")
        assert services.races is not None
        async with httpx.AsyncClient(base_url=base) as http:
            before = value(await scrape(http), "goated_race_transitions_total", to="created")
            from datetime import UTC, datetime, timedelta

            now = datetime.now(UTC)
            race = await services.races.create(
                title="Metrics sprint",
                kind="custom",  # type: ignore[arg-type]
                starts_at=now + timedelta(hours=1),
                ends_at=now + timedelta(hours=2),
                pool_cents=10_000,
                split=[60.0, 40.0],
            )
            await services.races.cancel(race.id)
            scraped = await scrape(http)
            assert value(scraped, "goated_race_transitions_total", to="created") == before + 1
            assert value(scraped, "goated_race_transitions_total", to="cancelled") == 1
            assert value(scraped, "goated_races", status="cancelled") >= 1


async def test_the_metrics_token_guards_the_endpoint(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, metrics_token="m" * 24)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/metrics")).status_code == 401
            assert (await http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
            scraped = await scrape(http, Authorization="Bearer " + "m" * 24)
            assert value(scraped, "goated_info", mode="live", channels="memory") == 1


def test_two_apps_in_one_process_keep_their_own_registries(sqlite_url: str) -> None:
    from server.settings import Settings

    first = create_app(Settings(database_url=sqlite_url))
    second = create_app(Settings(database_url=sqlite_url))
    assert first.state.metrics.registry is not second.state.metrics.registry


async def test_every_line_of_a_sync_carries_its_sync_id(sqlite_url: str) -> None:
    import io
    import logging

    from server import logs

    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("INFO", "json", stream=buffer)
    try:
        async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (_, services):
            async with httpx.AsyncClient() as http:
                await http.post(f"{sim.base_url}/_sim/faults", json={"mode": "error", "status": 503, "count": 1})
            result = await services.sync.run_once("test")
            assert result.status == "ok", result.error
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    retry = [l for l in lines if "retrying" in l["message"]]
    done = [l for l in lines if l["message"].startswith(f"sync {result.run_id} ok")]
    assert retry and done, lines
    assert retry[0]["sync_id"] == done[0]["sync_id"] == result.run_id
    assert set(done[0]["ms"]) >= {"fetch", "rank", "diff", "persist", "publish", "total"}
    assert all("sync_id" not in l for l in lines if "ready" in l["message"])


async def test_the_telegram_outbox_backlog_is_exported(sqlite_url: str) -> None:
    from datetime import UTC, datetime

    from server.telegram.outbox import Outbox, Outgoing

    telegram = {
        "telegram_api_id": 12345,
        "telegram_api_hash": "0123456789abcdef0123456789abcdef",
        "telegram_bot_token": "123456789:AAHk3xQ-very_secret_bot_token_value_42",
        "telegram_bot_in_serve": False,  # nothing sends: the rows stay waiting
    }
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, **telegram)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            assert value(await scrape(http), "goated_telegram_outbox_backlog") == 0
            await Outbox().add([Outgoing(chat="channel", kind="test", text="hello")], datetime.now(UTC))
            scraped = await scrape(http)
    assert value(scraped, "goated_telegram_outbox_backlog") == 1
    assert 0 <= value(scraped, "goated_telegram_outbox_oldest_age_seconds") < 60
