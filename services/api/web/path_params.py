"""Ids taken from the URL path.

A malformed id names nothing that exists, so it is a 404 like an unknown one (never a 500 from
the database rejecting it as a uuid).
"""

from __future__ import annotations

import uuid

from aiohttp import web

from shared.errors import not_found


def path_uuid(request: web.Request, what: str, name: str = "id") -> uuid.UUID:
    """The uuid in `{name}` of the matched route, or 404 `what not found`."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise not_found(what) from None
