"""The SQLite leader lock (server/leader.py FileLockElector): one holder per database file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from server.leader import FileLockElector


async def test_one_holder_per_file_until_it_lets_go(tmp_path: Path) -> None:
    lock = tmp_path / "goated.sqlite.leader"
    a, b = FileLockElector(lock), FileLockElector(lock)
    assert await a.try_acquire() is True
    assert await b.try_acquire() is False  # another open file, even in this process
    assert await a.still_held() is True and await b.still_held() is False
    assert await a.try_acquire() is True  # asking again keeps it
    await a.release()
    assert await a.still_held() is False
    assert await b.try_acquire() is True
    assert await a.try_acquire() is False
    await b.release()


async def test_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "goated.sqlite.leader"
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import asyncio, sys; from pathlib import Path; from server.leader import FileLockElector\n"
            f"e = FileLockElector(Path({str(lock)!r}))\n"
            "assert asyncio.run(e.try_acquire()) is True\n"
            "print('held', flush=True); sys.stdin.read()\n"
        )],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        mine = FileLockElector(lock)
        assert await mine.try_acquire() is False
        os.kill(holder.pid, signal.SIGKILL)  # no goodbye
        holder.wait(10)
        assert await mine.try_acquire() is True
        await mine.release()
    finally:
        holder.kill()
        holder.wait(10)


async def test_an_unwritable_folder_is_unknown_not_a_crash(tmp_path: Path) -> None:
    elector = FileLockElector(tmp_path / "missing-folder" / "goated.sqlite.leader")
    assert await elector.try_acquire() is None  # UNKNOWN: keep the current role, say so in /health
