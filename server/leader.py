"""One sync leader per deployment: only it runs the sync schedule and the race lifecycle.

PostgreSQL deployments hold a session advisory lock (released the moment the leader's
connection dies); single-machine deployments with Redis hold a key with a TTL that the
leader renews; on SQLite without Redis, the processes sharing the database file (the server
and a `goated sync --once` beside it) hold an exclusive lock on a file next to it."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import random
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import asyncpg
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)

UNKNOWN = None  # the lock's keeper cannot be reached: keep the current role until it answers


class Elector(Protocol):
    name: str

    async def try_acquire(self) -> bool | None: ...

    async def still_held(self) -> bool | None: ...

    async def release(self) -> None: ...


class SoloElector:
    """One process, nothing shared: it leads."""

    name = "solo"

    async def try_acquire(self) -> bool:
        return True

    async def still_held(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class FileLockElector:
    """Processes sharing one SQLite file: an exclusive `flock` on `<database>.leader`. The
    kernel frees it when its holder exits, however it exits; a lock is per open file, so
    two apps in one process on the same file are two contenders too."""

    name = "file lock"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def try_acquire(self) -> bool | None:
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return UNKNOWN  # the folder is not writable or gone: the database is no better off
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            return UNKNOWN
        self._fd = fd
        return True

    async def still_held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor of the open file frees the lock
            self._fd = None


class FollowerElector:
    """For processes that must never lead (the Telegram bot): they only follow events."""

    name = "never (follower only)"

    async def try_acquire(self) -> bool:
        return False

    async def still_held(self) -> bool:
        return False

    async def release(self) -> None:
        return None


class PostgresElector:
    name = "postgres advisory lock"

    def __init__(self, dsn: str, key: str) -> None:
        self._dsn = dsn
        self._key = zlib.crc32(key.encode())  # the lock id: one per deployment
        self._conn: asyncpg.Connection | None = None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn, timeout=5)
        return self._conn

    async def try_acquire(self) -> bool | None:
        try:
            conn = await self._connection()
            return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key, timeout=5))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            await self._drop()
            return UNKNOWN

    async def still_held(self) -> bool | None:
        # A session lock lives exactly as long as its connection.
        if self._conn is None or self._conn.is_closed():
            return await self._reacquire()
        try:
            await self._conn.fetchval("SELECT 1", timeout=5)
            return True
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            await self._drop()
            return await self._reacquire()

    async def _reacquire(self) -> bool | None:
        """The connection (and so the lock) was lost: take it again if nobody else has."""
        return await self.try_acquire()

    async def release(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            try:
                await self._conn.fetchval("SELECT pg_advisory_unlock($1)", self._key, timeout=2)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                pass  # closing the connection releases it anyway
        await self._drop()

    async def _drop(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None


class RedisElector:
    """A lock key with a TTL that the leader renews: redis-py's own `Lock` (token-checked
    renew and release, so a leader that lost the key never frees another's)."""

    name = "redis lock"

    def __init__(self, redis: Redis, key: str, ttl: float = 15.0) -> None:
        self._lock = Lock(redis, key, timeout=ttl, blocking=False, thread_local=False)

    async def try_acquire(self) -> bool | None:
        try:
            return await self._lock.acquire()
        except (RedisError, OSError):
            return UNKNOWN

    async def still_held(self) -> bool | None:
        try:
            await self._lock.reacquire()  # the TTL starts over, if the key is still ours
            return True
        except LockError:  # not ours (taken over, or expired), or never taken
            return False
        except (RedisError, OSError):
            return UNKNOWN

    async def release(self) -> None:
        try:
            await self._lock.release()
        except (LockError, RedisError, OSError):
            pass  # not ours any more, or unreachable: the TTL frees it


class Leadership:
    """Campaigns for the lock, and starts/stops the leader's work as the role changes."""

    def __init__(
        self,
        elector: Elector,
        on_elected: Callable[[], Awaitable[None]],
        on_deposed: Callable[[], Awaitable[None]],
        *,
        interval: float = 5.0,
    ) -> None:
        self._elector = elector
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._interval = interval
        self.is_leader = False
        self.changes = 0
        self.last_unknown = False

    @property
    def kind(self) -> str:
        return self._elector.name

    async def run(self) -> None:
        try:
            while True:
                await self.step()
                await asyncio.sleep(self._interval * (0.8 + 0.4 * random.random()))
        finally:
            if self.is_leader:
                await self._elector.release()

    async def step(self) -> None:
        if self.is_leader:
            held = await self._elector.still_held()
            self.last_unknown = held is UNKNOWN
            if held is False:
                self.is_leader = False
                self.changes += 1
                log.warning("lost the sync leadership (%s); stopping the sync schedule", self._elector.name)
                await self._on_deposed()
        else:
            got = await self._elector.try_acquire()
            self.last_unknown = got is UNKNOWN
            if got:
                self.is_leader = True
                self.changes += 1
                log.info("this process is now the sync leader (%s)", self._elector.name)
                try:
                    await self._on_elected()
                except BaseException:
                    # A leader that could not start its work must not keep the lock: give it
                    # back (another replica, or this one's next try, takes it) and say why.
                    self.is_leader = False
                    self.changes += 1
                    await self._elector.release()
                    raise
