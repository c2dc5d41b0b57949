"""Builds the Piccolo engine from DATABASE_URL, its connection pool, and the errors it raises."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from server.errors import ConfigError


log = logging.getLogger(__name__)

# What a dead or refusing database raises through Piccolo, on either engine.
DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


# What the database raises for a value it refuses (too long, a NUL byte in text, a number out
# of range, a constraint): the fault is in the data, not in the database, which is up. Checked
# before DB_ERRORS, which also covers them.
DATA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
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


async def open_engine(url: str) -> Engine:
    """Build the engine off the event loop: Piccolo's engines connect once at
    construction (to check the server version), blocking whatever thread they run on."""
    return await asyncio.to_thread(make_engine, url)


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
