from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T03:09:22:541116"
VERSION = "1.38.0"
DESCRIPTION = "telegram_outbox: expires_at, expired_at"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="goated", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="OutboxRow",
        tablename="telegram_outbox",
        column_name="expired_at",
        db_column_name="expired_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="OutboxRow",
        tablename="telegram_outbox",
        column_name="expires_at",
        db_column_name="expires_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
