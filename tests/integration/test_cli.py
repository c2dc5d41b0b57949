"""The `goated` command as an operator uses it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from tests.conftest import SIM_TOKEN, running_sim


def goated(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args], env=env or dict(os.environ), capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", [[], ["serve"], ["sync"], ["simulate"], ["migrate"]])
def test_help(command: list[str]) -> None:
    result = goated(*command, "--help")
    assert result.returncode == 0 and "usage: goated" in result.stdout


def test_a_malformed_setting_names_the_variable() -> None:
    result = goated("migrate", env=os.environ | {"SYNC_INTERVAL": "often"})
    assert result.returncode == 2 and "SYNC_INTERVAL" in result.stderr


async def test_sync_once_exits_by_outcome(tmp_path) -> None:  # noqa: ANN001
    async with running_sim() as sim:
        env = os.environ | {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
            "GOATED_TOKEN": SIM_TOKEN,
            "GOATED_API_URL": sim.base_url,
            "SYNC_INTERVAL": "5",
        }
        env.pop("REDIS_URL", None)
        ok = await asyncio.to_thread(goated, "sync", "--once", env=env)
        assert ok.returncode == 0, ok.stderr
        assert ": ok, 300 players" in ok.stdout
        async with httpx.AsyncClient() as http:
            await http.post(f"{sim.base_url}/_sim/faults", json={"mode": "unauthorized"})
        failed = await asyncio.to_thread(goated, "sync", "--once", env=env)
        assert failed.returncode == 1 and "token expired or revoked" in failed.stdout
