"""`/static`: the pages' scripts, styles, images and vendored libraries, never the pages
themselves (each is served at its route, under its policy). A path that is not a plain
relative name is a 404 that names nothing on disk."""

from __future__ import annotations

import re
from pathlib import Path, PurePath

from litestar import Router, get, head
from litestar.exceptions import NotFoundException
from litestar.file_system import BaseLocalFileSystem
from litestar.params import FromPath
from litestar.response.file import ASGIFileResponse
from litestar.static_files.base import StaticFiles

from server.errors import NotFound

# One path segment: letters, digits, '-', '_' and '.', not starting with a dot (so no '..',
# no hidden files), nothing that needs escaping in a URL, a log line or a file system.
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
_MAX_DEPTH = 6
# HTML documents get their policies from their routes (server/pages.py); here they are not
# found, so /static/admin.html can never be framed or run without the admin page's headers.
_PAGES = (".html", ".htm", ".xhtml")
# A document opened from here directly (an SVG, say) runs no script and cannot be framed;
# as a subresource of a page the header has no effect.
STATIC_CSP = "default-src 'none'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; sandbox"
NO_SUCH_FILE = "no such file under /static"


def static_name(raw: str) -> str | None:
    """`raw` as a relative path under web/, or None when it is anything else."""
    parts = raw.strip("/").split("/")
    if len(parts) > _MAX_DEPTH or not all(_SEGMENT.fullmatch(p) for p in parts):
        return None
    if parts[-1].lower().endswith(_PAGES):
        return None
    return "/".join(parts)


def create_static_router(web: Path) -> Router:
    files = StaticFiles(
        is_html_mode=False,
        directories=[web],
        file_system=BaseLocalFileSystem(),
        headers={"Content-Security-Policy": STATIC_CSP, "X-Frame-Options": "DENY"},
    )

    async def serve(file_path: PurePath, *, is_head: bool) -> ASGIFileResponse:
        name = static_name(file_path.as_posix())
        if name is None:
            raise NotFound(NO_SUCH_FILE)
        try:
            return await files.handle(path=name, is_head_response=is_head)
        except NotFoundException:  # its message carries the absolute path on disk
            raise NotFound(NO_SUCH_FILE) from None

    @get("/{file_path:path}", name="static")
    async def get_file(file_path: FromPath[PurePath]) -> ASGIFileResponse:
        return await serve(file_path, is_head=False)

    @head("/{file_path:path}", name="static/head")
    async def head_file(file_path: FromPath[PurePath]) -> ASGIFileResponse:
        return await serve(file_path, is_head=True)

    return Router("/static", route_handlers=[get_file, head_file], include_in_schema=False)
