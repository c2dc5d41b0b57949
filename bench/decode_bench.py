"""Decode at 100,000 rows: the upstream edge's row rules against the decode before them.

    .venv/bin/python -m bench.decode_bench [--base <git rev>]

The old decode is taken from git (default: the commit before the row rules) and run on the
same body in the same process; only the ratio means anything on a shared machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from server.upstream.contract import decode as new_decode
from server.upstream.simulator import Simulation

ROOT = Path(__file__).resolve().parents[1]


def old_decoder(rev: str):  # noqa: ANN201
    source = subprocess.run(["git", "show", f"{rev}:server/upstream/contract.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_contract.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_contract", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["old_contract"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.decode


def median_seconds(decode, body: bytes, runs: int = 7) -> float:  # noqa: ANN001
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        decode(body)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="c07a7fd", help="git revision of the old decode (default: c07a7fd)")
    parser.add_argument("--players", type=int, default=100_000, help="rows in the body (default: 100000)")
    args = parser.parse_args()
    old = old_decoder(args.base)
    body = Simulation(players=args.players, seed=1, start=datetime(2026, 11, 18, 15, 30, tzinfo=UTC), speed=0).payload()
    for round_ in (1, 2):
        before, after = median_seconds(old, body), median_seconds(new_decode, body)
        print(f"round {round_}: {args.players:,} rows: old decode {before * 1000:.0f} ms, "
              f"new decode+clean {after * 1000:.0f} ms, ratio {after / before:.2f}")


if __name__ == "__main__":
    main()
