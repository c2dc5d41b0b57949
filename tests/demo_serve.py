"""`goated serve` as a newcomer runs it: nothing configured (the demo), in its own process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import SIM_START, free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Demo:
    base: str  # where it listens
    printed: list[str]  # what it printed, up to its admin link

    @property
    def admin_link(self) -> str:
        return next(line for line in self.printed if line.startswith("Admin: ")).removeprefix("Admin: ")

    @property
    def token(self) -> str:
        return self.admin_link.split("#token=", 1)[1]


def demo_env(folder: Path) -> dict[str, str]:
    """No GOATED_/REDIS_/ADMIN_ variables, as after a fresh clone; the database in `folder`;
    the simulated world from SIM_START, so what data exists does not depend on the hour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOATED_", "REDIS_", "ADMIN_", "HOST", "PORT"))}
    return env | {"DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite'}", "SIM_PLAYERS": "40", "SIM_START": SIM_START.isoformat()}


@asynccontextmanager
async def running_demo(folder: Path, *extra: str, env: dict[str, str] | None = None) -> AsyncIterator[Demo]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port), *extra],
        cwd=ROOT, env=demo_env(folder) | (env or {}), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    try:
        printed: list[str] = []
        async with asyncio.timeout(60):
            while not any(line.startswith("Admin: ") for line in printed):
                line = await asyncio.to_thread(proc.stdout.readline)
                assert line, f"goated serve exited: {printed}"
                printed.append(line.rstrip("\n"))
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient() as http:
                while True:
                    try:
                        if (await http.get(f"{base}/api/admin/status")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)
            # The answer must be this server's: one that lost its port has exited by now.
            assert proc.poll() is None, f"goated serve exited with {proc.returncode}: {printed}"
        yield Demo(base, printed)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 15)
        proc.stdout.close()
