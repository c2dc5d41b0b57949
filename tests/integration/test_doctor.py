"""`goated doctor` against real services: PostgreSQL, Redis, the simulated upstream over
HTTP, a closed port, a running server, and the CLI's exit status."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from server.db.engine import close_pool, open_engine
from server.schema import migrate
from server.doctor import Check, migration_ids, report, run_checks
from tests.conftest import SIM_TOKEN, free_port, live_settings, running_app, running_sim

ROOT = Path(__file__).resolve().parents[2]


def jwt(expires: datetime) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'exp': int(expires.timestamp())})}.c2lnbmF0dXJl"


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name.strip(): c for c in checks}


def env(**values: str) -> dict[str, str]:
    """A closed port for the server, so `port` says free rather than finding a stranger."""
    return {"PORT": str(free_port()), **values}


async def test_an_unmigrated_database_fails_until_migrated(pg_url: str) -> None:
    checks = by_name(await run_checks(env(DATABASE_URL=pg_url)))
    assert checks["database"].verdict == "OK"
    assert checks["migrations"].verdict == "FAIL" and "goated migrate" in checks["migrations"].fix
    assert report(list(checks.values()))[1] == 1

    engine = await open_engine(pg_url)
    await migrate(engine)
    await close_pool(engine)
    checks = by_name(await run_checks(env(DATABASE_URL=pg_url)))
    assert checks["migrations"].verdict == "OK"
    assert checks["migrations"].detail == f"all {len(migration_ids())} applied"
    assert checks["last sync"].verdict == "WARN"  # nothing synced yet
    assert checks["upstream"].verdict == "OK" and "demo" in checks["upstream"].detail
    text, status = report(list(checks.values()))
    assert status == 0, text


async def test_closed_ports_fail_with_the_fix(tmp_path: Path) -> None:
    closed = free_port()
    checks = by_name(
        await run_checks(
            env(
                DATABASE_URL=f"postgresql://goated:pw-secret-1@127.0.0.1:{closed}/goated",
                REDIS_URL=f"redis://127.0.0.1:{closed}/0",
            ),
            timeout=2,
        )
    )
    assert checks["database"].verdict == "FAIL" and "unreachable" in checks["database"].detail
    assert "DATABASE_URL" in checks["database"].fix
    assert "pw-secret-1" not in checks["database"].line()
    assert checks["redis"].verdict == "FAIL" and "REDIS_URL" in checks["redis"].fix
    assert "last sync" not in checks


async def test_redis_reachable(redis_url: str, sqlite_url: str) -> None:
    checks = by_name(await run_checks(env(DATABASE_URL=sqlite_url, REDIS_URL=redis_url)))
    assert checks["redis"].verdict == "OK" and "Redis" in checks["redis"].detail
    assert checks["database"].verdict == "WARN"  # the SQLite file does not exist yet


async def test_token_expiry_and_the_upstream_answer(sqlite_url: str) -> None:
    now = datetime.now(UTC)
    expired = jwt(now - timedelta(hours=2))
    async with running_sim(token=expired) as sim:
        base = env(DATABASE_URL=sqlite_url, GOATED_API_URL=sim.base_url, GOATED_AFFILIATE_CODE="TESTCODE")
        checks = by_name(await run_checks({**base, "GOATED_TOKEN": expired}))
        assert checks["token"].verdict == "FAIL" and "expired" in checks["token"].detail
        assert "/api/admin/upstream-token" in checks["token"].fix
        assert checks["upstream"].verdict == "OK" and "300 players" in checks["upstream"].detail
        assert expired not in "\n".join(c.line() for c in checks.values())

        soon = jwt(now + timedelta(minutes=30))
        checks = by_name(await run_checks({**base, "GOATED_TOKEN": soon}))
        assert checks["token"].verdict == "WARN"
        assert checks["upstream"].verdict == "FAIL" and "refused the token" in checks["upstream"].detail

        fresh = jwt(now + timedelta(hours=20))
        assert by_name(await run_checks({**base, "GOATED_TOKEN": fresh}))["token"].verdict == "OK"


async def test_a_running_server_is_asked_for_its_health(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base_url, services):
        async with httpx.AsyncClient() as http:
            await http.post(f"{sim.base_url}/_sim/faults", json={"mode": "unauthorized", "count": 100})
        failed = await services.sync.run_once("test")
        assert failed.status == "failed"
        port = base_url.rsplit(":", 1)[1]
        checks = await run_checks(
            {
                "DATABASE_URL": sqlite_url,
                "GOATED_TOKEN": SIM_TOKEN,
                "GOATED_API_URL": sim.base_url,
                "GOATED_AFFILIATE_CODE": "TESTCODE",
                "PORT": port,
            }
        )
    named = by_name(checks)
    assert named["last sync"].verdict == "WARN" and "401" in named["last sync"].detail
    assert named["upstream"].verdict == "FAIL"
    assert named["port"].verdict == "FAIL"  # /health: down (no board yet, upstream refusing)
    assert f"127.0.0.1:{port} (PORT)" in named["port"].detail
    assert "refused the token" in named["upstream"].detail
    assert named["> upstream"].verdict == "FAIL" and "PUT /api/admin/upstream-token" in named["> upstream"].detail


def test_the_cli_exits_non_zero_and_prints_one_verdict_per_line(tmp_path: Path) -> None:
    closed = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "server", "doctor", "--timeout", "2"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'goated.sqlite'}",
            "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
            "PORT": str(free_port()),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert all(line.split()[0] in {"OK", "WARN", "FAIL"} for line in lines[:-1]), lines
    assert any(line.startswith("FAIL  redis") for line in lines)
    assert lines[-1].startswith("doctor: 1 problem")


def test_a_malformed_variable_is_named() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "doctor"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "PORT": "not-a-port"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL  config     PORT='not-a-port' is not valid")


async def test_the_port_is_the_one_serve_was_given_and_the_check_is_named_as_in_only(sqlite_url: str) -> None:
    """`serve --port P` with no PORT: `doctor --port P` finds that server, and names the line `port`."""
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base_url, services):
        await services.sync.run_once("test")
        port = int(base_url.rsplit(":", 1)[1])
        live = {"DATABASE_URL": sqlite_url, "GOATED_TOKEN": SIM_TOKEN, "GOATED_API_URL": sim.base_url, "GOATED_AFFILIATE_CODE": "TESTCODE"}
        checks = await run_checks(live, only=["port"], port=port)
        assert [c.name for c in checks] == ["config", "port"]
        assert checks[1].verdict == "OK" and f"Goated Live server runs on 127.0.0.1:{port} (--port)" in checks[1].detail

        result = await asyncio.to_thread(  # the app serves on this loop meanwhile
            subprocess.run,
            [sys.executable, "-m", "server", "doctor", "--only", "port", "--port", str(port)],
            cwd=ROOT, env={"PATH": os.environ.get("PATH", ""), **live}, capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert any(line.startswith("OK    port ") and f":{port} (--port)" in line for line in result.stdout.splitlines()), result.stdout

        # A demo configuration finding this live server says it is someone else's.
        stranger = by_name(await run_checks({"DATABASE_URL": sqlite_url}, only=["port"], port=port))
        assert stranger["port"].verdict == "WARN" and "another deployment" in stranger["port"].detail


async def test_the_default_port_says_where_it_came_from() -> None:
    free = free_port()
    checks = by_name(await run_checks({"PORT": str(free)}, only=["port"]))
    assert checks["port"].verdict == "OK" and f":{free} (PORT) is free" in checks["port"].detail
    checks = by_name(await run_checks({}, only=["port"], port=free))
    assert f":{free} (--port) is free" in checks["port"].detail


async def test_live_mode_warns_when_the_affiliate_code_is_the_default(sqlite_url: str) -> None:
    live = {"DATABASE_URL": sqlite_url, "GOATED_TOKEN": "a-token", "PORT": str(free_port())}
    defaulted = by_name(await run_checks(live, only=["config"]))["config"]
    assert defaulted.verdict == "WARN" and "GOATED_AFFILIATE_CODE is unset" in defaulted.detail
    assert "GOATED_AFFILIATE_CODE" in defaulted.fix
    assert by_name(await run_checks({**live, "GOATED_AFFILIATE_CODE": "MINE"}, only=["config"]))["config"].verdict == "OK"
    demo = by_name(await run_checks({"DATABASE_URL": sqlite_url}, only=["admin"]))
    assert demo["config"].verdict == "OK"  # the demo needs no affiliate code
    assert demo["admin"].verdict == "OK" and "goated serve generates one" in demo["admin"].detail


def test_doctor_reads_the_stored_token_the_way_the_server_does() -> None:
    """The token an admin stores is sealed with TOKEN_KEY: doctor opens it with the key, and
    without the key (or for a plaintext one from an older version) checks GOATED_TOKEN."""
    from cryptography.fernet import Fernet

    from server.doctor import _effective_token
    from server.settings import Settings
    from server.token_key import TokenCipher

    key = Fernet.generate_key().decode()
    env_token = jwt(datetime(2026, 11, 30, tzinfo=UTC))
    stored = jwt(datetime(2026, 12, 1, tzinfo=UTC))  # newer: the server would prefer it
    sealed = TokenCipher.from_setting(key).seal(stored)  # type: ignore[union-attr]
    with_key = Settings(goated_token=env_token, token_key=key)
    without = Settings(goated_token=env_token)
    assert _effective_token(with_key, sealed) == (stored, "the token an admin set (stored in the database)")
    assert _effective_token(without, sealed) == (env_token, "GOATED_TOKEN")
    assert _effective_token(with_key, stored) == (env_token, "GOATED_TOKEN")  # plaintext: never used
    other = Settings(goated_token=env_token, token_key=Fernet.generate_key().decode())
    assert _effective_token(other, sealed) == (env_token, "GOATED_TOKEN")  # a key that does not open it


async def test_a_stranger_on_the_port_is_named_plainly() -> None:
    """Another program answers the port with HTML: doctor says so in words, not a parser error."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b"<html>not us</html>"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        check = by_name(await run_checks({}, only=["port"], port=port))["port"]
    finally:
        server.close()
        await server.wait_closed()
    assert check.verdict == "FAIL"
    assert check.detail == f"127.0.0.1:{port} (--port) is taken by another program (its /health is not JSON)"
