"""The `goated` command: serve, sync --once, bot, simulate, migrate, doctor."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Mapping
from datetime import datetime

from server.errors import ConfigError
from server.settings import Settings, _mask_url, utc_instant

log = logging.getLogger("goated")


def _settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    try:
        return Settings.from_env(os.environ if env is None else env, **overrides)
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


def _listen(args: argparse.Namespace) -> dict[str, object]:
    """`--host`/`--port` over HOST/PORT: where serve listens, and where doctor looks."""
    return {name: value for name in ("host", "port") if (value := getattr(args, name)) is not None}


def _listen_flags(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--host", help=f"{what.format('address')} (default: HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"{what.format('port')} (default: PORT, else 8000)")


def _demo_admin_token(settings: Settings) -> Settings:
    """The demo's admin API works out of the box: a random ADMIN_TOKEN for this run, unless one is set."""
    import secrets

    import msgspec

    if not settings.demo or settings.admin_token:
        return settings
    token = secrets.token_urlsafe(24)  # 32 characters
    return msgspec.structs.replace(settings, admin_token=token)


def cmd_serve(args: argparse.Namespace) -> int:
    from server.app import create_app

    settings = _settings(**_listen(args))
    _logging(settings)
    generated = settings.demo and not settings.admin_token
    settings = _demo_admin_token(settings)
    if settings.demo:
        log.info("no GOATED_TOKEN: demo mode with the built-in simulated upstream (%d players)", settings.sim_players)
    from server.serve import GoatedServer, reuse_port_socket, supervise_workers, tune_gc, uvicorn_config

    shown = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0") else settings.host
    base = f"http://{shown}:{settings.port}"
    banner = (
        f"\nDemo mode: the boards show {settings.sim_players} simulated players from the built-in simulator, "
        "not Goated's (set GOATED_TOKEN and GOATED_AFFILIATE_CODE to go live)."
        + (
            f"\nAdmin token, generated for this run (set ADMIN_TOKEN to choose one): {settings.admin_token}"
            f"\nAdmin: {base}/admin#token={settings.admin_token}"
            if generated
            else ""
        )
        if settings.demo
        else ""
    )
    if args.workers > 1:
        if not settings.redis_url:
            print("goated serve: --workers needs REDIS_URL, so that every worker hears every event", file=sys.stderr)
            return 2
        print(f"Goated Live: {base} ({args.workers} workers){banner}", flush=True)
        argv = [sys.executable, "-m", "server", "serve", "--host", settings.host, "--port", str(settings.port), "--reuse-port"]
        # Every worker takes the same settings; a token generated for the demo goes with them.
        workers_env = {**os.environ, **({"ADMIN_TOKEN": settings.admin_token} if generated and settings.admin_token else {})}
        return supervise_workers(args.workers, argv, env=workers_env)
    app = create_app(settings)
    server = GoatedServer(uvicorn_config(app, settings), app)
    tune_gc()
    if not args.reuse_port:
        print(f"Goated Live: {base}{banner}", flush=True)
    try:
        server.run(sockets=[reuse_port_socket(settings.host, settings.port)] if args.reuse_port else None)
    except KeyboardInterrupt:
        pass  # Ctrl-C: uvicorn shut down cleanly, then re-raised the signal it handled
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from server.services import running_services

    if not args.once:
        print("goated sync: only --once is supported (the server runs the schedule)", file=sys.stderr)
        return 2
    settings = _settings()
    _logging(settings)
    # The full path: `./dev` runs from the checkout, so a relative one would name the wrong folder.
    where = str(settings.sqlite_path.resolve()) if not settings.is_postgres else _mask_url(settings.database_url)
    if settings.demo:
        print(
            f"goated sync: demo mode (no GOATED_TOKEN): syncing {settings.sim_players} simulated players from the "
            f"built-in simulator into {where}, not Goated's data (set GOATED_TOKEN and GOATED_AFFILIATE_CODE to go live)",
            flush=True,
        )

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
            + (" (simulated data)" if settings.demo else "")
        )
        return 0 if result.status == "ok" else 1

    return asyncio.run(once())


