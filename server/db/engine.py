"""Builds the Piccolo engine from DATABASE_URL, its connection pool, and the errors it raises."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import asyncpg
import aiosqlite
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

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


class ClosingSQLiteTransaction(SQLiteTransaction):
    """Piccolo's SQLite transaction, closing its connection on every way out.

    Piccolo's leaves the connection open when BEGIN, COMMIT or ROLLBACK raises, or is cancelled
    (a task stopped mid-write at shutdown). An open aiosqlite connection keeps a non-daemon
    thread waiting for work, and the interpreter waits for it at exit: `goated sync --once`
    printed its result and never ended (CI saw it twice; the stacks showed `threading._shutdown`
    waiting on aiosqlite's worker). Same as Piccolo 1.38 otherwise.
    """

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            await self.begin()
        except BaseException:
            await self.connection.close()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type, exception, traceback) -> bool:  # type: ignore[no-untyped-def]
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:  # the caller may have rolled back itself
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            # aiosqlite stops the connection's thread even if this close is cancelled too.
            await self.connection.close()
            self.engine.current_transaction.reset(self.context)
        return exception is None


class ClosingSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine whose connections and transactions are closed on every path
    (`ClosingSQLiteTransaction` says why)."""

    async def get_connection(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(**self.connection_kwargs)
        try:
            connection.row_factory = dict_factory  # type: ignore[assignment]
            await connection.execute("PRAGMA foreign_keys = 1")
        except BaseException:
            await connection.close()
            raise
        return connection

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        return ClosingSQLiteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)


def make_engine(url: str) -> Engine:
    # aiosqlite logs every statement with its parameters at DEBUG, secrets included.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return ClosingSQLiteEngine(path=str(path), timeout=30)
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
