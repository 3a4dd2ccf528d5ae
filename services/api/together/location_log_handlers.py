"""`GET /me/location-log`: a page of the caller's location-access ledger (location_log.py)."""

from __future__ import annotations

from aiohttp import web

from services.api.together.location_log import entry_json, list_location_log
from services.api.web.authentication import current_user
from services.api.web.pagination import page_of, page_params
from shared.jsonutil import json_response
from shared.keys import db_pool_key


async def get_location_log(request: web.Request) -> web.Response:
    page = page_params(request)
    async with request.app[db_pool_key].acquire() as conn:
        records = await list_location_log(conn, current_user(request), page)
    items = [entry_json(r) for r in records]
    return json_response(page_of(records, page, items, "first_at"))
