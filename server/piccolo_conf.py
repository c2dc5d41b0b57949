"""Configuration for the `piccolo` CLI only (generating migrations), read from DATABASE_URL:

    DATABASE_URL=postgresql://... PICCOLO_CONF=server.piccolo_conf piccolo migrations new goated --auto

The app never imports this module: `server.schema.bind_engine` registers an in-memory
equivalent holding the engine it built from its settings.
"""

import os

from piccolo.conf.apps import AppRegistry

from server.db.engine import make_engine

DB = make_engine(os.environ.get("DATABASE_URL", "sqlite:///data/goated.sqlite"))

APP_REGISTRY = AppRegistry(apps=["server.schema"])
