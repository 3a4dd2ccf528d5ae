"""The contract's one error shape, and the middleware that gives every failure that shape.

`{"error": {"code", "message", "details"}}`: handlers raise `ApiError`; pydantic's
`ValidationError` becomes 422 (400 for JSON that does not parse); aiohttp's own HTTP errors
(404 unknown route, 405, 413 body too large) are reshaped; anything else is logged with its
traceback and answered 500 `internal` without one.

A WebSocket handler runs as long as its socket, and a middleware awaiting it keeps its own
frame (~290 bytes) alive as long: such a handler is marked `long_lived` (shared/long_lived.py),
the middleware hands the request straight to it, and it answers its HTTP errors (a plain GET of
its route) with `http_error_response` itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from shared.jsonutil import json_response
from shared.long_lived import is_long_lived

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def unauthorized(message: str = "authentication required") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def invalid(field: str, message: str) -> ApiError:
    """A 422 naming one field, for rules a schema alone cannot express."""
    return ApiError(422, "validation_error", message, [{"field": field, "message": message}])


def error_response(error: ApiError) -> web.Response:
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    return json_response(body, status=error.status, headers=error.headers)


def from_validation_error(exc: ValidationError) -> ApiError:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return ApiError(400, "invalid_json", "request body is not valid JSON")
    details = [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "body",
            "message": e["msg"],
            "type": e["type"],
            # The filter names why it refused ("objectionable"); other rules' context (an email
            # validator's explanation, say) is already in the message.
            **({"reason": e["ctx"]["reason"]} if e["type"] == "objectionable" else {}),
        }
        for e in errors
    ]
    return ApiError(422, "validation_error", "request is not valid", details)


def http_error_response(exc: web.HTTPException) -> web.Response:
    """aiohttp's own HTTP error (>= 400) in the contract's shape."""
    code = _CODES.get(exc.status, "http_error")
    message = exc.reason if exc.status != 413 else "request body is too large"
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    return error_response(ApiError(exc.status, code, message, headers=headers or None))


@web.middleware
def error_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    if is_long_lived(request):
        return handler(request)
    return _answer_errors(request, handler)


async def _answer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except ValidationError as exc:
        return error_response(from_validation_error(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return http_error_response(exc)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(ApiError(500, "internal", "internal server error"))
