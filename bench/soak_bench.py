"""Soak: N viewers held on one `goated serve` through many syncs; the server's RSS at the
start and the end of the run, and every delta delivered.

    nice -n -10 .venv/bin/python -m bench.soak_bench [--clients 10000] [--interval 15] [--syncs 40]

Reuses the fan-out bench's servers and lean load generators (bench/fanout_bench.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from bench.fanout_bench import (
    CHANNEL,
    PY,
    SIM_TOKEN,
    Server,
    Workers,
    free_port,
    goated_env,
    postgres_database,
    raise_fd_limit,
    rss_bytes,
    wait_port,
    wait_synced,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between syncs")
    parser.add_argument("--syncs", type=int, default=40)
    parser.add_argument("--samples", type=int, default=8, help="RSS samples over the run")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--players", type=int, default=2000)
    parser.add_argument("--speed", type=float, default=300.0)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    raise_fd_limit()

    sim_port, port = free_port(), free_port()
    sim = Server("upstream", [PY, "-m", "server", "simulate", "--port", str(sim_port), "--players", str(args.players),
                              "--speed", str(args.speed), "--token", SIM_TOKEN])
    try:
        wait_port(sim, sim_port)
        with postgres_database(args.pg_url) as db_url:
            env = goated_env(db_url, sim_port, args.interval, args.clients)
            server = Server("goated", [PY, "-m", "server", "serve", "--port", str(port)], env)
            subscribe = json.dumps({"op": "subscribe", "channel": CHANNEL}).encode()
            workers = Workers(args.workers, port, "/ws", subscribe, 25.0, False)
            try:
                wait_port(server, port)
                wait_synced(server, port)
                connected = workers.connect(args.clients, args.concurrency)
                held = connected["opened"]
                time.sleep(args.interval)  # one sync with everyone on board, then measure
                workers.collect()
                samples = [(0, rss_bytes(server.pid))]
                delivered = 0
                per_sample = max(1, args.syncs // args.samples)
                done = 0
                while done < args.syncs:
                    chunk = min(per_sample, args.syncs - done)
                    time.sleep(chunk * args.interval)
                    done += chunk
                    server.check()
                    replies = workers.collect()
                    delivered += sum(len(v) for r in replies for v in r["latency"].values())
                    samples.append((done, rss_bytes(server.pid)))
                    print(f"  after {done} syncs: RSS {samples[-1][1] / 2**20:.1f} MiB, {delivered:,} deltas delivered", file=sys.stderr, flush=True)
                closed = sum(r["closed"] for r in workers.collect())
            finally:
                workers.stop()
                server.stop()
    finally:
        sim.stop()

    start, end = samples[0][1], samples[-1][1]
    print(f"### Soak: {held:,} viewers of {CHANNEL}, a sync every {args.interval:g} s, {args.syncs} syncs "
          f"({args.syncs * args.interval / 60:.0f} min; load average {os.getloadavg()[0]:.1f} at the end)\n")
    print("| after syncs | server RSS MiB |")
    print("|---|---|")
    for n, rss in samples:
        print(f"| {n} | {rss / 2**20:.1f} |")
    print(f"\nRSS growth: {(end - start) / start * 100:+.1f} % (goal < 5 %); deltas delivered: {delivered:,} "
          f"(~{held * args.syncs:,} expected); sockets closed by the server: {closed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
