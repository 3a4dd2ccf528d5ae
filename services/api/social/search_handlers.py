"""`GET /users?query=`: find people by nickname, ranked and paged as search.py says."""

from __future__ import annotations

import unicodedata
from typing import Any

import asyncpg
from aiohttp import web

from services.api.social.search import SearchCursor, search_users
from services.api.web.authentication import current_user
from services.api.web.pagination import limit_param, query_value
from services.api.web.presenters import USER_SUMMARY_COLUMNS
from shared.errors import invalid
from shared.jsonutil import json_response
from shared.keys import db_pool_key

MAX_QUERY_CHARS = 50


def _query_param(request: web.Request) -> str:
    # NFC, as nicknames are stored: `초코` sent decomposed (NFD) finds `초코`.
    text = unicodedata.normalize("NFC", request.query.get("query", "")).strip()
    if not 1 <= len(text) <= MAX_QUERY_CHARS:
        raise invalid("query", f"query must be 1 to {MAX_QUERY_CHARS} characters")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise invalid("query", "query must not contain control characters")
    return text


def _cursor_param(request: web.Request) -> SearchCursor | None:
    text = query_value(request, "before")
    if text is None:
        return None
    try:
        return SearchCursor.decode(text)
    except ValueError:
        raise invalid("before", "before must be a cursor from a previous page") from None


def _item(record: asyncpg.Record) -> dict[str, Any]:
    return {
        **{c: record[c] for c in USER_SUMMARY_COLUMNS},
        "followed_by_me": record["followed_by_me"],
    }


async def find_users(request: web.Request) -> web.Response:
    text = _query_param(request)
    limit = limit_param(request)
    after = _cursor_param(request)
    async with request.app[db_pool_key].acquire() as conn:
        found = await search_users(conn, current_user(request), text, after, limit + 1)
    next_cursor = None
    if len(found) > limit:
        next_cursor = SearchCursor.of(*found[limit - 1]).encode()
    body = {"items": [_item(r) for _, r in found[:limit]], "next_cursor": next_cursor}
    return json_response(body)
