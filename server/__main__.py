"""The `goated` command: serve, sync --once, bot, simulate, migrate, doctor."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from server.errors import ConfigError
from server.settings import Settings

log = logging.getLogger("goated")


def _settings(**overrides: object) -> Settings:
    try:
        return Settings.from_env(os.environ, **overrides)
    except ConfigError as exc:
        print(f"goated: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _logging(settings: Settings | None) -> None:
    """Every command logs through server/logs.py: LOG_LEVEL, LOG_FORMAT, secrets masked."""
    from server import logs

    if settings is None:
        logs.configure("INFO")
    else:
        logs.configure_from(settings)


def cmd_serve(args: argparse.Namespace) -> int:
    from server.app import create_app

    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    settings = _settings(**overrides)
    _logging(settings)
    if settings.demo:
        log.info("no GOATED_TOKEN: demo mode with the built-in simulated upstream (%d players)", settings.sim_players)
    from server.serve import GoatedServer, reuse_port_socket, supervise_workers, tune_gc, uvicorn_config

    shown = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0") else settings.host
    if args.workers > 1:
        if not settings.redis_url:
            print("goated serve: --workers needs REDIS_URL, so that every worker hears every event", file=sys.stderr)
            return 2
        print(f"Goated Live: http://{shown}:{settings.port} ({args.workers} workers)", flush=True)
        argv = [sys.executable, "-m", "server", "serve", "--host", settings.host, "--port", str(settings.port), "--reuse-port"]
        return supervise_workers(args.workers, argv)
    app = create_app(settings)
    server = GoatedServer(uvicorn_config(app, settings), app)
    tune_gc()
    if args.reuse_port:
        server.run(sockets=[reuse_port_socket(settings.host, settings.port)])
    else:
        print(f"Goated Live: http://{shown}:{settings.port}", flush=True)
        server.run()
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from server.services import running_services

    if not args.once:
        print("goated sync: only --once is supported (the server runs the schedule)", file=sys.stderr)
        return 2
    settings = _settings()
    _logging(settings)

    async def once() -> int:
        async with running_services(settings, schedule=False) as services:
            if not services.is_leader:
                print(
                    "goated sync: a running server is the sync leader; ask it instead "
                    "(POST /api/admin/sync) or stop it first",
                    file=sys.stderr,
                )
                return 3
            result = await services.sync.run_once("cli")
        print(
            f"sync {result.run_id}: {result.status}"
            + (f", {result.players} players, {result.changes} changes, version {result.seq}" if result.status == "ok" else f": {result.error}")
        )
        return 0 if result.status == "ok" else 1

    return asyncio.run(once())


def cmd_simulate(args: argparse.Namespace) -> int:
    from server.upstream.sim_app import serve_sim

    _logging(None)
    print(
        f"simulated upstream: http://{args.host}:{args.port}/affiliate/referral-leaderboard/<code> "
        f"({args.players} players, seed {args.seed}, speed {args.speed}x)",
        flush=True,
    )
    asyncio.run(serve_sim(args.host, args.port, args.players, args.seed, args.speed, args.token))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from server.db.engine import migrate, open_engine

    settings = _settings()
    _logging(settings)

    async def run() -> None:
        await migrate(await open_engine(settings.database_url))

    asyncio.run(run())
    return 0


def cmd_bot(args: argparse.Namespace) -> int:
    """The Telegram bot as its own process, against the same database (and Redis)."""
    import signal

    from server.services import running_services

    settings = _settings()
    _logging(settings)
    if not settings.telegram_enabled:
        print(
            "goated bot: Telegram is not configured: set TELEGRAM_API_ID, TELEGRAM_API_HASH and TELEGRAM_BOT_TOKEN "
            "(see docs/telegram.md)",
            file=sys.stderr,
        )
        return 2

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # No sync schedule here: the servers sync; this process follows their events.
        async with running_services(settings, schedule=False, lead=False, bot=True):
            log.info("goated bot running (channel %s, %d admin(s))", settings.telegram_channel or "not set", len(settings.telegram_admin_ids))
            await stop.wait()
        log.info("goated bot stopped")

    asyncio.run(run())
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from server.doctor import GROUPS, report, run_checks

    only = [name.strip() for name in args.only.split(",")] if args.only else None
    unknown = sorted(set(only or ()) - set(GROUPS))
    if unknown:
        print(f"goated doctor: unknown check(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}", file=sys.stderr)
        return 2
    text, status = report(asyncio.run(run_checks(os.environ, timeout=args.timeout, only=only)))
    print(text)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="goated",
        description="Goated Live: live wager leaderboards and race timers. Configured by environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server, sync schedule and live channels")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1, or HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000, or PORT)")
    serve.add_argument(
        "--workers", type=int, default=1, help="run N server processes on this port (needs REDIS_URL); one leads the syncs"
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)

    sync = sub.add_parser("sync", help="run one sync against the upstream and exit")
    sync.add_argument("--once", action="store_true", help="run exactly one sync; exit 1 if it fails")
    sync.set_defaults(func=cmd_sync)

    sim = sub.add_parser("simulate", help="serve the simulated Goated upstream on its own port")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8100)
    sim.add_argument("--players", type=int, default=2000, help="referrals to simulate (up to 100000)")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--speed", type=float, default=60.0, help="wager rate multiplier (1 = a real affiliate's pace)")
    sim.add_argument("--token", help="require this bearer token, like the real API")
    sim.set_defaults(func=cmd_simulate)

    mig = sub.add_parser("migrate", help="apply database migrations (serve also does this on start)")
    mig.set_defaults(func=cmd_migrate)

    bot = sub.add_parser(
        "bot",
        help="run the Telegram bot as its own process (mirrors events, answers commands, links accounts)",
        description="Run the Telegram bot against the same database and Redis as the servers. Needs TELEGRAM_API_ID, "
        "TELEGRAM_API_HASH and TELEGRAM_BOT_TOKEN; one bot runs per deployment (a lease in the database), "
        "extra ones stand by. See docs/telegram.md.",
    )
    bot.set_defaults(func=cmd_bot)

    doctor = sub.add_parser("doctor", help="check the configuration and every service it names; exit 1 if something is broken")
    doctor.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each service")
    doctor.add_argument("--only", help="comma-separated checks to run: config,database,redis,upstream,admin,telegram,port")
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
