"""The database schema: every feature's tables, Piccolo's app config (with the top-level
migrations folder), and applying migrations to an engine. App-level: it gathers the
features' tables, so nothing below the app imports it."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import types
from pathlib import Path

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import AppConfig, AppRegistry
from piccolo.engine.base import Engine
from piccolo.table import Table

from server.db.tables import AppState, HistoryPoint, PlayerRow, SyncRun
from server.races.tables import RACE_TABLES
from server.telegram.tables import TELEGRAM_TABLES

log = logging.getLogger(__name__)

TABLES: tuple[type[Table], ...] = (PlayerRow, SyncRun, HistoryPoint, AppState, *RACE_TABLES, *TELEGRAM_TABLES)

ROOT = Path(__file__).resolve().parents[1]

APP_CONFIG = AppConfig(
    app_name="goated",
    migrations_folder_path=str(ROOT / "piccolo_migrations" / "goated"),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)

RUNTIME_CONF = "goated_live_runtime_piccolo_conf"


def bind_engine(engine: Engine) -> None:
    """Point every table, Piccolo's own migration table and its config at `engine`.

    Piccolo's migration machinery looks the engine up through the module named by
    PICCOLO_CONF; the app registers one in memory rather than importing
    server/piccolo_conf.py (which is for the `piccolo` CLI and reads DATABASE_URL).
    """
    for table in (*TABLES, Migration):
        table._meta.db = engine
    conf = types.ModuleType(RUNTIME_CONF)
    conf.DB = engine  # type: ignore[attr-defined]
    conf.APP_REGISTRY = AppRegistry(apps=["server.schema"])  # type: ignore[attr-defined]
    sys.modules[RUNTIME_CONF] = conf
    os.environ["PICCOLO_CONF"] = RUNTIME_CONF


async def migrate(engine: Engine) -> None:
    """Apply every pending migration (idempotent)."""
    bind_engine(engine)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # Piccolo prints; we log one line instead
        result = await run_forwards(app_name="goated", migration_id="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}\n{printed.getvalue()}")
    ran = [line.strip(" -") for line in printed.getvalue().splitlines() if "[forwards]" in line]
    if ran:
        log.info("applied %d migration(s): %s", len(ran), ", ".join(r.split(" [")[0] for r in ran))


