"""Handlers that run as long as their socket, which no middleware may wrap.

A middleware awaiting a WebSocket handler keeps its coroutine frame alive as long as the
socket: the error middleware's ~290 bytes, the request middleware's ~470 (tests/realtime/
test_memory.py). Such a handler is marked `long_lived`; each middleware hands its request
straight on, and the handler does itself what they would have: it answers its HTTP errors
with `shared.errors.http_error_response` and counts itself in the request metrics with
`shared.request_id.observe_itself`.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

_MARK = "__long_lived__"


def long_lived(handler: Handler) -> Handler:
    setattr(handler, _MARK, True)
    return handler


def is_long_lived(request: web.Request) -> bool:
    return getattr(request.match_info.handler, _MARK, False)
