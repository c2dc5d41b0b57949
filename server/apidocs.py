"""`/schema`: Swagger UI from our own static files (web/vendor/swagger-ui, npm's
swagger-ui-dist) under the pages' Content-Security-Policy, so the API docs need no CDN and
run no inline script; `/schema/openapi.json` is the document it reads."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router
from litestar.datastructures import ResponseHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin

from server.pages import WEB, page_headers


class SwaggerPage(OpenAPIRenderPlugin):
    """web/schema.html; web/js/schema.js starts Swagger UI on /schema/openapi.json."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"])

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return (WEB / "schema.html").read_bytes()


def docs_router(path: str = "/schema") -> Router:
    """Litestar's OpenAPI routes are built on this router: its headers are the pages' own."""
    headers = [ResponseHeader(name=k, value=v) for k, v in page_headers().items()]
    return Router(path, route_handlers=[], include_in_schema=False, response_headers=headers)
