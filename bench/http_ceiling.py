"""The ceiling for the HTTP benchmark: a plain Litestar handler returning a constant body
(read from HTTP_CEILING_BODY) under uvicorn with the same options as `goated serve`."""

from __future__ import annotations

import os
from pathlib import Path

from litestar import Litestar, Response, get

BODY = Path(os.environ.get("HTTP_CEILING_BODY", "/dev/null")).read_bytes()


@get("/api/leaderboard/monthly")
async def constant() -> Response[bytes]:
    return Response(BODY, media_type="application/json")


app = Litestar([constant])
