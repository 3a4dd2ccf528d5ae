"""One JSON encoder for every response and Redis message.

orjson is several times faster than the standard library, and we make it write every datetime
with microseconds and a UTC offset, so a time the server returned is an exact `since` for the
next poll (orjson alone drops ".000000").
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from aiohttp import web

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps_bytes(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def dumps(value: Any) -> str:
    """The `dumps` aiohttp's `json_response` expects (it must return str)."""
    return dumps_bytes(value).decode()


loads = orjson.loads


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """`web.json_response` with our encoder: every JSON answer of both services."""
    return web.json_response(body, status=status, headers=headers, dumps=dumps)
