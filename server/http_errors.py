"""Errors as HTTP: the exception handlers, and the OpenAPI description of what they send."""

from __future__ import annotations

from litestar import Request, Response
from litestar.constants import RESERVED_KWARGS
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute

from server.admin import DISABLED, admin_guard
from server.errors import ErrorBody, GoatedError

__all__ = ["EXCEPTION_HANDLERS", "ErrorResponses"]


def goated_error_handler(_: Request, exc: GoatedError) -> Response[ErrorBody]:
    return Response(ErrorBody(error=str(exc), status_code=exc.status_code), status_code=exc.status_code)


def http_error_handler(_: Request, exc: HTTPException) -> Response[ErrorBody]:
    body = ErrorBody(error=exc.detail, status_code=exc.status_code, details=getattr(exc, "extra", None) or None)
    return Response(body, status_code=exc.status_code, headers=exc.headers)


EXCEPTION_HANDLERS = {GoatedError: goated_error_handler, HTTPException: http_error_handler}

_BODY_KWARGS = {"data", "body"}


class ErrorResponses(ReceiveRoutePlugin):
    """Documents each operation's error answers with ErrorBody, the type the handlers above send.

    Litestar would describe its own `{status_code, detail, extra}` for the 400s; these
    replace it, so the document and the wire cannot drift apart.
    """

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            documented = {code: _spec(text) for code, text in _errors(route, handler).items()}
            handler.responses = documented | dict(handler.responses or {})


def _errors(route: HTTPRoute, handler: HTTPRouteHandler) -> dict[int, str]:
    params = set(handler.parsed_fn_signature.parameters)
    errors: dict[int, str] = {}
    if route.path_parameters or params - RESERVED_KWARGS or params & _BODY_KWARGS:
        errors[400] = "A parameter or the body is malformed or out of range; `details` names the refused fields"
    if route.path_parameters:
        errors[404] = "Nothing with that id"
    if any(admin_guard in (layer.guards or ()) for layer in handler.ownership_layers):
        errors[401] = "The admin token is missing or wrong: send Authorization: Bearer <ADMIN_TOKEN>"
        errors[503] = DISABLED[0].upper() + DISABLED[1:]
    return errors


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(ErrorBody, description=description, generate_examples=False)
