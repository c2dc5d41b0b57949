"""The `goated` command as an operator uses it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import SIM_START, SIM_TOKEN, free_port, running_sim
from tests.demo_serve import running_demo


def goated(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `goated ARGS`. One that outlives `timeout` fails the test with the Python stacks of all
    its threads (faulthandler on SIGABRT) instead of a bare timeout."""
    command = [sys.executable, "-m", "server", *args]
    with subprocess.Popen(
        command, env=(env or dict(os.environ)) | {"PYTHONFAULTHANDLER": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            out, err = proc.communicate()
            pytest.fail(f"goated {' '.join(args)} did not end in {timeout:.0f} s; output:\n{out}\nstacks and log:\n{err}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


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


async def test_simulate_starts_the_world_at_sim_start() -> None:
    port = free_port()
    env = os.environ | {"SIM_START": SIM_START.isoformat()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "simulate", "--port", str(port), "--players", "50", "--speed", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(30), httpx.AsyncClient() as http:
            while True:
                try:
                    state = (await http.get(f"http://127.0.0.1:{port}/_sim/state")).json()
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
        now = datetime.fromisoformat(state["now"])
        assert SIM_START <= now < SIM_START + timedelta(minutes=1)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)


def test_a_malformed_sim_start_names_the_variable() -> None:
    result = goated("simulate", env=os.environ | {"SIM_START": "tomorrow"})
    assert result.returncode == 2 and "SIM_START" in result.stderr


def test_every_command_and_option_says_what_it_does_and_its_default() -> None:
    import argparse

    from server.__main__ import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in commands.choices.items():
        assert parser.description, name
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            assert action.help, (name, action.dest)
            if not isinstance(action, argparse._StoreTrueAction):  # a flag's default is off
                assert "(default: " in action.help, (name, action.dest, action.help)
                if action.default is not None:
                    assert f"(default: {action.default}" in action.help % {"default": action.default}, (name, action.dest)


def test_simulate_help_shows_its_defaults() -> None:
    result = goated("simulate", "--help")
    text = " ".join(result.stdout.split())
    assert result.returncode == 0 and "Serve the simulated Goated upstream" in text
    for shown in ("--host HOST address to listen on (default: 127.0.0.1)", "(default: 8100)", "(default: 2000)", "--seed SEED random seed", "(default: 1)"):
        assert shown in text, shown


def test_sync_once_in_the_demo_says_the_data_is_simulated(tmp_path) -> None:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOATED_", "REDIS_", "ADMIN_"))}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite'}", "SIM_PLAYERS": "40"}
    result = goated("sync", "--once", env=env)
    assert result.returncode == 0, result.stderr
    first, *_, last = result.stdout.splitlines()
    assert first.startswith("goated sync: demo mode (no GOATED_TOKEN): syncing 40 simulated players from the built-in simulator")
    assert str(tmp_path / "demo.sqlite") in first
    assert re.fullmatch(r"sync 1: ok, 40 players, \d+ changes, version 1 \(simulated data\)", last), last


async def test_sync_once_beside_a_running_server_on_sqlite_exits_3(tmp_path: Path) -> None:
    """The server holds the SQLite file's leader lock: a second syncer would write a second
    history beside it (two syncs with one board version). Once the server stops, it may."""
    from tests.demo_serve import demo_env

    async with running_demo(tmp_path) as demo, httpx.AsyncClient(base_url=demo.base, timeout=10) as http:
        sync = (await http.get("/health")).json()["parts"]["sync"]["info"]
        assert sync["leader"] is True and sync["election"] == "file lock"
        result = await asyncio.to_thread(goated, "sync", "--once", env=demo_env(tmp_path))
        assert result.returncode == 3, result.stdout + result.stderr
        assert "a running server is the sync leader" in result.stderr
        assert (await http.get("/health")).json()["parts"]["sync"]["info"]["leader"] is True
    with sqlite3.connect(tmp_path / "demo.sqlite") as db:
        triggers = {row[0] for row in db.execute("SELECT trigger FROM sync_runs")}
        versions = [row[0] for row in db.execute("SELECT seq FROM sync_runs WHERE status = 'ok'")]
    assert "cli" not in triggers and len(versions) == len(set(versions))  # nothing synced beside it
    after = await asyncio.to_thread(goated, "sync", "--once", env=demo_env(tmp_path))
    assert after.returncode == 0, after.stderr
    assert re.search(r"sync \d+: ok, 40 players", after.stdout), after.stdout


async def test_the_demo_prints_a_generated_admin_token_that_opens_the_admin_api(tmp_path) -> None:  # noqa: ANN001
    async with running_demo(tmp_path) as demo, httpx.AsyncClient(base_url=demo.base, timeout=10) as http:
        port = demo.base.rsplit(":", 1)[1]
        assert demo.admin_link == f"http://localhost:{port}/admin#token={demo.token}" and len(demo.token) >= 16
        assert f"Admin token, generated for this run (set ADMIN_TOKEN to choose one): {demo.token}" in demo.printed
        assert any("40 simulated players from the built-in simulator" in line for line in demo.printed)
        assert (await http.get("/api/admin/status")).json() == {"enabled": True, "demo": True}
        assert (await http.post("/api/admin/sync", headers={"Authorization": "Bearer wrong"})).status_code == 401
        synced = await http.post("/api/admin/sync", headers={"Authorization": f"Bearer {demo.token}"})
        assert synced.status_code == 200 and synced.json()["status"] == "ok"


async def test_the_demos_generated_admin_token_opens_every_worker(tmp_path: Path, redis_url: str) -> None:
    """`serve --workers 2` in the demo: the printed token is every worker's (handed to them in
    their environment, never by changing this process's)."""
    import uuid

    from tests.demo_serve import running_demo

    env = {"REDIS_URL": redis_url, "REDIS_PREFIX": f"goated-test:{uuid.uuid4().hex[:8]}"}
    async with running_demo(tmp_path, "--workers", "2", env=env) as demo:
        async with httpx.AsyncClient(base_url=demo.base, headers={"Authorization": f"Bearer {demo.token}"}) as http:
            # SO_REUSEPORT spreads new connections over the workers: each request its own.
            codes = set()
            for _ in range(12):
                r = await http.get("/api/admin/links", headers={"Connection": "close"})
                codes.add(r.status_code)
            assert 401 not in codes, codes
