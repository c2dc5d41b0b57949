"""Builds the Piccolo engine from DATABASE_URL and binds our tables to it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import sqlite3
import sys
import types
from pathlib import Path

import asyncpg
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from server.db.tables import TABLES
from server.errors import ConfigError


log = logging.getLogger(__name__)

# What a dead or refusing database raises through Piccolo, on either engine.
DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def make_engine(url: str) -> Engine:
    # aiosqlite logs every statement with its parameters at DEBUG, secrets included.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteEngine(path=str(path), timeout=30)
    if url.startswith(("postgres://", "postgresql://")):
        return PostgresEngine(config={"dsn": url}, log_queries=False)
    raise ConfigError("DATABASE_URL must start with sqlite:/// or postgresql://")


RUNTIME_CONF = "goated_live_runtime_piccolo_conf"


async def open_engine(url: str) -> Engine:
    """Build the engine off the event loop: Piccolo's engines connect once at
    construction (to check the server version), blocking whatever thread they run on."""
    return await asyncio.to_thread(make_engine, url)


def bind_engine(engine: Engine) -> None:
    """Point every table, Piccolo's own migration table and its config at `engine`.

    Piccolo's migration machinery looks the engine up through the module named by
    PICCOLO_CONF; the app registers one in memory rather than importing
    server/db/piccolo_conf.py (which is for the `piccolo` CLI and reads DATABASE_URL).
    """
    for table in (*TABLES, Migration):
        table._meta.db = engine
    conf = types.ModuleType(RUNTIME_CONF)
    conf.DB = engine  # type: ignore[attr-defined]
    conf.APP_REGISTRY = AppRegistry(apps=["server.db.piccolo_app"])  # type: ignore[attr-defined]
    sys.modules[RUNTIME_CONF] = conf
    os.environ["PICCOLO_CONF"] = RUNTIME_CONF


async def migrate(engine: Engine) -> None:
    """Apply every pending migration (idempotent)."""
    bind_engine(engine)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # Piccolo prints; we log one line instead
        result = await run_forwards(app_name="goated", migration_id="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}\n{printed.getvalue()}")
    ran = [line.strip(" -") for line in printed.getvalue().splitlines() if "[forwards]" in line]
    if ran:
        log.info("applied %d migration(s): %s", len(ran), ", ".join(r.split(" [")[0] for r in ran))


async def open_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=8)


async def close_pool(engine: Engine, timeout: float = 5.0) -> None:
    """Close the pool, giving up on connections an outage left hanging."""
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        try:
            await asyncio.wait_for(engine.pool.close(), timeout)
        except TimeoutError:
            engine.pool.terminate()
        engine.pool = None