def cmd_simulate(args: argparse.Namespace) -> int:
    from server.upstream.sim_app import serve_sim

    _logging(None)
    # Only SIM_START is read here (the other knobs are flags): a test or a demo can pin the
    # simulated world's first instant instead of taking the wall clock's.
    start = args.start or _settings({"SIM_START": os.environ.get("SIM_START", "")}).sim_start
    print(
        f"simulated upstream: http://{args.host}:{args.port}/affiliate/referral-leaderboard/<code> "
        f"({args.players} players, seed {args.seed}, speed {args.speed}x"
        + (f", from {start.isoformat()}" if start else "")
        + ")",
        flush=True,
    )
    asyncio.run(serve_sim(args.host, args.port, args.players, args.seed, args.speed, args.token, start))
    return 0


def _start_flag(raw: str) -> datetime:
    try:
        return utc_instant(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_migrate(args: argparse.Namespace) -> int:
    from server.db.engine import open_engine
    from server.schema import migrate

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
    text, status = report(asyncio.run(run_checks(os.environ, timeout=args.timeout, only=only, **_listen(args))))
    print(text)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="goated",
        description="Goated Live: live wager leaderboards and race timers. Configured by environment variables "
        "(docs/configuration.md); with no GOATED_TOKEN every command runs the demo on simulated data.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, summary: str, func: Callable[[argparse.Namespace], int], more: str = "") -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=summary, description=f"{summary[0].upper()}{summary[1:]}.{' ' + more if more else ''}")
        cmd.set_defaults(func=func)
        return cmd

    serve = command(
        "serve",
        "run the web server, sync schedule and live channels",
        cmd_serve,
        "Applies migrations first. Without GOATED_TOKEN it is the demo: simulated players from the built-in "
        "simulator, and a generated ADMIN_TOKEN printed with a ready /admin link.",
    )
    _listen_flags(serve, "{} to listen on")
    serve.add_argument(
        "--workers", type=int, default=1,
        help="run N server processes on this port (needs REDIS_URL); one leads the syncs (default: %(default)s)",
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)

    sync = command(
        "sync",
        "run one sync against the upstream and exit",
        cmd_sync,
        "Without GOATED_TOKEN it syncs the built-in simulator's players (simulated data) into DATABASE_URL.",
    )
    sync.add_argument("--once", action="store_true", help="run exactly one sync; exit 1 if it fails (required: the server runs the schedule)")

    sim = command(
        "simulate",
        "serve the simulated Goated upstream on its own port",
        cmd_simulate,
        "Made-up players wagering at a heavy-tailed pace, behind the same API as Goated's affiliate leaderboard: "
        "point GOATED_API_URL at it to try live mode without an account.",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    sim.add_argument("--port", type=int, default=8100, help="port to listen on (default: %(default)s)")
    sim.add_argument("--players", type=int, default=2000, help="referrals to simulate, up to 100000 (default: %(default)s)")
    sim.add_argument("--seed", type=int, default=1, help="random seed: the same seed, the same players and wagers (default: %(default)s)")
    sim.add_argument("--speed", type=float, default=60.0, help="wager rate multiplier, 1 = a real affiliate's pace (default: %(default)s)")
    sim.add_argument("--token", help="require this bearer token, like the real API (default: none, anyone is answered)")
    sim.add_argument(
        "--start", type=_start_flag, help="the simulated world's first instant, ISO-8601 UTC (default: SIM_START, else now)"
    )

    command("migrate", "apply database migrations (serve also does this on start)", cmd_migrate, "Uses DATABASE_URL (default: sqlite:///data/goated.sqlite).")

    command(
        "bot",
        "run the Telegram bot as its own process (mirrors events, answers commands, links accounts)",
        cmd_bot,
        "Runs against the same database and Redis as the servers. Needs TELEGRAM_API_ID, "
        "TELEGRAM_API_HASH and TELEGRAM_BOT_TOKEN; one bot runs per deployment (a lease in the database), "
        "extra ones stand by. See docs/telegram.md.",
    )

    doctor = command(
        "doctor",
        "check the configuration and every service it names; exit 1 if something is broken",
        cmd_doctor,
        "One OK/WARN/FAIL line per check, with the fix. Give it the same environment (and --host/--port) as serve.",
    )
    doctor.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each service (default: %(default)s)")
    doctor.add_argument("--only", help="comma-separated checks to run: config,database,redis,upstream,admin,telegram,port (default: all; config always runs)")
    _listen_flags(doctor, "the {} serve listens on: give doctor the same as serve")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
