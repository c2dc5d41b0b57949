"""Schemathesis over the whole OpenAPI document, against the real app on loopback: valid and
invalid requests for every operation, none may answer 5xx (bounded integers, odd strings,
missing or wrong bodies). The app's own hand-written fuzzer (test_api_fuzz.py) adds raw garbage."""

from __future__ import annotations

import asyncio

import httpx
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.conftest import live_settings, running_app, running_sim

ADMIN = "schemathesis-admin-token"


def fuzz(document: dict, base: str, mode: GenerationMode, examples: int) -> list[str]:
    """Run in a thread: Schemathesis calls the app with blocking HTTP while its loop serves."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    @given(case=schema.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} {case.query} -> {response.status_code} {response.text[:200]}")

    check()
    return failures


async def test_no_schemathesis_request_gets_a_5xx(sqlite_url: str) -> None:
    async with running_sim() as sim:
        app_settings = live_settings(
            sqlite_url, sim, admin_token=ADMIN, rate_limit_per_minute=100_000, token_key=Fernet.generate_key().decode()
        )
        async with running_app(app_settings) as (base, services), httpx.AsyncClient(base_url=base) as http:
            await services.sync.run_once("test")
            document = (await http.get("/schema/openapi.json")).json()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures = await asyncio.to_thread(fuzz, document, base, mode, 300)
                assert not failures, "\n".join(failures[:10])
