"""`goated doctor`: checks the configuration and every dependency it names; one verdict a line,
each with the fix."""

from __future__ import annotations

import asyncio
import errno
import json
import re
import socket
import sqlite3
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
from cryptography.fernet import InvalidToken
from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.errors import (
    ConfigError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamPayloadError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from server.logs import protect, secrets
from server.settings import Settings, _mask_url
from server.token_key import TokenCipher, is_sealed
from server.upstream.token import TOKEN_KEY, WARN_BEFORE, jwt_expiry

Verdict = Literal["OK", "WARN", "FAIL"]
ROTATE = "get a new token from Goated, then PUT it to /api/admin/upstream-token (ADMIN_TOKEN), or set GOATED_TOKEN and restart"


@dataclass(frozen=True, slots=True)
class Check:
    verdict: Verdict
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.verdict:<5} {self.name:<10} {self.detail}"
        if self.fix:
            text += f" -> fix: {self.fix}"
        return secrets(text)


@dataclass(slots=True)
class DatabaseFacts:
    """What the database check learnt that later checks use."""

    reachable: bool = False
    stored_token: str | None = None
    last_run: dict[str, Any] | None = None
    last_ok: dict[str, Any] | None = None


def migration_ids(folder: Path | None = None) -> set[str]:
    """The IDs of the migration files shipped with this code (read, not imported)."""
    if folder is None:
        from server.schema import APP_CONFIG

        folder = Path(APP_CONFIG.migrations_folder_path)
    ids = set()
    for path in folder.glob("*.py"):
        match = re.search(r'^ID\s*=\s*["\']([^"\']+)["\']', path.read_text(), re.MULTILINE)
        if match:
            ids.add(match.group(1))
    return ids


GROUPS = ("config", "database", "redis", "upstream", "admin", "telegram", "port")


