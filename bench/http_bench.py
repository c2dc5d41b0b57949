"""Requests/s of `GET /api/leaderboard/monthly?limit=100` served from memory by one
`goated serve` worker, against a plain Litestar handler returning the same bytes (the
ceiling), both measured with wrk in the same run.

    .venv/bin/python -m bench.http_bench [--seconds 10] [--rounds 3] [--connections 64]

Needs `wrk` (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60.0, check=lambda body: True) -> bytes:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                body = r.read()
                if check(body):
                    return body
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout} s")


def start(stack: ExitStack, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    stack.callback(stop)
    return proc


def wrk(url: str, seconds: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        sim_port, app_port, ceiling_port = free_port(), free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        start(stack, [PY, "-m", "server", "simulate", "--port", str(sim_port), "--players", "2000", "--token", "bench"], env)
        wait_for(f"http://127.0.0.1:{sim_port}/_sim/state")
        app_env = env | {
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite",
            "GOATED_TOKEN": "bench",
            "GOATED_API_URL": f"http://127.0.0.1:{sim_port}",
            "SYNC_INTERVAL": "900",  # one sync at start, none while measuring
            "PORT": str(app_port),
            "RATE_LIMIT_PER_MINUTE": os.environ.get("BENCH_RATE_LIMIT", "0"),
            "LOG_LEVEL": "WARNING",
        }
        start(stack, [PY, "-m", "server", "serve"], app_env)
        url = f"http://127.0.0.1:{app_port}/api/leaderboard/monthly?limit=100"
        body = wait_for(url, check=lambda b: b'"rows":[{' in b)
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(body)
        ceiling_env = env | {"HTTP_CEILING_BODY": str(body_file)}
        start(
            stack,
            [PY, "-m", "uvicorn", "bench.http_ceiling:app", "--port", str(ceiling_port), "--log-level", "warning",
             "--no-access-log", "--ws-per-message-deflate", "false"],
            ceiling_env,
        )
        ceiling_url = f"http://127.0.0.1:{ceiling_port}/api/leaderboard/monthly?limit=100"
        wait_for(ceiling_url)

        ours, ceiling = [], []
        for _ in range(args.rounds):  # alternate, so machine noise hits both alike
            ours.append(wrk(url, args.seconds, args.connections))
            ceiling.append(wrk(ceiling_url, args.seconds, args.connections))
        load = os.getloadavg()[0]
        a, b = statistics.median(ours), statistics.median(ceiling)
        print(f"### HTTP: GET /api/leaderboard/monthly?limit=100 ({len(body):,} bytes), 1 worker, wrk -t2 -c{args.connections} -d{args.seconds}s x {args.rounds} (load average {load:.1f})\n")
        print("| server | requests/s (median) | runs |")
        print("|---|---|---|")
        print(f"| goated serve (metrics, headers; rate limit {'off' if app_env['RATE_LIMIT_PER_MINUTE'] == '0' else app_env['RATE_LIMIT_PER_MINUTE'] + '/min'}) | {a:,.0f} | {', '.join(f'{x:,.0f}' for x in ours)} |")
        print(f"| plain Litestar constant (ceiling) | {b:,.0f} | {', '.join(f'{x:,.0f}' for x in ceiling)} |")
        print(f"\nratio: {a / b:.2f} of the ceiling")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
