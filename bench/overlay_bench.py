"""Overlay page weight and time to first rows in headless Chromium, against the real app.

`goated serve` runs in demo mode in its own process (SQLite, the built-in simulated
upstream, syncing every 5 s unless told otherwise), as a streamer's overlay would reach it. Each
run opens /overlay in a fresh browser context (empty cache) and reads when the first rows
were painted (Element Timing's renderTime of the rows the overlay tags `elementtiming`), in ms
since navigation start. Weight is the uncompressed size of every HTML, JS and CSS response the
page loaded. Not a test: see docs/performance.md.

    .venv/bin/python -m bench.overlay_bench --runs 30
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.async_api import Response, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
WEIGHED = {"document", "script", "stylesheet"}
# The paint time of the first rows (Element Timing: the overlay marks them `elementtiming`).
# Read through an observer: wait_for_function would need 'unsafe-eval', which the CSP refuses.
FIRST_ROWS = """() => new Promise((resolve) => {
    new PerformanceObserver((list) => {
        const rows = list.getEntries().filter((e) => e.identifier === "overlay:first-rows");
        if (rows.length) resolve(Math.min(...rows.map((e) => e.renderTime || e.loadTime)));
    }).observe({ type: "element", buffered: true });
})"""


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; load average {load}"


async def measure(base: str, query: str, runs: int) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        print(f"machine: {machine()}; Chromium {browser.version}")
        sizes: dict[str, tuple[int, int]] = {}
        firsts: list[float] = []
        missed: list[str] = []
        for _ in range(runs + 1):
            context = await browser.new_context(viewport={"width": 1920, "height": 1080})
            page = await context.new_page()
            bodies: list[Response] = []
            page.on("response", lambda r: bodies.append(r) if r.request.resource_type in WEIGHED else None)
            await page.goto(f"{base}/overlay{query}")
            try:
                first = await asyncio.wait_for(page.evaluate(FIRST_ROWS), 10)
            except TimeoutError:
                # Reported, never hidden: rows missing, or shown without a paint timing.
                rows = await page.locator("#rows li[data-key]").count()
                missed.append(f"{rows} rows in the DOM")
                await context.close()
                continue
            if not sizes:
                # The first load also warms the server's caches; it is not counted.
                for response in bodies:
                    body = await response.body()
                    sizes[response.url.removeprefix(base)] = (len(body), len(gzip.compress(body, 6)))
            else:
                firsts.append(first)
            await context.close()
        await browser.close()

    total = sum(raw for raw, _ in sizes.values())
    total_gz = sum(gz for _, gz in sizes.values())
    print(f"\n/overlay{query}: page weight (HTML + JS + CSS)\n")
    print("| file | bytes | gzip |\n|---|---:|---:|")
    for url, (raw, gz) in sorted(sizes.items(), key=lambda kv: -kv[1][0]):
        print(f"| {url} | {raw:,} | {gz:,} |")
    print(f"| **total** | **{total:,}** ({total / 1024:.1f} KiB) | {total_gz:,} |")
    firsts.sort()
    p95 = firsts[min(len(firsts) - 1, round(0.95 * (len(firsts) - 1)))]
    print(
        f"\nfirst rows painted, ms after navigation start, {len(firsts)} cold loads: "
        f"min {firsts[0]:.0f}, median {statistics.median(firsts):.0f}, p95 {p95:.0f}, max {firsts[-1]:.0f}"
    )
    print("all:", " ".join(f"{f:.0f}" for f in firsts))
    if missed:
        print(f"NO PAINT TIMING within 10 s in {len(missed)} load(s): {', '.join(missed)}")


@contextmanager
def served(players: int, sync_interval: float) -> Iterator[str]:
    """`goated serve` in demo mode in its own process, as a streamer's overlay would reach it."""
    with tempfile.TemporaryDirectory(prefix="goated-bench-") as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "SIM_PLAYERS": str(players),
            "SIM_SPEED": "1",
            "SYNC_INTERVAL": str(sync_interval),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("GOATED_TOKEN", None)
        env.pop("REDIS_URL", None)
        proc = subprocess.Popen([sys.executable, "-m", "server", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"goated serve exited: {proc.stderr.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"{base}/api/leaderboard/monthly?limit=1", timeout=1).json().get("rows"):
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("goated serve did not sync within 60 s")
                time.sleep(0.2)
            yield base
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--players", type=int, default=2000)
    parser.add_argument("--query", default="?top=10", help="overlay URL options")
    parser.add_argument("--sync-interval", type=float, default=5.0, help="seconds between syncs (demo: 5, live: 900)")
    args = parser.parse_args()
    print(f"goated serve: demo mode, {args.players} players, a sync every {args.sync_interval:g} s")
    with served(args.players, args.sync_interval) as base:
        asyncio.run(measure(base, args.query, args.runs))


if __name__ == "__main__":
    main()
