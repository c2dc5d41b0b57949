"""Piccolo app config: our tables and the top-level migrations folder."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from server.db.tables import TABLES

ROOT = Path(__file__).resolve().parents[2]

APP_CONFIG = AppConfig(
    app_name="goated",
    migrations_folder_path=str(ROOT / "piccolo_migrations" / "goated"),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)
