"""The first middleware of every HTTP app: the request's id, and its count and duration.

`X-Request-ID` is taken from the request when it is sane (1 to 128 printable ASCII characters),
else a new one is made; it is set in `request_id_var` for every line logged while serving the
request (and in every task the request starts), kept on the request for the access log, and
returned on the response, errors included.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from shared.logging_setup import request_id_request_key, request_id_var, route_template
from shared.long_lived import is_long_lived
from shared.metrics import HttpMetrics, metrics_key

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[\x20-\x7e]{1,128}")
# What the access log and the metrics say of a request whose client left before its answer.
CLIENT_CLOSED = 499


def request_id_of(header: str | None) -> str:
    if header is not None and _SANE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def request_middleware(http: HttpMetrics) -> Middleware:
    """Put first, so that it sees every answer, the error middleware's too."""

    @web.middleware
    def observe_request(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        request_id = request_id_of(request.headers.get(REQUEST_ID_HEADER))
        request[request_id_request_key] = request_id
        if is_long_lived(request):
            # Its connection serves nothing after it: the id is left set; it counts itself.
            request_id_var.set(request_id)
            return handler(request)
        return _observed(request, handler, http, request_id)

    return observe_request


async def _observed(
    request: web.Request, handler: Handler, http: HttpMetrics, request_id: str
) -> web.StreamResponse:
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = CLIENT_CLOSED
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:  # the client went away before its answer
        raise
    except Exception:
        status = 500
        raise
    finally:
        request_id_var.reset(token)
        http.observe(route_template(request), request.method, status, time.perf_counter() - started)


def observe_itself(request: web.Request, status: int, seconds: float) -> None:
    """What the middleware does for other handlers, for a `long_lived` one when it ends."""
    request.app[metrics_key].http.observe(route_template(request), request.method, status, seconds)


async def send_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: every answer carries the id, streamed ones and errors too. Not a
    WebSocket upgrade (101): the header would stay in memory as long as the socket (~600 bytes
    each, tests/realtime/test_memory.py), and the socket's access-log line has the id anyway."""
    request_id = request.get(request_id_request_key)
    if request_id is not None and response.status != HTTPStatus.SWITCHING_PROTOCOLS:
        response.headers[REQUEST_ID_HEADER] = request_id


def observe_requests(app: web.Application, http: HttpMetrics) -> None:
    """Wire both into `app`, the middleware before every other."""
    app.middlewares.insert(0, request_middleware(http))
    app.on_response_prepare.append(send_request_id)
