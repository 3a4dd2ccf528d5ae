"""`GET /users/{id}/badges`: the badges a user has earned, first earned first."""

from __future__ import annotations

from aiohttp import web

from services.api.rankings.badges import user_badges
from services.api.visibility import user_visible
from services.api.web.authentication import current_user
from services.api.web.path_params import path_uuid
from shared.errors import not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key


async def list_user_badges(request: web.Request) -> web.Response:
    user_id = path_uuid(request, "user")
    async with request.app[db_pool_key].acquire() as conn:
        if not await user_visible(conn, user_id, current_user(request)):
            raise not_found("user")
        badges = await user_badges(conn, user_id)
    return json_response(badges)
