"""Secrets at rest and weak settings: the upstream token an admin sets is stored only
encrypted with TOKEN_KEY (Fernet), refused without it; ADMIN_TOKEN has a minimum length."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from server.db.tables import AppState
from server.upstream.token import TOKEN_KEY
from tests.conftest import free_port, live_settings, running_app, running_sim
from tests.unit.test_access_rules import jwt

ADMIN = "admin-secret-for-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
KEY = Fernet.generate_key().decode()


async def stored_value() -> str | None:
    row = await AppState.select(AppState.value).where(AppState.key == TOKEN_KEY).first().run()
    return None if row is None else row["value"]


async def test_the_token_an_admin_sets_is_stored_encrypted_and_read_back_with_the_key(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fresh = jwt((datetime.now(UTC) + timedelta(hours=24)).timestamp())
    stale = jwt((datetime.now(UTC) + timedelta(minutes=30)).timestamp(), session="old")
    async with running_sim(token=fresh) as sim:
        settings = live_settings(database_url, sim, goated_token=stale, admin_token=ADMIN, token_key=KEY)
        async with running_app(settings) as (base, _), httpx.AsyncClient(base_url=base) as http:
            r = await http.put("/api/admin/upstream-token", headers=AUTH, json={"token": fresh})
            assert r.status_code == 200 and r.json()["stored"] is True, r.text
            at_rest = await stored_value()
            assert at_rest is not None and fresh not in at_rest and at_rest.startswith("gAAAAA")
            assert Fernet(KEY.encode()).decrypt(at_rest.encode()).decode() == fresh

        # A restart opens it with the key; a rotated key keeps the old one after a comma.
        rotated = live_settings(database_url, sim, goated_token=stale, admin_token=ADMIN, token_key=f"{Fernet.generate_key().decode()},{KEY}")
        for again in (settings, rotated):
            async with running_app(again) as (_, services):
                assert services.token.token == fresh and services.token.source == "admin"
                assert (await services.sync.run_once("test")).status == "ok"

        # Another key cannot open it: the environment's token is used, and the log says why.
        caplog.set_level(logging.INFO, logger="server.upstream.token")
        other = live_settings(database_url, sim, goated_token=stale, admin_token=ADMIN, token_key=Fernet.generate_key().decode())
        async with running_app(other) as (_, services):
            assert services.token.token == stale and services.token.source == "env"
        assert "does not open with TOKEN_KEY" in caplog.text and fresh not in caplog.text


async def test_without_a_key_the_admin_api_refuses_to_store_the_token(sqlite_url: str) -> None:
    env_token = jwt((datetime.now(UTC) + timedelta(hours=2)).timestamp())
    new = jwt((datetime.now(UTC) + timedelta(hours=24)).timestamp(), session="new")
    async with running_sim(token=env_token) as sim:
        settings = live_settings(sqlite_url, sim, goated_token=env_token, admin_token=ADMIN)
        async with running_app(settings) as (base, services), httpx.AsyncClient(base_url=base) as http:
            r = await http.put("/api/admin/upstream-token", headers=AUTH, json={"token": new})
            assert r.status_code == 503, r.text
            assert "TOKEN_KEY" in r.json()["error"] and "Fernet.generate_key" in r.json()["error"]
            assert services.token.token == env_token and services.token.source == "env"
            assert (await services.sync.run_once("test")).status == "ok"  # still the environment's token
            assert await stored_value() is None
            assert (await http.get("/api/admin/upstream-token", headers=AUTH)).json()["source"] == "env"


async def test_a_token_stored_in_plaintext_by_an_older_version_is_sealed_or_deleted(sqlite_url: str) -> None:
    env_token = jwt((datetime.now(UTC) + timedelta(hours=1, minutes=30)).timestamp())
    legacy = jwt((datetime.now(UTC) + timedelta(hours=20)).timestamp(), session="legacy")
    async with running_sim(token=legacy) as sim:
        keyed = live_settings(sqlite_url, sim, goated_token=env_token, admin_token=ADMIN, token_key=KEY)
        async with running_app(keyed) as (_, services):
            await AppState.insert(AppState(key=TOKEN_KEY, value=legacy, updated_at=datetime.now(UTC))).run()
        async with running_app(keyed) as (_, services):
            assert services.token.token == legacy
            sealed = await stored_value()
            assert sealed is not None and legacy not in sealed
            await AppState.update({AppState.value: legacy}).where(AppState.key == TOKEN_KEY).run()
        # Without a key a plaintext token is not used, and not kept.
        async with running_app(live_settings(sqlite_url, sim, goated_token=env_token, admin_token=ADMIN)) as (_, services):
            assert services.token.token == env_token
            assert await stored_value() is None


def goated(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-m", "server", *args], env=env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"goated {' '.join(args)} started instead of refusing the setting")


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("ADMIN_TOKEN", "Q", "ADMIN_TOKEN must be at least 16 characters"),
        ("ADMIN_TOKEN", "fifteen-chars!!", "ADMIN_TOKEN must be at least 16 characters"),
        ("TOKEN_KEY", "not-a-key-but-secret-ish", "TOKEN_KEY is not valid"),
    ],
)
def test_serve_refuses_weak_or_malformed_secrets_at_start(tmp_path: Path, variable: str, value: str, said: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("ADMIN_TOKEN", "TOKEN_KEY")}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", variable: value, "PORT": str(free_port())}
    result = goated("serve", env=env)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert said in result.stderr and value not in result.stderr
    assert not (tmp_path / "x.sqlite").exists()  # stopped before touching anything