async def run_checks(
    env: Mapping[str, str],
    *,
    timeout: float = 5.0,
    only: Collection[str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    host: str | None = None,
    port: int | None = None,
) -> list[Check]:
    """Every check in GROUPS order, or those named in `only` (config always runs).

    `host` and `port` are `goated serve`'s flags: given, they win over HOST and PORT as they
    do for serve, so the port check looks where the server was told to listen.
    """
    wanted = set(GROUPS if only is None else only)
    listen = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    try:
        settings = Settings.from_env(env, **listen)
    except ConfigError as exc:
        return [Check("FAIL", "config", str(exc), "correct that variable (docs/configuration.md lists them all)")]
    protect(settings)
    checks = [_config(settings, env)]
    facts = DatabaseFacts()
    if wanted & {"database", "upstream"}:  # the upstream check wants a token an admin stored
        found = await _database(settings, facts, timeout)
        if "database" in wanted:
            checks += found
            if facts.reachable:
                checks.append(_last_sync(settings, facts, now()))
    if "redis" in wanted:
        checks.append(await _redis(settings, timeout))
    if "upstream" in wanted:
        checks += await _upstream(settings, facts, timeout, now())
    if "admin" in wanted:
        checks.append(_admin(settings))
    if "telegram" in wanted:
        checks.append(_telegram(settings))
    if "port" in wanted:
        source = "--port" if port is not None else "PORT" if (env.get("PORT") or "").strip() else "the default; PORT unset"
        checks += await _port(settings, source, timeout)
    return checks


def _config(settings: Settings, env: Mapping[str, str]) -> Check:
    mode = "demo mode (no GOATED_TOKEN: built-in simulated upstream)" if settings.demo else f"live mode, affiliate {settings.affiliate_code}"
    kind = "PostgreSQL" if settings.is_postgres else "SQLite"
    channels = "Redis" if settings.redis_url else "in-process channels"
    summary = f"{mode}; sync every {settings.interval:.0f} s; {kind}; {channels}"
    if not settings.demo and not (env.get("GOATED_AFFILIATE_CODE") or "").strip():
        return Check(
            "WARN",
            "config",
            f"{summary}: GOATED_AFFILIATE_CODE is unset, so the default code {settings.affiliate_code} is used, not yours",
            "set GOATED_AFFILIATE_CODE to your affiliate code (goated.com, Affiliate > Referral code)",
        )
    return Check("OK", "config", summary)


# ---- database ------------------------------------------------------------------------


async def _database(settings: Settings, facts: DatabaseFacts, timeout: float) -> list[Check]:
    where = _mask_url(settings.database_url)
    if settings.is_postgres:
        try:
            conn = await asyncpg.connect(settings.database_url, timeout=timeout)
        except asyncpg.InvalidPasswordError:
            return [Check("FAIL", "database", f"PostgreSQL at {where} refused the user or password", "correct DATABASE_URL's user and password")]
        except asyncpg.InvalidCatalogNameError:
            name = settings.database_url.rsplit("/", 1)[-1].split("?")[0]
            return [Check("FAIL", "database", f"PostgreSQL at {where}: database {name!r} does not exist", f"create it (createdb {name}), then goated migrate")]
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            return [Check("FAIL", "database", f"PostgreSQL at {where} unreachable: {_why(exc)}", "start PostgreSQL, or correct DATABASE_URL's host and port")]
        try:
            rows = await _pg_facts(conn)
        finally:
            await conn.close()
    else:
        path = settings.sqlite_path
        if not path.exists():
            return [Check("WARN", "database", f"SQLite file {path} does not exist yet", "goated migrate (or serve) creates it; check the path if you expected data")]
        try:
            rows = await asyncio.to_thread(_sqlite_facts, path)
        except sqlite3.Error as exc:
            return [Check("FAIL", "database", f"SQLite file {path} unreadable: {exc}", "check the file's permissions; restore it from a backup if it is corrupt")]
    facts.reachable = True
    applied, facts.stored_token, facts.last_run, facts.last_ok = rows
    kind = "PostgreSQL" if settings.is_postgres else "SQLite"
    shipped = migration_ids()
    missing, unknown = shipped - applied, applied - shipped
    checks = [Check("OK", "database", f"{kind} at {where} reachable")]
    if missing:
        checks.append(Check("FAIL", "migrations", f"{len(missing)} of {len(shipped)} migrations not applied", "goated migrate (serve also applies them when it starts)"))
    elif unknown:
        checks.append(Check("WARN", "migrations", f"the database has {len(unknown)} migration(s) this code does not know: a newer version ran against it", "run the newest release (downgrading needs a backup from before the upgrade)"))
    else:
        checks.append(Check("OK", "migrations", f"all {len(shipped)} applied"))
    return checks


_LAST_RUN = "SELECT id, status, started_at, finished_at, error FROM sync_runs {where} ORDER BY id DESC LIMIT 1"


async def _pg_facts(conn: asyncpg.Connection) -> tuple[set[str], str | None, dict | None, dict | None]:
    if not await conn.fetchval("SELECT to_regclass('public.migration') IS NOT NULL"):
        return set(), None, None, None
    applied = {r["name"] for r in await conn.fetch("SELECT name FROM migration WHERE app_name = 'goated'")}
    token = last = last_ok = None
    if await conn.fetchval("SELECT to_regclass('public.app_state') IS NOT NULL"):
        token = await conn.fetchval("SELECT value FROM app_state WHERE key = $1", TOKEN_KEY)
    if await conn.fetchval("SELECT to_regclass('public.sync_runs') IS NOT NULL"):
        row = await conn.fetchrow(_LAST_RUN.format(where=""))
        last = dict(row) if row else None
        row = await conn.fetchrow(_LAST_RUN.format(where="WHERE status = 'ok'"))
        last_ok = dict(row) if row else None
    return applied, token, last, last_ok


def _sqlite_facts(path: Path) -> tuple[set[str], str | None, dict | None, dict | None]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "migration" not in tables:
            return set(), None, None, None
        applied = {r[0] for r in conn.execute("SELECT name FROM migration WHERE app_name = 'goated'")}
        token = last = last_ok = None
        if "app_state" in tables:
            row = conn.execute("SELECT value FROM app_state WHERE key = ?", (TOKEN_KEY,)).fetchone()
            token = row[0] if row else None
        if "sync_runs" in tables:
            row = conn.execute(_LAST_RUN.format(where="")).fetchone()
            last = dict(row) if row else None
            row = conn.execute(_LAST_RUN.format(where="WHERE status = 'ok'")).fetchone()
            last_ok = dict(row) if row else None
        return applied, token, last, last_ok
    finally:
        conn.close()


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _last_sync(settings: Settings, facts: DatabaseFacts, now: datetime) -> Check:
    last, ok = facts.last_run, facts.last_ok
    if last is None:
        return Check("WARN", "last sync", "no sync recorded yet", "start the server (goated serve) or run goated sync --once")
    ok_at = _when(ok["finished_at"]) if ok else None
    if last["status"] in ("failed", "refused"):
        since = f"; last good one {_ago(now - ok_at)}" if ok_at else "; none has succeeded yet"
        return Check(
            "WARN",
            "last sync",
            f"#{last['id']} {last['status']}: {last['error']}{since}",
            "see the upstream line below; goated sync --once retries now",
        )
    if ok_at is not None and (now - ok_at).total_seconds() > 3 * settings.interval + 60:
        return Check(
            "WARN",
            "last sync",
            f"the last good sync was {_ago(now - ok_at)} (syncs every {settings.interval:.0f} s)",
            "is a server running? check its /health (the port line below), or goated sync --once",
        )
    when = f" {_ago(now - ok_at)}" if ok_at else ""
    return Check("OK", "last sync", f"#{last['id']} {last['status']}{when}")


# ---- redis ---------------------------------------------------------------------------


async def _redis(settings: Settings, timeout: float) -> Check:
    if not settings.redis_url:
        return Check("OK", "redis", "not configured: in-process channels (fine for one server process)")
    where = _mask_url(settings.redis_url)
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        await client.ping()
        version = (await client.info("server")).get("redis_version", "?")
    except (RedisError, OSError) as exc:
        return Check("FAIL", "redis", f"unreachable at {where}: {_why(exc)}", "start Redis, or correct REDIS_URL (unset it to run a single process without Redis)")
    finally:
        await client.aclose()
    return Check("OK", "redis", f"reachable at {where} (Redis {version})")


# ---- upstream and its token ----------------------------------------------------------


def _effective_token(settings: Settings, stored: str | None) -> tuple[str | None, str]:
    """The token the server would use: TokenKeeper.load's choice between env and database
    (a stored token is encrypted with TOKEN_KEY and used only when the key opens it)."""
    env = settings.goated_token
    stored = _opened(settings, stored)
    if stored is None:
        return env, "GOATED_TOKEN"
    env_exp, stored_exp = jwt_expiry(env) if env else None, jwt_expiry(stored)
    if env and env_exp and stored_exp and env_exp >= stored_exp:
        return env, "GOATED_TOKEN"
    return stored, "the token an admin set (stored in the database)"


def _opened(settings: Settings, stored: str | None) -> str | None:
    """The stored token in the clear, or None where the server would not use it."""
    if stored is None or not is_sealed(stored):
        return None  # plaintext from an older version: the server seals or deletes it at start
    cipher = TokenCipher.from_setting(settings.token_key)
    if cipher is None:
        return None
    try:
        return cipher.open(stored)
    except InvalidToken:
        return None


async def _upstream(settings: Settings, facts: DatabaseFacts, timeout: float, now: datetime) -> list[Check]:
    if settings.demo:
        return [Check("OK", "upstream", "demo mode: the built-in simulator, no token needed")]
    token, source = _effective_token(settings, facts.stored_token)
    checks: list[Check] = []
    expires = jwt_expiry(token) if token else None
    if expires is None:
        checks.append(Check("OK", "token", f"{source} is set (not a JWT: its expiry is unknown)"))
    elif expires <= now:
        checks.append(Check("FAIL", "token", f"{source} expired at {expires:%Y-%m-%d %H:%M} UTC ({_ago(now - expires)})", ROTATE))
    elif expires - now <= WARN_BEFORE:
        checks.append(Check("WARN", "token", f"{source} expires in {int((expires - now).total_seconds() // 60)} min", ROTATE))
    else:
        checks.append(Check("OK", "token", f"{source} valid until {expires:%Y-%m-%d %H:%M} UTC"))

    from server.upstream.client import GoatedClient

    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as http:
        client = GoatedClient(http, settings.goated_api_url, settings.affiliate_code, token)
        try:
            fetched = await client.fetch()
        except UpstreamAuthError as exc:
            checks.append(Check("FAIL", "upstream", f"{client.url} refused the token: {exc}", ROTATE))
        except UpstreamRateLimited as exc:
            wait = f" for {exc.retry_after:.0f} s" if exc.retry_after else ""
            checks.append(Check("WARN", "upstream", f"{client.url} is rate limiting us{wait}", "nothing, if it passes; the server honours Retry-After"))
        except UpstreamUnavailable as exc:
            checks.append(Check("FAIL", "upstream", f"{client.url}: {exc}", "check GOATED_API_URL and this host's network; the server keeps serving the last board meanwhile"))
        except UpstreamPayloadError as exc:
            checks.append(Check("FAIL", "upstream", f"{client.url} answered, but the data is unusable: {exc}", "check GOATED_AFFILIATE_CODE and GOATED_API_URL"))
        except UpstreamError as exc:
            checks.append(Check("FAIL", "upstream", f"{client.url}: {exc}", "check GOATED_API_URL and GOATED_AFFILIATE_CODE"))
        else:
            checks.append(Check("OK", "upstream", f"{client.url} answered {fetched.status} with {len(fetched.players)} players in {fetched.elapsed * 1000:.0f} ms"))
    return checks


# ---- the rest --------------------------------------------------------------------------


def _admin(settings: Settings) -> Check:
    if not settings.admin_token:
        if settings.demo:
            return Check("OK", "admin", "ADMIN_TOKEN unset: goated serve generates one for each run and prints it with a ready /admin link")
        return Check("WARN", "admin", "ADMIN_TOKEN unset: the admin API is off, so the upstream token can only change with a restart", "set ADMIN_TOKEN to a long random value (openssl rand -hex 32)")
    if len(settings.admin_token) < 16:
        return Check("WARN", "admin", "ADMIN_TOKEN is shorter than 16 characters", "use a long random value (openssl rand -hex 32)")
    return Check("OK", "admin", "ADMIN_TOKEN set")


def _telegram(settings: Settings) -> Check:
    fields = {f: getattr(settings, f) for f in settings.__struct_fields__ if f.startswith("telegram_")}
    token = next((v for f, v in fields.items() if f.endswith("token")), None)
    if not token:
        return Check("OK", "telegram", "off (no bot token set)")
    missing = [f.upper() for f, v in fields.items() if v in (None, "") and f.endswith(("api_id", "api_hash", "token"))]
    if missing:
        return Check("FAIL", "telegram", f"a bot token is set but {', '.join(missing)} is not", "set it (my.telegram.org gives api_id and api_hash), or unset the bot token")
    if not re.fullmatch(r"\d{5,12}:[\w-]{30,}", token):
        return Check("FAIL", "telegram", "the bot token does not look like one from @BotFather (digits:secret)", "copy it again from @BotFather")
    return Check("OK", "telegram", "credentials present (goated bot runs the bot)")


async def _port(settings: Settings, source: str, timeout: float) -> list[Check]:
    host, port = settings.host, settings.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return [Check("FAIL", "port", f"cannot listen on {host}:{port} ({source}): {exc.strerror}", "set HOST to an address of this machine, and PORT")]
        else:
            return [Check("OK", "port", f"{host}:{port} ({source}) is free: no server runs there, goated serve can listen")]
    return await _running_server(settings, source, timeout)


_ELSEWHERE = "if your server runs on another port, run doctor with the same PORT or --port as serve"


async def _running_server(settings: Settings, source: str, timeout: float) -> list[Check]:
    """The port is taken: if a Goated Live server holds it, report what its /health says."""
    host, port = settings.host, settings.port
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    url = f"http://{probe}:{port}/health"
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.get(url)
        report = response.json()
        parts: dict[str, dict[str, Any]] = report["parts"]
        status = report["status"]
    except (httpx.HTTPError, json.JSONDecodeError, KeyError, TypeError) as exc:
        # Whatever answers there is not a Goated Live server: say what it answered, plainly.
        answer = "its /health is not JSON" if isinstance(exc, json.JSONDecodeError) else (
            "its /health is not Goated Live's" if isinstance(exc, KeyError | TypeError) else _why(exc)
        )
        return [Check("FAIL", "port", f"{host}:{port} ({source}) is taken by another program ({answer})", "stop that program, or set PORT to a free port")]
    mode = "demo" if settings.demo else "live"
    if report.get("mode") not in (None, mode):
        return [Check(
            "WARN",
            "port",
            f"{host}:{port} ({source}) is held by a Goated Live server in {report['mode']} mode, not this {mode} configuration: another deployment",
            f"{_ELSEWHERE}; or stop the other one",
        )]
    verdict: Verdict = {"ok": "OK", "degraded": "WARN"}.get(status, "FAIL")  # type: ignore[assignment]
    checks = [Check(verdict, "port", f"a Goated Live server runs on {host}:{port} ({source}): /health says {status}")]
    for name, part in parts.items():
        if part.get("status") not in ("ok", "off"):
            part_verdict: Verdict = "WARN" if part.get("status") == "degraded" else "FAIL"
            checks.append(Check(part_verdict, f"> {name}", part.get("detail") or part.get("status", "?"), "docs/operations.md, 'What /health says'"))
    return checks


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def report(checks: list[Check]) -> tuple[str, int]:
    """The text to print and the exit status (1 if anything failed)."""
    failed = sum(c.verdict == "FAIL" for c in checks)
    warned = sum(c.verdict == "WARN" for c in checks)
    lines = [c.line() for c in checks]
    if failed:
        lines.append(f"doctor: {failed} problem(s) to fix, {warned} warning(s)")
    elif warned:
        lines.append(f"doctor: working, {warned} warning(s)")
    else:
        lines.append("doctor: everything checked is working")
    return "\n".join(lines), 1 if failed else 0
