"""Builds the Piccolo engine from DATABASE_URL and binds our tables to it."""

from __future__ import annotations

import importlib
import os
import sqlite3
from pathlib import Path

import asyncpg
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from server.db.tables import TABLES
from server.errors import ConfigError

PICCOLO_CONF = "server.db.piccolo_conf"

# What a dead or refusing database raises through Piccolo, on either engine.
DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteEngine(path=str(path), timeout=30)
    if url.startswith(("postgres://", "postgresql://")):
        return PostgresEngine(config={"dsn": url}, log_queries=False)
    raise ConfigError("DATABASE_URL must start with sqlite:/// or postgresql://")


def bind_engine(engine: Engine) -> None:
    """Point every table, Piccolo's own migration table and its config at `engine`."""
    for table in (*TABLES, Migration):
        table._meta.db = engine
    os.environ.setdefault("PICCOLO_CONF", PICCOLO_CONF)
    conf = importlib.import_module(PICCOLO_CONF)
    conf.DB = engine


async def migrate(engine: Engine) -> None:
    """Apply every pending migration (idempotent)."""
    bind_engine(engine)
    result = await run_forwards(app_name="goated", migration_id="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")


async def open_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=8)


async def close_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()
