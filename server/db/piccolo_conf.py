"""Piccolo's configuration module, used by its migration machinery.

`server.db.engine.bind_engine` replaces `DB` with the engine the app built from its
settings; the `piccolo` CLI (used to generate migrations) reads DATABASE_URL instead.
"""

import os

from piccolo.conf.apps import AppRegistry

from server.db.engine import make_engine

DB = make_engine(os.environ.get("DATABASE_URL", "sqlite:///data/goated.sqlite"))

APP_REGISTRY = AppRegistry(apps=["server.db.piccolo_app"])
